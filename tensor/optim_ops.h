// Fused optimizer updates, in place on f32/f64 contiguous tensors of one shape. The arithmetic
// follows PyTorch's single-tensor implementations operation by operation, in the tensor's dtype,
// so that a step rounds as PyTorch's does (tests/test_optim.cpp checks against a torch fixture).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace hipt::ops {

struct AdamWHyper {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;           // 1 for the first step (bias correction)
  bool decoupled = true;  // AdamW's decay of the parameter; false: Adam's L2 term in the gradient
};

// param, exp_avg (m), exp_avg_sq (v) updated in place from grad, as torch.optim.AdamW
// (decoupled) or torch.optim.Adam (not):
//   decoupled: p *= 1 - lr·wd;   not: g = g + wd·p (when wd != 0)
//   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
//   p -= lr / (1-β1^t) · m / (√v / √(1-β2^t) + eps)
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const AdamWHyper& h);

// SGD with momentum and L2 weight decay, as torch.optim.SGD (dampening 0, no Nesterov):
//   d = g + wd·p;  buf = first ? d : momentum·buf + d;  p -= lr·buf
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf, double lr, double momentum,
              double weight_decay, bool first_step);

}  // namespace hipt::ops
