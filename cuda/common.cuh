// What every CUDA kernel file shares: the stream an op runs on, launch geometry, strided offsets
// for N operands of one shape, and the dtype dispatch (f32, f64 and bf16; bf16 computes in f32).
// Included by .cu files only.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "cuda/check.h"
#include "tensor/backend.h"
#include "tensor/hd.h"

namespace hipt::cuda {

// The stream of `device` (created on first use, one per device) after making `device` current.
// Every op on a device runs on its stream, in order, so a kernel sees its inputs complete.
cudaStream_t stream_for(Device device);
inline cudaStream_t stream_for(const Tensor& t) { return stream_for(t.device()); }

// Grid-stride loops: enough blocks to fill any current GPU, never more than the work needs.
constexpr int kThreads = 256;
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65536)));
}
#define HIPT_GRID_STRIDE(i, n)                                                                   \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);          \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// Element offsets of N operands walked in the row-major order of one shape. Size-1 dims are
// dropped and dims contiguous for every operand merged, so a contiguous tensor is one dim.
template <int N> struct OffsetCalc {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];
  // The offsets of linear element `i` (in the shape's row-major order), one per operand.
  __device__ inline void offsets(int64_t i, int64_t out[N]) const {
    for (int k = 0; k < N; ++k) out[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t q = i / sizes[d], r = i - q * sizes[d];
      for (int k = 0; k < N; ++k) out[k] += r * strides[k][d];
      i = q;
    }
  }
};
// strides[k]: operand k's strides over `shape` (0 where broadcast).
template <int N> OffsetCalc<N> make_offset_calc(const Shape& shape, const std::array<Shape, N>& strides) {
  OffsetCalc<N> c;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = c.ndim > 0;
    for (int k = 0; k < N && merge; ++k) merge = c.strides[k][c.ndim - 1] == strides[k][d] * shape[d];
    if (merge) {
      c.sizes[c.ndim - 1] *= shape[d];
      for (int k = 0; k < N; ++k) c.strides[k][c.ndim - 1] = strides[k][d];
    } else {
      c.sizes[c.ndim] = shape[d];
      for (int k = 0; k < N; ++k) c.strides[k][c.ndim] = strides[k][d];
      ++c.ndim;
    }
  }
  return c;  // ndim 0 (a scalar): offsets() gives 0 for every operand
}
// t's strides over `shape`, which t broadcasts to (0 for its missing and size-1 leading dims).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

// The arithmetic type of a storage type: bf16 loads to f32 and stores back rounded to nearest even.
template <class T> struct Acc { using type = T; };
template <> struct Acc<__nv_bfloat16> { using type = float; };
template <class T> using acc_t = typename Acc<T>::type;
template <class T> __device__ inline acc_t<T> load(const T* p) { return static_cast<acc_t<T>>(*p); }
template <class T> __device__ inline void store(T* p, acc_t<T> v) { *p = static_cast<T>(v); }

}  // namespace hipt::cuda

// HIPT_CUDA_DISPATCH(op, dtype, T, body): body with T the storage type of `dtype` for the float
// dtypes a CUDA kernel supports; HIPT_CUDA_DISPATCH_F32_F64 for kernels without a bf16 form.
// Other dtypes throw naming the op.
#define HIPT_CUDA_DISPATCH_CASE(dt, type, T, ...) \
  case ::hipt::DType::dt: {                       \
    using T = type;                               \
    __VA_ARGS__;                                  \
    break;                                        \
  }
#define HIPT_CUDA_DISPATCH(op, dtype, T, ...)                                                          \
  switch (dtype) {                                                                                     \
    HIPT_CUDA_DISPATCH_CASE(F32, float, T, __VA_ARGS__)                                                \
    HIPT_CUDA_DISPATCH_CASE(F64, double, T, __VA_ARGS__)                                               \
    HIPT_CUDA_DISPATCH_CASE(BF16, __nv_bfloat16, T, __VA_ARGS__)                                       \
    default: throw ::hipt::Error(::fmt::format("{}: no CUDA kernel for dtype {}", op, ::hipt::dtype_name(dtype))); \
  }
#define HIPT_CUDA_DISPATCH_F32_F64(op, dtype, T, ...)                                                  \
  switch (dtype) {                                                                                     \
    HIPT_CUDA_DISPATCH_CASE(F32, float, T, __VA_ARGS__)                                                \
    HIPT_CUDA_DISPATCH_CASE(F64, double, T, __VA_ARGS__)                                               \
    default: throw ::hipt::Error(::fmt::format("{}: no CUDA kernel for dtype {}", op, ::hipt::dtype_name(dtype))); \
  }
