// Training and evaluation of HIPT_LGP_FC on bags of region features, by the reference's recipe
// (shared/reference/hipt-model.md §6.4 subtyping, §6.5 survival): Adam with coupled L2 weight
// decay, one bag per forward, class-balanced sampling with replacement, dropout, the loss divided
// by gc with an optimizer step every bag (subtyping) or every gc bags (survival), the last-epoch
// model evaluated unless early stopping keeps the one with the lowest validation loss.
//
// With the ViT-4K frozen (the default) a bag's input is its region features [M, 192], read from
// the feature files when they were made with the model's ViT-4K and otherwise computed once
// from patch_features; with finetune_vit4k the ViT-4K runs on patch_features [M, 256, 384] at
// every step and trains with the rest.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hipt/models/slide_model.h"
#include "hipt/train/slide_data.h"
#include "nn/optim.h"

namespace hipt::train {

struct SlideTrainOptions {
  SlideTask task = SlideTask::kSubtype;
  int64_t epochs = 20;
  double lr = 2e-4, weight_decay = 1e-5;
  double alpha = 0;  // survival loss: weight of the uncensored term
  int64_t gc = 32;   // the loss is divided by gc; survival steps every gc bags
  double dropout = 0.25;
  bool finetune_vit4k = false;
  bool early_stopping = false;  // keep the lowest validation loss; stop after `patience` epochs without one
  int64_t patience = 20;
  bool weighted_sampling = true;  // class-balanced draws with replacement; false: each bag once, shuffled
  uint64_t seed = 1;
};

// HIPT_LGP_FC with n_outputs classes (or survival bins), the ViT-4K loaded from `vit4k_path`
// (hipt/models/checkpoint.h rules; "" keeps its random initialisation) and frozen unless
// options.finetune_vit4k.
std::unique_ptr<HiptLgpFc> make_slide_model(int64_t n_outputs, const SlideTrainOptions& options,
                                            const std::string& vit4k_path);

// Adam (coupled L2) over the parameters that train.
std::unique_ptr<nn::Adam> make_slide_optimizer(const HiptLgpFc& model, const SlideTrainOptions& options);

// The model's input for a bag: region features (frozen; computed once and kept in the bag when the
// files' ViT-4K differs) or patch features (fine-tuning).
Tensor bag_input(const HiptLgpFc& model, Bag& bag, bool finetune_vit4k);

// Forward of one input (region features [M, 192] or patch features [M, 256, 384]), moved to the
// model's device.
SlideOutput slide_forward(const HiptLgpFc& model, const Tensor& input);

// The unscaled loss of one bag: cross-entropy on `label`, or the NLL survival loss on bin `label`
// with `censored`. Scalar [].
Tensor slide_loss(const SlideOutput& out, SlideTask task, int64_t label, bool censored, double alpha);

// What the model says about one bag.
struct BagPrediction {
  std::vector<double> probs;     // subtype: class probabilities; survival: hazards per bin
  std::vector<double> survival;  // survival: S per bin
  double risk = 0;               // survival: -sum S
  int64_t y_hat = 0;             // argmax of the logits
  std::vector<float> attention;  // over the bag's regions, summing to 1
  double loss = 0;               // when labelled
};

BagPrediction predict_bag(const HiptLgpFc& model, Bag& bag, SlideTask task, bool finetune_vit4k,
                          const CaseLabel* label = nullptr, double alpha = 0);

// Metrics of predictions on labelled bags: subtype: auc, accuracy, balanced_accuracy, loss;
// survival: c_index, loss. Plus "bags".
std::map<std::string, double> slide_metrics(const std::vector<BagPrediction>& preds,
                                            const std::vector<const Bag*>& bags, const LabelSet& labels);

struct FoldData {
  std::vector<Bag*> train, val, test;
};

// Progress of training: the epoch (1-based) and the bags done of it.
using EpochCallback = std::function<void(int64_t epoch, int64_t done, int64_t total)>;

struct TrainSummary {
  int64_t epochs_run = 0;
  int64_t best_epoch = 0;                    // the epoch whose model is kept (the last without early stopping)
  std::vector<double> train_loss, val_loss;  // per epoch (val_loss empty without validation bags)
};

// Trains `model` on data.train as options say; evaluates nothing on the test bags.
TrainSummary train_slide_model(HiptLgpFc& model, const LabelSet& labels, FoldData& data,
                               const SlideTrainOptions& options, const EpochCallback& progress = {});

}  // namespace hipt::train
