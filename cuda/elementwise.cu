// CUDA elementwise kernels: unary, binary, compare, where, axpy, scale, with the contracts of the
// CPU kernels of the same name (tensor/cpu/kernels.h) and the same per-element formulas
// (tensor/elementwise_math.h). One thread per element over any strides and broadcasting; a plain
// indexed loop when every operand is contiguous with the output's shape.
//
// dtypes: unary, binary, axpy and scale take f32, f64 and bf16 (bf16 computes in f32); compare
// takes every dtype (as the CPU does), where every dtype by element size.
#include <cuda_fp16.h>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tensor/elementwise_math.h"

namespace hipt::cuda {
namespace {

// True when `t` can be indexed like `out` by linear element number.
bool dense_as(const Tensor& t, const Tensor& out) { return t.is_contiguous() && t.shape() == out.shape(); }

template <class T> T* ptr(const Tensor& t) { return static_cast<T*>(t.raw_data()); }
template <class T> const T* cptr(const Tensor& t) { return static_cast<const T*>(t.raw_data()); }

// ---------------------------------------------------------------- unary

template <class T> __global__ void unary_dense(ops::Unary op, T* __restrict__ o, const T* __restrict__ x, int64_t n) {
  HIPT_GRID_STRIDE(i, n) store(o + i, ew::unary_op(op, load(x + i)));
}
template <class T>
__global__ void unary_strided(ops::Unary op, T* __restrict__ o, const T* __restrict__ x, int64_t n, OffsetCalc<2> c) {
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[2];
    c.offsets(i, off);
    store(o + off[0], ew::unary_op(op, load(x + off[1])));
  }
}

void unary(ops::Unary op, const Tensor& out, const Tensor& x) {
  const int64_t n = out.numel();
  if (n == 0) return;
  cudaStream_t s = stream_for(out);
  HIPT_CUDA_DISPATCH(ops::op_name(op), x.dtype(), T, {
    if (dense_as(out, out) && dense_as(x, out)) {
      unary_dense<T><<<grid_for(n), kThreads, 0, s>>>(op, ptr<T>(out), cptr<T>(x), n);
    } else {
      auto c = make_offset_calc<2>(out.shape(), {out.strides(), broadcast_strides(x, out.shape())});
      unary_strided<T><<<grid_for(n), kThreads, 0, s>>>(op, ptr<T>(out), cptr<T>(x), n, c);
    }
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------- binary

template <ops::Binary op, class T>
__global__ void binary_dense(T* __restrict__ o, const T* __restrict__ a, const T* __restrict__ b, int64_t n) {
  HIPT_GRID_STRIDE(i, n) store(o + i, ew::binary_op<op>(load(a + i), load(b + i)));
}
template <ops::Binary op, class T>
__global__ void binary_strided(T* __restrict__ o, const T* __restrict__ a, const T* __restrict__ b, int64_t n,
                               OffsetCalc<3> c) {
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[3];
    c.offsets(i, off);
    store(o + off[0], ew::binary_op<op>(load(a + off[1]), load(b + off[2])));
  }
}

template <ops::Binary op, class T> void binary_typed(const Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t n = out.numel();
  cudaStream_t s = stream_for(out);
  if (dense_as(out, out) && dense_as(a, out) && dense_as(b, out)) {
    binary_dense<op, T><<<grid_for(n), kThreads, 0, s>>>(ptr<T>(out), cptr<T>(a), cptr<T>(b), n);
  } else {
    const Shape& sh = out.shape();
    auto c = make_offset_calc<3>(sh, {out.strides(), broadcast_strides(a, sh), broadcast_strides(b, sh)});
    binary_strided<op, T><<<grid_for(n), kThreads, 0, s>>>(ptr<T>(out), cptr<T>(a), cptr<T>(b), n, c);
  }
  HIPT_CUDA_CHECK_LAUNCH();
}

template <class T> void binary_dispatch(ops::Binary op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    case ops::Binary::Add: return binary_typed<ops::Binary::Add, T>(out, a, b);
    case ops::Binary::Sub: return binary_typed<ops::Binary::Sub, T>(out, a, b);
    case ops::Binary::Mul: return binary_typed<ops::Binary::Mul, T>(out, a, b);
    case ops::Binary::Div: return binary_typed<ops::Binary::Div, T>(out, a, b);
    case ops::Binary::Pow: return binary_typed<ops::Binary::Pow, T>(out, a, b);
    case ops::Binary::Max: return binary_typed<ops::Binary::Max, T>(out, a, b);
    case ops::Binary::Min: return binary_typed<ops::Binary::Min, T>(out, a, b);
  }
}

void binary(ops::Binary op, const Tensor& out, const Tensor& a, const Tensor& b) {
  if (out.numel() == 0) return;
  HIPT_CUDA_DISPATCH(ops::op_name(op), out.dtype(), T, binary_dispatch<T>(op, out, a, b));
}

// ---------------------------------------------------------------- compare

// The type a comparison runs in: 16-bit floats compare exactly as f32.
template <class T> struct CmpType { using type = T; };
template <> struct CmpType<__half> { using type = float; };
template <> struct CmpType<__nv_bfloat16> { using type = float; };
template <class T> __device__ inline typename CmpType<T>::type cmp_load(const T* p) {
  return static_cast<typename CmpType<T>::type>(*p);
}

template <class T>
__global__ void compare_dense(ops::Compare op, bool* __restrict__ o, const T* __restrict__ a, const T* __restrict__ b,
                              int64_t n) {
  HIPT_GRID_STRIDE(i, n) o[i] = ew::compare_op(op, cmp_load(a + i), cmp_load(b + i));
}
template <class T>
__global__ void compare_strided(ops::Compare op, bool* __restrict__ o, const T* __restrict__ a,
                                const T* __restrict__ b, int64_t n, OffsetCalc<3> c) {
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[3];
    c.offsets(i, off);
    o[off[0]] = ew::compare_op(op, cmp_load(a + off[1]), cmp_load(b + off[2]));
  }
}

template <class T> void compare_typed(ops::Compare op, const Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t n = out.numel();
  cudaStream_t s = stream_for(out);
  if (dense_as(out, out) && dense_as(a, out) && dense_as(b, out)) {
    compare_dense<T><<<grid_for(n), kThreads, 0, s>>>(op, ptr<bool>(out), cptr<T>(a), cptr<T>(b), n);
  } else {
    const Shape& sh = out.shape();
    auto c = make_offset_calc<3>(sh, {out.strides(), broadcast_strides(a, sh), broadcast_strides(b, sh)});
    compare_strided<T><<<grid_for(n), kThreads, 0, s>>>(op, ptr<bool>(out), cptr<T>(a), cptr<T>(b), n, c);
  }
  HIPT_CUDA_CHECK_LAUNCH();
}

void compare(ops::Compare op, const Tensor& out, const Tensor& a, const Tensor& b) {
  if (out.numel() == 0) return;
  switch (a.dtype()) {
    case DType::F32: return compare_typed<float>(op, out, a, b);
    case DType::F64: return compare_typed<double>(op, out, a, b);
    case DType::F16: return compare_typed<__half>(op, out, a, b);
    case DType::BF16: return compare_typed<__nv_bfloat16>(op, out, a, b);
    case DType::I32: return compare_typed<int32_t>(op, out, a, b);
    case DType::I64: return compare_typed<int64_t>(op, out, a, b);
    case DType::U8: return compare_typed<uint8_t>(op, out, a, b);
    case DType::Bool: return compare_typed<bool>(op, out, a, b);
  }
}

// ---------------------------------------------------------------- where

// E: an unsigned integer of the element size; where moves elements without looking at them.
template <class E>
__global__ void where_dense(E* __restrict__ o, const uint8_t* __restrict__ cond, const E* __restrict__ a,
                            const E* __restrict__ b, int64_t n) {
  HIPT_GRID_STRIDE(i, n) o[i] = cond[i] ? a[i] : b[i];
}
template <class E>
__global__ void where_strided(E* __restrict__ o, const uint8_t* __restrict__ cond, const E* __restrict__ a,
                              const E* __restrict__ b, int64_t n, OffsetCalc<4> c) {
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[4];
    c.offsets(i, off);
    o[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <class E> void where_typed(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  const int64_t n = out.numel();
  cudaStream_t s = stream_for(out);
  if (dense_as(out, out) && dense_as(cond, out) && dense_as(a, out) && dense_as(b, out)) {
    where_dense<E><<<grid_for(n), kThreads, 0, s>>>(ptr<E>(out), cptr<uint8_t>(cond), cptr<E>(a), cptr<E>(b), n);
  } else {
    const Shape& sh = out.shape();
    auto c = make_offset_calc<4>(
        sh, {out.strides(), broadcast_strides(cond, sh), broadcast_strides(a, sh), broadcast_strides(b, sh)});
    where_strided<E><<<grid_for(n), kThreads, 0, s>>>(ptr<E>(out), cptr<uint8_t>(cond), cptr<E>(a), cptr<E>(b), n, c);
  }
  HIPT_CUDA_CHECK_LAUNCH();
}

void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (out.numel() == 0) return;
  switch (dtype_size(out.dtype())) {
    case 1: return where_typed<uint8_t>(out, cond, a, b);
    case 2: return where_typed<uint16_t>(out, cond, a, b);
    case 4: return where_typed<uint32_t>(out, cond, a, b);
    case 8: return where_typed<uint64_t>(out, cond, a, b);
    default: throw Error(fmt::format("where: no CUDA kernel for dtype {}", dtype_name(out.dtype())));
  }
}

// ---------------------------------------------------------------- axpy, scale

// kDense: both operands contiguous of one shape, so element i is at offset i in each.
template <bool kDense, class T>
__global__ void axpy_kernel(T* __restrict__ d, const T* __restrict__ src, acc_t<T> alpha, int64_t n, OffsetCalc<2> c) {
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[2] = {i, i};
    if constexpr (!kDense) c.offsets(i, off);
    store(d + off[0], load(d + off[0]) + alpha * load(src + off[1]));
  }
}

void axpy(const Tensor& dst, const Tensor& src, double alpha) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  cudaStream_t s = stream_for(dst);
  HIPT_CUDA_DISPATCH("add_", dst.dtype(), T, {
    const auto al = static_cast<acc_t<T>>(alpha);
    auto c = make_offset_calc<2>(dst.shape(), {dst.strides(), broadcast_strides(src, dst.shape())});
    if (dense_as(dst, dst) && dense_as(src, dst))
      axpy_kernel<true, T><<<grid_for(n), kThreads, 0, s>>>(ptr<T>(dst), cptr<T>(src), al, n, c);
    else
      axpy_kernel<false, T><<<grid_for(n), kThreads, 0, s>>>(ptr<T>(dst), cptr<T>(src), al, n, c);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

template <bool kDense, class T> __global__ void scale_kernel(T* __restrict__ d, acc_t<T> v, int64_t n, OffsetCalc<1> c) {
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[1] = {i};
    if constexpr (!kDense) c.offsets(i, off);
    store(d + off[0], load(d + off[0]) * v);
  }
}

void scale(const Tensor& dst, double s) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  cudaStream_t st = stream_for(dst);
  HIPT_CUDA_DISPATCH("mul_", dst.dtype(), T, {
    const auto v = static_cast<acc_t<T>>(s);
    auto c = make_offset_calc<1>(dst.shape(), {dst.strides()});
    if (dense_as(dst, dst))
      scale_kernel<true, T><<<grid_for(n), kThreads, 0, st>>>(ptr<T>(dst), v, n, c);
    else
      scale_kernel<false, T><<<grid_for(n), kThreads, 0, st>>>(ptr<T>(dst), v, n, c);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_elementwise_kernels(Backend& table) {
  table.unary = unary;
  table.binary = binary;
  table.compare = compare;
  table.where = where;
  table.axpy = axpy;
  table.scale = scale;
}

}  // namespace hipt::cuda
