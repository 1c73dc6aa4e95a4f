#include "nn/clip.h"

#include <cmath>

#include "tensor/ops.h"

namespace hipt::nn {

namespace {

// The gradients present, each checked to be f32 or f64.
std::vector<Tensor> grads_of(const char* op, const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    HIPT_CHECK(g.dtype() == DType::F32 || g.dtype() == DType::F64,
               "{}: the gradient of parameter {} is {}; clipping needs f32 or f64", op, p.str(), g.str());
    grads.push_back(g);
  }
  return grads;
}

// ||t||_2 as a 0-dim tensor of t's dtype.
Tensor l2_norm(const Tensor& t) { return ops::sqrt(ops::sum(ops::mul(t, t))); }

// PyTorch's `threshold / (norm + 1e-6)` on a tensor of dtype T: the sum in T, then
// reciprocal(sum) * threshold (Tensor.__rdiv__), each rounded to T.
template <class T> double coefficient(double norm, double threshold) {
  const T denom = static_cast<T>(norm) + static_cast<T>(1e-6);
  const T coef = (T(1) / denom) * static_cast<T>(threshold);
  return static_cast<double>(coef);
}

double coefficient(DType dtype, double norm, double threshold) {
  return dtype == DType::F32 ? coefficient<float>(norm, threshold) : coefficient<double>(norm, threshold);
}

}  // namespace

std::vector<double> clip_gradients(const std::vector<Tensor>& params, double clip) {
  HIPT_CHECK(clip > 0 && std::isfinite(clip), "clip_gradients: clip must be finite and > 0, got {}", clip);
  std::vector<double> norms;
  for (const Tensor& g : grads_of("clip_gradients", params)) {
    const double norm = l2_norm(g).item();
    norms.push_back(norm);
    const double coef = coefficient(g.dtype(), norm, clip);
    if (coef < 1) ops::mul_(g, coef);
  }
  return norms;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  HIPT_CHECK(max_norm > 0 && std::isfinite(max_norm), "clip_grad_norm: max_norm must be finite and > 0, got {}",
             max_norm);
  const std::vector<Tensor> grads = grads_of("clip_grad_norm", params);
  if (grads.empty()) return 0;
  std::vector<Tensor> norms;
  for (const Tensor& g : grads) {
    HIPT_CHECK(g.dtype() == grads[0].dtype(), "clip_grad_norm: gradients of different dtypes ({} and {})",
               dtype_name(grads[0].dtype()), dtype_name(g.dtype()));
    norms.push_back(l2_norm(g));
  }
  const double total = l2_norm(ops::stack(norms, 0)).item();
  double coef = coefficient(grads[0].dtype(), total, max_norm);
  if (coef > 1) coef = 1;  // torch.clamp(max=1): a NaN stays NaN
  for (const Tensor& g : grads) ops::mul_(g, coef);
  return total;
}

}  // namespace hipt::nn
