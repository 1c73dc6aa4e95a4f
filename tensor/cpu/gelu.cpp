// GELU, exact erf form (torch.nn.GELU() default, what both HIPT ViTs use), forward and backward,
// over contiguous data in chunks spread over threads. The f32 erf is vec_rows' vector form
// (glibc's scalar erff costs ~20 ns an element on the Zen3 dev box: GELU would outweigh fc1).
#include "tensor/cpu/loops.h"
#include "tensor/cpu/nn_kernels.h"
#include "tensor/cpu/vec_rows.h"

namespace hipt::cpu {
namespace {
constexpr int64_t kGrain = 1 << 14;
}

void gelu(const Tensor& y, const Tensor& x) {
  HIPT_DISPATCH_FLOAT("gelu", x.dtype(), T, {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(0, x.numel(), kGrain, [&](int64_t lo, int64_t hi) { vec::gelu(py + lo, px + lo, hi - lo); });
  });
}

void gelu_backward(const Tensor& dx, const Tensor& x, const Tensor& g) {
  HIPT_DISPATCH_FLOAT("gelu_backward", x.dtype(), T, {
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    T* pd = dx.data<T>();
    parallel_for(0, x.numel(), kGrain,
                 [&](int64_t lo, int64_t hi) { vec::gelu_backward(pd + lo, px + lo, pg + lo, hi - lo); });
  });
}

}  // namespace hipt::cpu
