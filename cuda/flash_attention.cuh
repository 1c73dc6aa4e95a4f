// What the two flash-attention files share (cuda/flash_attention.cu: f32 and f64 on CUDA cores and
// the entry points; cuda/flash_attention_wmma.cu: bf16 on tensor cores): the operand and problem
// descriptions, the launch with its shared-memory opt-in, and the bf16 launchers.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

#include "cuda/common.cuh"
#include "tensor/attention_math.h"

namespace hipt::cuda::flash {

namespace am = hipt::attention_math;

// A [B, H, T, ...] operand: element (b, h, t, d) at ptr[b·sb + h·sh + t·st + d].
template <class T> struct Rows {
  T* ptr;
  int64_t sb, sh, st;
  __device__ T* at(int64_t b, int64_t h) const { return ptr + b * sb + h * sh; }
};
template <class T> Rows<T> rows_of(const Tensor& t) {
  return {static_cast<T*>(t.raw_data()), t.strides()[0], t.strides()[1], t.strides()[2]};
}

template <class A> struct Problem {
  int64_t H, Tq, Tk;
  A scale;
  bool causal;
  // Key j is a real key that query i may see.
  __device__ bool visible(int64_t i, int64_t j) const { return j < Tk && (!causal || am::causal_visible(i, j)); }
  // The end of the keys that queries before `q_end` see.
  __device__ int64_t key_end(int64_t q_end) const { return causal && q_end < Tk ? q_end : Tk; }
};

// The query tile of a block whose grid's y walks the query tiles, the last one first: under a causal
// mask the last tiles see the most keys, and starting them first shortens the tail of the launch.
__device__ inline int64_t query_tile() { return static_cast<int64_t>(gridDim.y - 1 - blockIdx.y); }

// Entries [t0, t0 + ROWS) of a per-row vector (lse, Δ) of length n with stride st; past n: 0.
template <int ROWS, class A> __device__ void load_vec(A* dst, const A* src, int64_t st, int64_t t0, int64_t n) {
  for (int r = threadIdx.x; r < ROWS; r += blockDim.x) dst[r] = t0 + r < n ? src[(t0 + r) * st] : A(0);
}


// Launches kernel on (blocks_x, blocks_y) with `smem` bytes of dynamic shared memory, opting in
// beyond the 48 KB default; refuses a device with less shared memory per block than that.
template <class... Params, class... Args>
void launch(const char* op, void (*kernel)(Params...), int64_t blocks_x, int64_t blocks_y, int threads, size_t smem,
            cudaStream_t stream, Args... args) {
  if (blocks_x == 0 || blocks_y == 0) return;
  HIPT_CHECK(blocks_x < (int64_t{1} << 31) && blocks_y <= 65535, "{}: {} x {} blocks exceed the CUDA grid", op,
             blocks_x, blocks_y);
  int device = 0, optin = 0;
  HIPT_CUDA_CHECK(cudaGetDevice(&device));
  HIPT_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  HIPT_CHECK(smem <= static_cast<size_t>(optin), "{}: needs {} bytes of shared memory per block, device {} has {}",
             op, smem, device, optin);
  if (smem > 48 * 1024)
    HIPT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  kernel<<<dim3(static_cast<unsigned>(blocks_x), static_cast<unsigned>(blocks_y)), threads, smem, stream>>>(args...);
  HIPT_CUDA_CHECK_LAUNCH();
}

inline int64_t tiles(int64_t n, int64_t tile) { return (n + tile - 1) / tile; }

// flash_attention_wmma.cu: the bf16 forward, and the bf16 dK/dV and dQ kernels after Δ (delta,
// [B·H·Tq] f32), on tensor cores, for D = 32, 64, 128. The caller has checked the operands.
template <int D>
void forward_bf16(cudaStream_t stream, int64_t BH, const Rows<__nv_bfloat16>& out, const Rows<float>& lse,
                  const Rows<const __nv_bfloat16>& q, const Rows<const __nv_bfloat16>& k,
                  const Rows<const __nv_bfloat16>& v, const Problem<float>& p);
template <int D>
void backward_bf16(cudaStream_t stream, int64_t BH, const Rows<__nv_bfloat16>& dq, const Rows<__nv_bfloat16>& dk,
                   const Rows<__nv_bfloat16>& dv, const Rows<const __nv_bfloat16>& g,
                   const Rows<const __nv_bfloat16>& q, const Rows<const __nv_bfloat16>& k,
                   const Rows<const __nv_bfloat16>& v, const Rows<const float>& lse, const float* delta,
                   const Problem<float>& p);

}  // namespace hipt::cuda::flash
