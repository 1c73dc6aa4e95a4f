// DINO self-distillation (Caron et al. 2021), as HIPT pretrains its two ViTs: a projection head,
// the cross-view loss with a centred, sharpened teacher, the teacher as an exponential moving
// average of the student, and one optimisation step with DINO's schedules.
//
//   DinoModel student(backbone, head), teacher(...);   // teacher: a copy of the student
//   DinoLoss loss(out_dim, ncrops, options);           // holds the center
//   DinoTraining run(student, teacher, loss, options, iters_per_epoch);
//   for (it ...) run.step(crops, it);                   // crops: globals first, then locals
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "hipt/models/vit.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "tensor/collectives.h"

namespace hipt::train {

struct DinoHeadConfig {
  int64_t in_dim = 384;
  int64_t out_dim = 65536;
  int64_t hidden_dim = 2048;
  int64_t bottleneck_dim = 256;
  bool norm_last_layer = true;  // the last layer's lengths (weight_g) fixed at 1 and not trained
};

// x / max(‖x‖₂, eps) over the last dim (F.normalize), composed of differentiable ops.
Tensor l2_normalize(const Tensor& x, double eps = 1e-12);

// Linear(in, hidden) -> GELU -> Linear(hidden, hidden) -> GELU -> Linear(hidden, bottleneck) ->
// L2 normalisation -> weight-normalised Linear(bottleneck, out_dim) without bias. Parameter names
// as the reference: mlp.0.*, mlp.2.*, mlp.4.*, last_layer.weight_g, last_layer.weight_v. Init:
// the MLP's weights trunc-normal (std 0.02), biases 0; the last layer as a Linear, weight_g = 1.
class DinoHead : public nn::Module {
 public:
  DinoHead(const DinoHeadConfig& config, Generator& gen, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;  // [N, in_dim] -> [N, out_dim]

  std::shared_ptr<nn::Linear> fc0, fc2, fc4;  // registered as mlp.0, mlp.2, mlp.4
  std::shared_ptr<nn::WeightNormLinear> last_layer;
};

// DINO's MultiCropWrapper: the backbone on each run of consecutive crops of one size (the globals
// together, then the locals together), the [CLS] outputs concatenated in crop order, then the head.
// Parameters: "backbone.<...>", "head.<...>".
class DinoModel : public nn::Module {
 public:
  DinoModel(std::shared_ptr<VisionTransformer> backbone, std::shared_ptr<DinoHead> head);
  DinoModel(std::shared_ptr<VisionTransformer4K> backbone, std::shared_ptr<DinoHead> head);
  // crops: each [B, C, H, W] with the same B -> [crops·B, out_dim].
  Tensor forward(const std::vector<Tensor>& crops) const;

  // The backbone's dropout / drop-path stream, saved with a training state to resume it.
  Generator& dropout_generator() const { return *dropout_gen_; }

  std::shared_ptr<nn::Module> backbone;
  std::shared_ptr<DinoHead> head;

 private:
  std::function<Tensor(const Tensor&)> backbone_forward_;
  std::shared_ptr<Generator> dropout_gen_;
};

struct DinoLossOptions {
  double student_temp = 0.1;
  double warmup_teacher_temp = 0.04, teacher_temp = 0.04;  // linear over the warm-up epochs, then constant
  int64_t warmup_teacher_temp_epochs = 0;
  double center_momentum = 0.9;
  int64_t global_crops = 2;  // the teacher's views, the first crops of the student's
};

// The loss and its center (a buffer "center" [1, out_dim], zeros at start).
class DinoLoss : public nn::Module {
 public:
  DinoLoss(int64_t out_dim, int64_t ncrops, const DinoLossOptions& options = {});
  // student [ncrops·B, out], teacher [global_crops·B, out] -> mean over every (teacher view i,
  // student view v != i) pair of the batch-mean cross-entropy between softmax((t - center)/τ(epoch))
  // (no gradient) and log_softmax(s / student_temp). Then updates the center:
  // center = m·center + (1 - m)·mean over the global batch of the teacher outputs; with `comm`,
  // the sums and counts of every rank (an all-reduce).
  Tensor forward(const Tensor& student_output, const Tensor& teacher_output, int64_t epoch,
                 Communicator* comm = nullptr);
  // The two halves of forward: the loss alone, and the center update from the sum of teacher
  // outputs over `count` rows (both all-reduced over `comm` when given).
  Tensor loss(const Tensor& student_output, const Tensor& teacher_output, int64_t epoch) const;
  void update_center(const Tensor& teacher_sum, int64_t count, Communicator* comm = nullptr);
  double teacher_temp(int64_t epoch) const;  // the schedule; epochs past the warm-up give teacher_temp

  Tensor center;
  int64_t ncrops;
  DinoLossOptions options;
};

// teacher = m·teacher + (1 - m)·student over every parameter in order (the two must be built alike).
void ema_update(const nn::Module& teacher, const nn::Module& student, double momentum);

struct DinoOptions {
  int64_t epochs = 100;
  double lr = 0.0005;  // already scaled (DINO: 0.0005 · global batch / 256)
  double min_lr = 1e-6;
  int64_t warmup_epochs = 10;
  double weight_decay = 0.04, weight_decay_end = 0.4;
  double momentum_teacher = 0.996;  // cosine to 1
  double clip_grad = 3.0;           // per tensor; 0 turns clipping off
  int64_t freeze_last_layer = 1;    // epochs during which the head's last layer gets no update
  double adam_eps = 1e-8;
  DinoLossOptions loss;
};

struct DinoStepStats {
  double loss = 0, lr = 0, weight_decay = 0, momentum = 0, teacher_temp = 0;
};

// The training state: the AdamW optimizer over the student with DINO's groups (weights decay;
// biases and 1-D parameters do not), the lr / weight-decay / momentum schedules per iteration,
// and the step. The teacher's parameters are frozen on construction.
class DinoTraining {
 public:
  DinoTraining(DinoModel& student, DinoModel& teacher, DinoLoss& loss, const DinoOptions& options,
               int64_t iters_per_epoch);
  // One iteration `it` (0-based; epoch = it / iters_per_epoch): schedules, teacher on the global
  // crops, student on all, loss, backward, per-tensor clipping, last layer's gradients dropped
  // before epoch freeze_last_layer, AdamW, teacher EMA, center update.
  DinoStepStats step(const std::vector<Tensor>& crops, int64_t it, Communicator* comm = nullptr);
  // The same step over a batch given in parts (gradient accumulation): each part's loss, divided
  // by the number of parts, is backpropagated in turn, the center is updated once from every
  // part's teacher outputs, then clipping, AdamW and the EMA run once. The reported loss is the
  // parts' mean. Equal parts make this the step over the whole batch, up to rounding.
  DinoStepStats step(const std::vector<std::vector<Tensor>>& parts, int64_t it, Communicator* comm = nullptr);

  nn::AdamW& optimizer() { return *optimizer_; }
  int64_t iters_per_epoch() const { return iters_per_epoch_; }
  int64_t total_iters() const { return options_.epochs * iters_per_epoch_; }

 private:
  DinoModel& student_;
  DinoModel& teacher_;
  DinoLoss& loss_;
  DinoOptions options_;
  int64_t iters_per_epoch_;
  std::unique_ptr<nn::AdamW> optimizer_;
  nn::Schedule lr_, wd_, momentum_;
};

}  // namespace hipt::train
