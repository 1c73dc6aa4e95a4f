// Optimizers over groups of parameters. step() reads each parameter's grad() and updates the
// parameter in place (outside any graph); parameters without a gradient are skipped, and their
// step count does not advance (as PyTorch's, whose state starts at a parameter's first update).
#pragma once
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace hipt::nn {

// Parameters sharing a learning rate and a weight decay. A schedule writes both between steps
// through Optimizer::param_groups(). At construction a NaN (the default) takes the optimizer
// options' value; parameters that do not require gradients are left out (a frozen backbone).
struct ParamGroup {
  std::vector<Tensor> params;
  double lr = std::numeric_limits<double>::quiet_NaN();
  double weight_decay = std::numeric_limits<double>::quiet_NaN();
};

// The usual split for transformers: group 0 holds the parameters that decay (weight_decay),
// group 1 those that do not (weight decay 0): names ending in ".bias" and tensors with fewer than
// two dims (norm scales, biases, tokens stored 1-D). Both groups take `lr`; group 1 is kept even
// when empty, so that a schedule can rely on group 0 being the decayed one. Frozen parameters are
// left out.
std::vector<ParamGroup> decay_groups(const std::vector<Parameter>& params, double lr, double weight_decay);

// An optimizer's resumable state: tensors named "state.<k>.<buffer>" (k: the parameter's index,
// counting through the groups in order; buffer: exp_avg, exp_avg_sq, momentum_buffer) and
// string metadata: "optimizer" (Adam, AdamW, SGD), "params", "groups", "steps",
// "group.<g>.params", "group.<g>.lr", "group.<g>.weight_decay", "state.<k>.step", and the
// options ("beta1", "beta2", "eps", "momentum"). Numbers are decimal; doubles round-trip exactly.
struct OptimizerState {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;  // holds pointers to its own options
  Optimizer& operator=(const Optimizer&) = delete;
  void step();
  void zero_grad();

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  double lr() const { return groups_.empty() ? 0 : groups_[0].lr; }  // the first group's
  void set_lr(double lr);                                             // every group's
  int64_t steps() const { return steps_; }                           // calls of step()
  const char* kind() const { return kind_; }

  // The state as tensors (the optimizer's own buffers, not copies) and metadata.
  OptimizerState state() const;
  // Restores a state from an optimizer of the same kind over the same parameter shapes and group
  // sizes: group settings, options, step counts and buffers. Anything that differs is named in
  // one hipt::Error starting with `source`, and nothing is changed then.
  void load_state(const OptimizerState& state, const std::string& source = "optimizer state");

 protected:
  // `buffers`: the names of the per-parameter state tensors, each allocated as zeros like its
  // parameter.
  Optimizer(const char* kind, std::vector<ParamGroup> groups, double lr, double weight_decay,
            std::vector<std::string> buffers);
  // The named scalar options saved with the state and restored into the subclass's members (called
  // from the subclass's constructor body, once those members exist).
  void save_options_with_state(std::vector<std::pair<std::string, double*>> options) { options_ = std::move(options); }
  // Updates parameter k (of `group`) from its contiguous gradient; steps_of(k) is already counted.
  virtual void update(size_t k, const ParamGroup& group, const Tensor& param, const Tensor& grad) = 0;
  const Tensor& buffer(size_t k, size_t b) const { return buffers_[k][b]; }
  int64_t steps_of(size_t k) const { return param_steps_[k]; }

 private:
  const char* kind_;
  std::vector<ParamGroup> groups_;
  std::vector<std::string> buffer_names_;
  std::vector<std::pair<std::string, double*>> options_;
  std::vector<std::vector<Tensor>> buffers_;  // [parameter][buffer]
  std::vector<int64_t> param_steps_;
  int64_t steps_ = 0;
};

// Adam's hyper-parameters; weight_decay is the default of groups that set none.
struct AdamWOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;  // torch.optim.AdamW defaults
};
struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;  // torch.optim.Adam defaults
};

// The moments and the update shared by Adam and AdamW (ops::adamw_step).
class AdamBase : public Optimizer {
 protected:
  AdamBase(const char* kind, std::vector<ParamGroup> groups, const AdamWOptions& opts, bool decoupled);
  void update(size_t k, const ParamGroup& group, const Tensor& param, const Tensor& grad) override;

 private:
  AdamWOptions opts_;
  bool decoupled_;
};

// AdamW with decoupled weight decay (Loshchilov & Hutter), PyTorch's formula and defaults:
// p *= 1 - lr·wd before the Adam update.
class AdamW : public AdamBase {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& opts = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& opts = {});
};

// Adam as torch.optim.Adam: weight decay is an L2 term added to the gradient (g += wd·p) before
// the moments.
class Adam : public AdamBase {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& opts = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& opts = {});
};

struct SGDOptions {
  double lr = 1e-2, momentum = 0, weight_decay = 0;
};

// SGD with momentum and L2 weight decay, as torch.optim.SGD (dampening 0, no Nesterov).
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& opts = {});
  SGD(std::vector<ParamGroup> groups, const SGDOptions& opts = {});

 protected:
  void update(size_t k, const ParamGroup& group, const Tensor& param, const Tensor& grad) override;

 private:
  SGDOptions opts_;
};

}  // namespace hipt::nn
