// Fused optimizer kernels. Each statement mirrors one PyTorch tensor op, with the Python-float
// hyper-parameters cast to the tensor's dtype the way PyTorch casts scalars, so the results
// round identically.
#include <cmath>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"

namespace hipt::cpu {

// p, g, m, v: [n] (any shape, contiguous)
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const ops::AdamWHyper& h) {
  const double bc1 = 1 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2_sqrt = std::sqrt(1 - std::pow(h.beta2, static_cast<double>(h.step)));
  HIPT_DISPATCH_FLOAT("adamw_step", param.dtype(), T, {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    const bool l2 = !h.decoupled && h.weight_decay != 0;
    const T decay = static_cast<T>(h.decoupled ? 1 - h.lr * h.weight_decay : 1.0),
            wd = static_cast<T>(h.weight_decay), b1 = static_cast<T>(h.beta1), b2 = static_cast<T>(h.beta2),
            one_b1 = static_cast<T>(1 - h.beta1), one_b2 = static_cast<T>(1 - h.beta2),
            bc2 = static_cast<T>(bc2_sqrt), eps = static_cast<T>(h.eps), step_size = static_cast<T>(-h.lr / bc1);
    parallel_for(0, param.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T gi = l2 ? g[i] + wd * p[i] : g[i];  // Adam: grad.add(param, alpha=wd)
        p[i] = p[i] * decay;
        m[i] = m[i] * b1 + one_b1 * gi;
        v[i] = v[i] * b2 + one_b2 * (gi * gi);
        T denom = std::sqrt(v[i]) / bc2 + eps;
        p[i] = p[i] + step_size * (m[i] / denom);
      }
    });
  });
}

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
              double weight_decay, bool first_step) {
  HIPT_DISPATCH_FLOAT("sgd_step", param.dtype(), T, {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* b = buf.data<T>();
    const T wd = static_cast<T>(weight_decay), mom = static_cast<T>(momentum), step = static_cast<T>(-lr);
    parallel_for(0, param.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T d = weight_decay != 0 ? g[i] + wd * p[i] : g[i];
        if (momentum != 0) {
          b[i] = first_step ? d : b[i] * mom + d;
          d = b[i];
        }
        p[i] = p[i] + step * d;
      }
    });
  });
}

}  // namespace hipt::cpu
