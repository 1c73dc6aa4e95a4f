#include "hipt/train/dino.h"

#include <cmath>

#include "autograd/nn_functions.h"
#include "nn/clip.h"
#include "tensor/error.h"
#include "tensor/random.h"

namespace hipt::train {

Tensor l2_normalize(const Tensor& x, double eps) {
  Tensor norm = sqrt(sum(mul(x, x), -1, /*keepdim=*/true));
  return div(x, maximum(norm, ops::scalar(eps, x.dtype()).to(x.device())));
}

namespace {

// The head's MLP as a module of its own, so that its layers are named mlp.0, mlp.2, mlp.4 (the
// reference's nn.Sequential, whose GELUs at 1 and 3 hold no parameters).
class HeadMlp : public nn::Module {
 public:
  HeadMlp(const DinoHeadConfig& c, Generator& gen, DType dtype) {
    fc0 = register_module("0", std::make_shared<nn::Linear>(c.in_dim, c.hidden_dim, true, gen, dtype));
    fc2 = register_module("2", std::make_shared<nn::Linear>(c.hidden_dim, c.hidden_dim, true, gen, dtype));
    fc4 = register_module("4", std::make_shared<nn::Linear>(c.hidden_dim, c.bottleneck_dim, true, gen, dtype));
    for (const auto& fc : {fc0, fc2, fc4}) {
      ops::copy_(fc->weight, ops::trunc_normal(fc->weight.shape(), 0, 0.02, -2, 2, gen, nn::init_dtype(dtype)));
      ops::fill_(fc->bias, 0);
    }
  }
  std::shared_ptr<nn::Linear> fc0, fc2, fc4;
};

}  // namespace

DinoHead::DinoHead(const DinoHeadConfig& config, Generator& gen, DType dtype) {
  HIPT_CHECK(config.in_dim > 0 && config.out_dim > 0 && config.hidden_dim > 0 && config.bottleneck_dim > 0,
             "DinoHead: sizes must be positive (in {}, hidden {}, bottleneck {}, out {})", config.in_dim,
             config.hidden_dim, config.bottleneck_dim, config.out_dim);
  auto mlp = register_module("mlp", std::make_shared<HeadMlp>(config, gen, dtype));
  fc0 = mlp->fc0;
  fc2 = mlp->fc2;
  fc4 = mlp->fc4;
  last_layer = register_module(
      "last_layer", std::make_shared<nn::WeightNormLinear>(config.bottleneck_dim, config.out_dim, false, gen, dtype));
  ops::fill_(last_layer->weight_g, 1);
  if (config.norm_last_layer) last_layer->freeze_g();
}

Tensor DinoHead::forward(const Tensor& x) const {
  Tensor h = gelu(fc0->forward(x));
  h = gelu(fc2->forward(h));
  h = fc4->forward(h);
  return last_layer->forward(l2_normalize(h));
}

DinoModel::DinoModel(std::shared_ptr<VisionTransformer> backbone_, std::shared_ptr<DinoHead> head_) {
  VisionTransformer* b = backbone_.get();
  backbone_forward_ = [b](const Tensor& x) { return b->forward(x); };
  dropout_gen_ = b->dropout_generator();
  backbone = register_module("backbone", std::move(backbone_));
  head = register_module("head", std::move(head_));
}

DinoModel::DinoModel(std::shared_ptr<VisionTransformer4K> backbone_, std::shared_ptr<DinoHead> head_) {
  VisionTransformer4K* b = backbone_.get();
  backbone_forward_ = [b](const Tensor& x) { return b->forward(x); };
  dropout_gen_ = b->dropout_generator();
  backbone = register_module("backbone", std::move(backbone_));
  head = register_module("head", std::move(head_));
}

Tensor DinoModel::forward(const std::vector<Tensor>& crops) const {
  HIPT_CHECK(!crops.empty(), "DINO: no crops");
  std::vector<Tensor> outputs;
  size_t start = 0;
  while (start < crops.size()) {
    size_t end = start;
    while (end < crops.size() && crops[end].size(-1) == crops[start].size(-1)) ++end;
    std::vector<Tensor> group(crops.begin() + static_cast<std::ptrdiff_t>(start),
                              crops.begin() + static_cast<std::ptrdiff_t>(end));
    outputs.push_back(backbone_forward_(group.size() == 1 ? group[0] : cat(group, 0)));
    start = end;
  }
  return head->forward(outputs.size() == 1 ? outputs[0] : cat(outputs, 0));
}

DinoLoss::DinoLoss(int64_t out_dim, int64_t ncrops_, const DinoLossOptions& options_)
    : ncrops(ncrops_), options(options_) {
  HIPT_CHECK(options.global_crops >= 1 && ncrops > options.global_crops - 1 && ncrops >= 2,
             "DinoLoss: {} crops with {} global ones leave no pair of views", ncrops, options.global_crops);
  center = register_buffer("center", ops::zeros({1, out_dim}));
}

double DinoLoss::teacher_temp(int64_t epoch) const {
  const int64_t W = options.warmup_teacher_temp_epochs;
  if (epoch >= W) return options.teacher_temp;
  if (W == 1) return options.warmup_teacher_temp;
  // numpy's linspace(warmup, final, W)[epoch]: start + step·i, the last one exactly final
  const double step = (options.teacher_temp - options.warmup_teacher_temp) / static_cast<double>(W - 1);
  return options.warmup_teacher_temp + step * static_cast<double>(epoch);
}

Tensor DinoLoss::loss(const Tensor& student_output, const Tensor& teacher_output, int64_t epoch) const {
  const int64_t G = options.global_crops;
  HIPT_CHECK(
      student_output.dim() == 2 && student_output.size(0) % ncrops == 0 && student_output.size(1) == center.size(1),
      "DinoLoss: student output {} is not [{}·B, {}]", student_output.shape().str(), ncrops, center.size(1));
  const int64_t B = student_output.size(0) / ncrops;
  HIPT_CHECK(teacher_output.shape() == Shape({G * B, center.size(1)}), "DinoLoss: teacher output {} is not [{}, {}]",
             teacher_output.shape().str(), G * B, center.size(1));
  Tensor s = mul(student_output, 1.0 / options.student_temp);
  Tensor q;
  {
    NoGradGuard no_grad;
    q = softmax(mul(sub(teacher_output.detach(), center), 1.0 / teacher_temp(epoch)), -1);
  }
  Tensor total;
  int64_t n = 0;
  for (int64_t i = 0; i < G; ++i) {
    Tensor qi = slice(q, 0, i * B, (i + 1) * B);
    for (int64_t v = 0; v < ncrops; ++v) {
      if (v == i) continue;
      Tensor ce = mean(sum(mul(neg(qi), log_softmax(slice(s, 0, v * B, (v + 1) * B), -1)), -1));
      total = total.defined() ? add(total, ce) : ce;
      ++n;
    }
  }
  return mul(total, 1.0 / static_cast<double>(n));
}

void DinoLoss::update_center(const Tensor& teacher_sum, int64_t count, Communicator* comm) {
  NoGradGuard no_grad;
  Tensor batch_sum = ops::contiguous(teacher_sum.detach());
  double n = static_cast<double>(count);
  if (comm != nullptr && comm->size() > 1) {
    comm->all_reduce_sum(batch_sum);
    n *= comm->size();
  }
  Tensor batch_center = mul(batch_sum, 1.0 / n);
  ops::copy_(center, add(mul(center, options.center_momentum), mul(batch_center, 1.0 - options.center_momentum)));
}

Tensor DinoLoss::forward(const Tensor& student_output, const Tensor& teacher_output, int64_t epoch,
                         Communicator* comm) {
  Tensor total = loss(student_output, teacher_output, epoch);
  update_center(sum(teacher_output.detach(), 0, /*keepdim=*/true), teacher_output.size(0), comm);
  return total;
}

void ema_update(const nn::Module& teacher, const nn::Module& student, double momentum) {
  std::vector<nn::Parameter> t = teacher.named_parameters(), s = student.named_parameters();
  HIPT_CHECK(t.size() == s.size(), "DINO: teacher has {} parameters, student {}", t.size(), s.size());
  NoGradGuard no_grad;
  for (size_t k = 0; k < t.size(); ++k) {
    HIPT_CHECK(t[k].name == s[k].name && t[k].tensor.shape() == s[k].tensor.shape(),
               "DINO: teacher parameter {} does not match student's {}", t[k].name, s[k].name);
    ops::mul_(t[k].tensor, momentum);
    ops::add_(t[k].tensor, s[k].tensor.detach(), 1.0 - momentum);
  }
}

DinoTraining::DinoTraining(DinoModel& student, DinoModel& teacher, DinoLoss& loss, const DinoOptions& options,
                           int64_t iters_per_epoch)
    : student_(student),
      teacher_(teacher),
      loss_(loss),
      options_(options),
      iters_per_epoch_(iters_per_epoch),
      lr_(nn::Schedule::cosine(options.lr, options.min_lr, options.epochs, iters_per_epoch, options.warmup_epochs)),
      wd_(nn::Schedule::cosine(options.weight_decay, options.weight_decay_end, options.epochs, iters_per_epoch)),
      momentum_(nn::Schedule::cosine(options.momentum_teacher, 1.0, options.epochs, iters_per_epoch)) {
  for (nn::Parameter& p : teacher.named_parameters()) p.tensor.requires_grad_(false);
  nn::AdamWOptions adam;
  adam.lr = options.lr;
  adam.weight_decay = options.weight_decay;
  adam.eps = options.adam_eps;
  optimizer_ =
      std::make_unique<nn::AdamW>(nn::decay_groups(student.named_parameters(), options.lr, options.weight_decay), adam);
}

DinoStepStats DinoTraining::step(const std::vector<Tensor>& crops, int64_t it, Communicator* comm) {
  return step(std::vector<std::vector<Tensor>>{crops}, it, comm);
}

DinoStepStats DinoTraining::step(const std::vector<std::vector<Tensor>>& parts, int64_t it, Communicator* comm) {
  const int64_t G = loss_.options.global_crops;
  HIPT_CHECK(!parts.empty(), "DINO step: no batch");
  for (const std::vector<Tensor>& crops : parts)
    HIPT_CHECK(static_cast<int64_t>(crops.size()) == loss_.ncrops, "DINO step: {} crops, the loss expects {}",
               crops.size(), loss_.ncrops);
  HIPT_CHECK(it >= 0 && it < total_iters(), "DINO step: iteration {} outside the schedule's 0..{}", it,
             total_iters() - 1);
  const int64_t epoch = it / iters_per_epoch_;
  DinoStepStats stats;
  stats.lr = lr_.at(it);
  stats.weight_decay = wd_.at(it);
  stats.momentum = momentum_.at(it);
  stats.teacher_temp = loss_.teacher_temp(epoch);
  optimizer_->set_lr(stats.lr);
  optimizer_->param_groups()[0].weight_decay = stats.weight_decay;

  optimizer_->zero_grad();
  Tensor teacher_sum;
  int64_t teacher_rows = 0;
  const double share = 1.0 / static_cast<double>(parts.size());
  for (const std::vector<Tensor>& crops : parts) {
    Tensor teacher_output;
    {
      NoGradGuard no_grad;
      teacher_output = teacher_.forward(std::vector<Tensor>(crops.begin(), crops.begin() + G));
      Tensor s = sum(teacher_output, 0, /*keepdim=*/true);
      teacher_sum = teacher_sum.defined() ? add(teacher_sum, s) : s;
      teacher_rows += teacher_output.size(0);
    }
    Tensor loss = loss_.loss(student_.forward(crops), teacher_output, epoch);
    const double value = loss.item();
    HIPT_CHECK(std::isfinite(value), "DINO step {}: the loss is {}, stopping", it, value);
    stats.loss += value * share;
    backward(parts.size() == 1 ? loss : mul(loss, share));
  }
  loss_.update_center(teacher_sum, teacher_rows, comm);
  if (options_.clip_grad > 0) nn::clip_gradients(student_.parameters(), options_.clip_grad);
  if (epoch < options_.freeze_last_layer)
    for (nn::Parameter& p : student_.named_parameters())
      if (p.name.find("last_layer") != std::string::npos) p.tensor.zero_grad();
  optimizer_->step();
  ema_update(teacher_, student_, stats.momentum);
  return stats;
}

}  // namespace hipt::train
