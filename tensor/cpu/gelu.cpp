// GELU, exact erf form (torch.nn.GELU() default, what both HIPT ViTs use), forward and backward.
// std::erf is the libm one: correctly rounded-ish and the slow part; a vector erf would need its
// own minimax fit and is left for later.
#include <cmath>

#include "tensor/cpu/loops.h"
#include "tensor/cpu/nn_kernels.h"

namespace hipt::cpu {
namespace {
constexpr int64_t kGrain = 1 << 14;
}

void gelu(const Tensor& y, const Tensor& x) {
  HIPT_DISPATCH_FLOAT("gelu", x.dtype(), T, {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T r2 = static_cast<T>(M_SQRT1_2);
    parallel_for(0, x.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) py[i] = px[i] * T(0.5) * (T(1) + std::erf(px[i] * r2));
    });
  });
}

// d/dx [x Φ(x)] = Φ(x) + x φ(x), Φ(x) = (1 + erf(x/√2)) / 2, φ(x) = e^(-x²/2) / √(2π)
void gelu_backward(const Tensor& dx, const Tensor& x, const Tensor& g) {
  HIPT_DISPATCH_FLOAT("gelu_backward", x.dtype(), T, {
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    T* pd = dx.data<T>();
    const T r2 = static_cast<T>(M_SQRT1_2);
    const T inv_sqrt_2pi = static_cast<T>(0.5 * M_2_SQRTPI * M_SQRT1_2);
    parallel_for(0, x.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T v = px[i];
        const T cdf = T(0.5) * (T(1) + std::erf(v * r2));
        pd[i] = pg[i] * (cdf + v * inv_sqrt_2pi * std::exp(T(-0.5) * v * v));
      }
    });
  });
}

}  // namespace hipt::cpu
