// The optimizer steps of tensor/optim_ops.h: argument checks, then the device's kernels.
#include <cmath>

#include "tensor/backend.h"
#include "tensor/checks.h"
#include "tensor/optim_ops.h"

namespace hipt::ops {
namespace {
void check_same(const char* op, const Tensor& p, const Tensor& t) {
  check_defined(op, t);
  check_same_device(op, p, t);
  check_same_dtype(op, p, t);
  HIPT_CHECK(p.shape() == t.shape(), "{}: shape mismatch: param {} vs {}", op, p.shape().str(), t.shape().str());
  HIPT_CHECK(t.is_contiguous(), "{}: {} must be contiguous", op, t.str());
}
}  // namespace

void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const AdamWHyper& h) {
  auto k = kernel("adamw_step", param, &Backend::adamw_step);
  check_floating("adamw_step", param);
  for (const Tensor* t : {&param, &grad, &exp_avg, &exp_avg_sq}) check_same("adamw_step", param, *t);
  HIPT_CHECK(h.step >= 1, "adamw_step: step must start at 1, got {}", h.step);
  k(param, grad, exp_avg, exp_avg_sq, h);
}

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
              double weight_decay, bool first_step) {
  auto k = kernel("sgd_step", param, &Backend::sgd_step);
  check_floating("sgd_step", param);
  for (const Tensor* t : {&param, &grad, &buf}) check_same("sgd_step", param, *t);
  k(param, grad, buf, lr, momentum, weight_decay, first_step);
}

}  // namespace hipt::ops
