// Random fills on the GPU: one thread per Philox block, drawing exactly the stream of
// tensor/random.cpp with the block makers of tensor/kernel_math.h that the CPU kernels use.
// uniform and dropout_mask match the CPU bit for bit; normal and trunc_normal go through CUDA's
// log, cos, sin, erf and erfc (an ulp or two from glibc's), so they agree to ~1e-15 relative in
// f64 and, after rounding to f32, almost always exactly.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tensor/kernel_math.h"

namespace hipt::cuda {
namespace {

// double -> the storage type, rounding to nearest even (bf16 in one step, not through f32).
template <class T> __device__ inline T from_double(double v) { return static_cast<T>(v); }
template <> __device__ inline __nv_bfloat16 from_double<__nv_bfloat16>(double v) { return __double2bfloat16(v); }

template <int Per, class T, class M>
__global__ void fill_blocks(T* __restrict__ out, int64_t n, uint64_t seed, uint64_t first, M m) {
  const int64_t blocks = (n + Per - 1) / Per;
  HIPT_GRID_STRIDE(b, blocks) {
    double v[Per];
    kmath::block_values<Per>(m, seed, first, b, v);
    const int64_t base = b * Per;
    for (int j = 0; j < Per && base + j < n; ++j) out[base + j] = from_double<T>(v[j]);
  }
}

template <int Per, class T, class M> void launch(const Tensor& out, uint64_t seed, uint64_t first, const M& m) {
  const int64_t n = out.numel();
  if (n == 0) return;
  fill_blocks<Per, T, M><<<grid_for((n + Per - 1) / Per), kThreads, 0, stream_for(out)>>>(
      static_cast<T*>(out.raw_data()), n, seed, first, m);
  HIPT_CUDA_CHECK_LAUNCH();
}

// f32: 4 elements a block; f64: 2.
template <class M> void fill_layout(const char* op, const Tensor& out, uint64_t seed, uint64_t first, const M& m) {
  HIPT_CUDA_DISPATCH_F32_F64(op, out.dtype(), T, {
    if constexpr (sizeof(T) == 4)
      launch<4, T>(out, seed, first, m);
    else
      launch<2, T>(out, seed, first, m);
  });
}

void uniform(const Tensor& out, uint64_t seed, uint64_t first, double low, double high) {
  fill_layout("uniform", out, seed, first, kmath::UniformLike<kmath::UniformValue>{{low, high - low}});
}

void normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std) {
  fill_layout("normal", out, seed, first, kmath::NormalBlock{mean, std});
}

void trunc_normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std, double a, double b) {
  fill_layout("trunc_normal", out, seed, first,
              kmath::UniformLike<kmath::TruncNormalValue>{kmath::trunc_normal_value(mean, std, a, b)});
}

// Any float dtype, always the 4-per-block layout.
void dropout_mask(const Tensor& out, uint64_t seed, uint64_t first, double p) {
  const kmath::DropoutBlock m = kmath::dropout_block(p);
  HIPT_CUDA_DISPATCH("dropout_mask", out.dtype(), T, launch<4, T>(out, seed, first, m));
}

}  // namespace

void register_random_kernels(Backend& table) {
  table.uniform = uniform;
  table.normal = normal;
  table.trunc_normal = trunc_normal;
  table.dropout_mask = dropout_mask;
}

}  // namespace hipt::cuda
