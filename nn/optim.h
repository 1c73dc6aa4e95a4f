// Optimizers over a list of parameters. step() reads each parameter's grad() and updates the
// parameter in place (outside any graph); parameters without a gradient are skipped.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace hipt::nn {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }  // for schedules

 protected:
  std::vector<Tensor> params_;
  double lr_ = 0;
};

struct AdamWOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;  // torch.optim.AdamW defaults
};

// AdamW with decoupled weight decay (Loshchilov & Hutter), PyTorch's formula and defaults.
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& opts = {});
  void step() override;
  int64_t steps() const { return step_; }

 private:
  AdamWOptions opts_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  std::vector<int64_t> param_steps_;  // per parameter, as PyTorch: a step without a gradient does not count
  int64_t step_ = 0;
};

struct SGDOptions {
  double lr = 1e-2, momentum = 0, weight_decay = 0;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& opts = {});
  void step() override;

 private:
  SGDOptions opts_;
  std::vector<Tensor> momentum_;
  bool first_ = true;
};

}  // namespace hipt::nn
