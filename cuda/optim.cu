// Fused optimizer steps on the GPU: one thread per element runs the update of tensor/kernel_math.h
// that the CPU kernels run, with the same coefficients, so both backends give the same bits.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tensor/kernel_math.h"

namespace hipt::cuda {
namespace {

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                            int64_t n, kmath::AdamCoeffs<T> c) {
  HIPT_GRID_STRIDE(i, n) {
    T pi = p[i], mi = m[i], vi = v[i];
    kmath::adam_update(pi, g[i], mi, vi, c);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, int64_t n,
                           kmath::SgdCoeffs<T> c) {
  HIPT_GRID_STRIDE(i, n) {
    T pi = p[i], bi = c.use_momentum && !c.first_step ? buf[i] : T(0);
    kmath::sgd_update(pi, g[i], bi, c);
    p[i] = pi;
    if (c.use_momentum) buf[i] = bi;
  }
}

void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const ops::AdamWHyper& h) {
  const int64_t n = param.numel();
  if (n == 0) return;
  cudaStream_t stream = stream_for(param);
  HIPT_CUDA_DISPATCH_F32_F64("adamw_step", param.dtype(), T, {
    adam_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(
        static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(exp_avg.raw_data()), static_cast<T*>(exp_avg_sq.raw_data()), n, kmath::adam_coeffs<T>(h));
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
              double weight_decay, bool first_step) {
  const int64_t n = param.numel();
  if (n == 0) return;
  cudaStream_t stream = stream_for(param);
  HIPT_CUDA_DISPATCH_F32_F64("sgd_step", param.dtype(), T, {
    sgd_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(
        static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()), static_cast<T*>(buf.raw_data()),
        n, kmath::sgd_coeffs<T>(lr, momentum, weight_decay, first_step));
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_optim_kernels(Backend& table) {
  table.adamw_step = adamw_step;
  table.sgd_step = sgd_step;
}

}  // namespace hipt::cuda
