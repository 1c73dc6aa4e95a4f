#include "hipt/train/slide_trainer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "autograd/nn_functions.h"
#include "hipt/models/checkpoint.h"
#include "hipt/train/metrics.h"

namespace hipt::train {

std::unique_ptr<HiptLgpFc> make_slide_model(int64_t n_outputs, const SlideTrainOptions& options,
                                            const std::string& vit4k_path) {
  SlideModelConfig c;
  c.n_classes = n_outputs;
  c.dropout = options.dropout;
  c.seed = options.seed;
  c.init_local_vit = vit4k_path.empty();
  auto model = std::make_unique<HiptLgpFc>(c);
  if (!vit4k_path.empty()) load_backbone(*model->local_vit, vit4k_path);
  if (!options.finetune_vit4k)
    for (auto& p : model->local_vit->named_parameters()) p.tensor.requires_grad_(false);
  return model;
}

std::unique_ptr<nn::Adam> make_slide_optimizer(const HiptLgpFc& model, const SlideTrainOptions& options) {
  std::vector<Tensor> params;
  for (const auto& p : model.named_parameters())
    if (p.tensor.requires_grad()) params.push_back(p.tensor);
  nn::AdamOptions o;
  o.lr = options.lr;
  o.weight_decay = options.weight_decay;
  return std::make_unique<nn::Adam>(params, o);
}

Tensor bag_input(const HiptLgpFc& model, Bag& bag, bool finetune_vit4k) {
  if (finetune_vit4k) return bag.patch_features();
  if (!bag.region_features.defined()) {
    NoGradGuard no_grad;
    const Tensor x = bag.patch_features().to(model.classifier->weight.device());
    bag.region_features = model.region_features(x).detach().to(Device{});
  }
  return bag.region_features;
}

SlideOutput slide_forward(const HiptLgpFc& model, const Tensor& input) {
  const Tensor x = input.to(model.classifier->weight.device());
  return x.dim() == 3 ? model.forward(x) : model.HiptGlobalModel::forward(x);
}

Tensor slide_loss(const SlideOutput& out, SlideTask task, int64_t label, bool censored, double alpha) {
  const Device dev = out.logits.device();
  const Tensor y = ops::from_vector<int64_t>({label}, {1}).to(dev);
  if (task == SlideTask::kSubtype) return cross_entropy(out.logits, y);
  SurvivalOutput s = survival_head(out.logits);
  return nll_survival_loss(s.hazards, s.survival, y, ops::from_vector<float>({censored ? 1.f : 0.f}, {1}).to(dev),
                           alpha);
}

BagPrediction predict_bag(const HiptLgpFc& model, Bag& bag, SlideTask task, bool finetune_vit4k, const CaseLabel* label,
                          double alpha) {
  NoGradGuard no_grad;
  SlideOutput out = slide_forward(model, bag_input(model, bag, finetune_vit4k));
  BagPrediction p;
  p.y_hat = ops::to_vector<int64_t>(out.y_hat)[0];
  p.attention = ops::to_vector<float>(out.attention);
  if (task == SlideTask::kSubtype) {
    p.probs = ops::to_vector<double>(out.probs);
  } else {
    SurvivalOutput s = survival_head(out.logits);
    p.probs = ops::to_vector<double>(s.hazards);
    p.survival = ops::to_vector<double>(s.survival);
    p.risk = s.risk.item();
  }
  if (label) p.loss = slide_loss(out, task, label->label, label->censored, alpha).item();
  return p;
}

std::map<std::string, double> slide_metrics(const std::vector<BagPrediction>& preds,
                                            const std::vector<const Bag*>& bags, const LabelSet& labels) {
  std::map<std::string, double> m;
  m["bags"] = static_cast<double>(preds.size());
  double loss = 0;
  for (const auto& p : preds) loss += p.loss;
  m["loss"] = preds.empty() ? std::numeric_limits<double>::quiet_NaN() : loss / static_cast<double>(preds.size());
  if (labels.task == SlideTask::kSubtype) {
    std::vector<int64_t> y, y_hat;
    std::vector<std::vector<double>> probs;
    for (size_t i = 0; i < preds.size(); ++i) {
      y.push_back(labels.cases[bags[i]->case_index].label);
      y_hat.push_back(preds[i].y_hat);
      probs.push_back(preds[i].probs);
    }
    m["auc"] = roc_auc(y, probs);
    m["accuracy"] = accuracy(y, y_hat);
    m["balanced_accuracy"] = balanced_accuracy(y, y_hat);
  } else {
    std::vector<bool> event;
    std::vector<double> time, risk;
    for (size_t i = 0; i < preds.size(); ++i) {
      const CaseLabel& c = labels.cases[bags[i]->case_index];
      event.push_back(!c.censored);
      time.push_back(c.time);
      risk.push_back(preds[i].risk);
    }
    m["c_index"] = concordance_index(event, time, risk);
  }
  return m;
}

namespace {

// The bags of one epoch: class-balanced draws with replacement (weight N / N_stratum, N draws),
// as the reference's WeightedRandomSampler, or a shuffled pass.
std::vector<size_t> epoch_order(const LabelSet& labels, const std::vector<Bag*>& bags, bool weighted,
                                std::mt19937_64& gen) {
  std::vector<size_t> order(bags.size());
  std::iota(order.begin(), order.end(), 0);
  if (!weighted) {
    std::shuffle(order.begin(), order.end(), gen);
    return order;
  }
  std::map<int64_t, double> count;
  for (const Bag* b : bags) count[labels.stratum(b->case_index)] += 1;
  std::vector<double> w;
  for (const Bag* b : bags) w.push_back(static_cast<double>(bags.size()) / count[labels.stratum(b->case_index)]);
  std::discrete_distribution<size_t> dist(w.begin(), w.end());
  for (size_t& i : order) i = dist(gen);
  return order;
}

double mean_loss(HiptLgpFc& model, const LabelSet& labels, const std::vector<Bag*>& bags, const SlideTrainOptions& o) {
  model.eval();
  double sum = 0;
  for (Bag* b : bags)
    sum += predict_bag(model, *b, o.task, o.finetune_vit4k, &labels.cases[b->case_index], o.alpha).loss;
  return sum / static_cast<double>(bags.size());
}

}  // namespace

TrainSummary train_slide_model(HiptLgpFc& model, const LabelSet& labels, FoldData& data, const SlideTrainOptions& o,
                               const EpochCallback& progress) {
  HIPT_CHECK(!data.train.empty(), "train-slide: the training split has no bags");
  HIPT_CHECK(o.gc >= 1 && o.epochs >= 1, "train-slide: gc {} and epochs {} must be positive", o.gc, o.epochs);
  auto optimizer = make_slide_optimizer(model, o);
  std::mt19937_64 gen(o.seed);
  TrainSummary summary;
  double best = std::numeric_limits<double>::infinity();
  nn::TensorMap best_state;
  int64_t since_best = 0;
  const bool step_every_bag = o.task == SlideTask::kSubtype;
  optimizer->zero_grad();
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    model.train();
    const std::vector<size_t> order = epoch_order(labels, data.train, o.weighted_sampling, gen);
    double total = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      Bag& bag = *data.train[order[i]];
      const CaseLabel& c = labels.cases[bag.case_index];
      SlideOutput out = slide_forward(model, bag_input(model, bag, o.finetune_vit4k));
      Tensor loss = slide_loss(out, o.task, c.label, c.censored, o.alpha);
      total += loss.item();
      backward(mul(loss, 1.0 / static_cast<double>(o.gc)));
      if (step_every_bag || (i + 1) % static_cast<size_t>(o.gc) == 0) {
        optimizer->step();
        optimizer->zero_grad();
      }
      if (progress) progress(epoch, static_cast<int64_t>(i + 1), static_cast<int64_t>(order.size()));
    }
    summary.train_loss.push_back(total / static_cast<double>(order.size()));
    summary.epochs_run = epoch;
    summary.best_epoch = epoch;
    if (!data.val.empty()) summary.val_loss.push_back(mean_loss(model, labels, data.val, o));
    if (o.early_stopping && !data.val.empty()) {
      if (summary.val_loss.back() < best) {
        best = summary.val_loss.back();
        best_state.clear();
        for (const auto& [name, t] : model.state_dict()) best_state[name] = ops::clone(t);
        since_best = 0;
        summary.best_epoch = epoch;
      } else if (++since_best >= o.patience) {
        break;
      }
    }
  }
  if (o.early_stopping && !best_state.empty()) {
    model.load_state_dict(best_state, "best epoch");
    summary.best_epoch = static_cast<int64_t>(std::min_element(summary.val_loss.begin(), summary.val_loss.end()) -
                                              summary.val_loss.begin() + 1);
  }
  model.eval();
  return summary;
}

}  // namespace hipt::train
