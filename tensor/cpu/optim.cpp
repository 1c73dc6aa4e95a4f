// Fused optimizer kernels. The per-element update (tensor/kernel_math.h) mirrors PyTorch's tensor
// ops one by one, with the Python-float hyper-parameters cast to the tensor's dtype the way
// PyTorch casts scalars, so the results round identically; the CUDA kernels call the same update.
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernel_math.h"

namespace hipt::cpu {

// p, g, m, v: [n] (any shape, contiguous)
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const ops::AdamWHyper& h) {
  HIPT_DISPATCH_FLOAT("adamw_step", param.dtype(), T, {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    const kmath::AdamCoeffs<T> c = kmath::adam_coeffs<T>(h);
    parallel_for(0, param.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) kmath::adam_update(p[i], g[i], m[i], v[i], c);
    });
  });
}

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
              double weight_decay, bool first_step) {
  HIPT_DISPATCH_FLOAT("sgd_step", param.dtype(), T, {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* b = buf.data<T>();
    const kmath::SgdCoeffs<T> c = kmath::sgd_coeffs<T>(lr, momentum, weight_decay, first_step);
    parallel_for(0, param.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) kmath::sgd_update(p[i], g[i], b[i], c);
    });
  });
}

}  // namespace hipt::cpu
