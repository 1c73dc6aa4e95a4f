// Strided iteration shared by the CPU kernels: walk N operands of one shape, each with its own
// strides, calling an inner function once per innermost row. Adjacent dims that are contiguous
// for every operand are merged first, so a contiguous tensor is one long row.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "tensor/parallel.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace hipt::cpu {

// 16-bit float storage types. Arithmetic happens in float after conversion.
struct Half {
  uint16_t bits;
  Half() = default;
  explicit Half(float f) : bits(float_to_f16(f)) {}
  operator float() const { return f16_to_float(bits); }
};
struct BFloat16 {
  uint16_t bits;
  BFloat16() = default;
  explicit BFloat16(float f) : bits(float_to_bf16(f)) {}
  operator float() const { return bf16_to_float(bits); }
};

template <int N>
struct StridedLayout {
  int ndim = 0;
  std::array<int64_t, kMaxDims> sizes{};
  std::array<std::array<int64_t, kMaxDims>, N> strides{};  // elements, per operand
};

// strides[k] gives operand k's stride for each dim of `shape` (0 where it is broadcast).
template <int N>
StridedLayout<N> make_layout(const Shape& shape, const std::array<Shape, N>& strides) {
  StridedLayout<N> L;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims never move a pointer
    bool merge = L.ndim > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = L.strides[k][L.ndim - 1] == strides[k][d] * shape[d];
    if (merge) {
      L.sizes[L.ndim - 1] *= shape[d];
      for (int k = 0; k < N; ++k) L.strides[k][L.ndim - 1] = strides[k][d];
    } else {
      L.sizes[L.ndim] = shape[d];
      for (int k = 0; k < N; ++k) L.strides[k][L.ndim] = strides[k][d];
      ++L.ndim;
    }
  }
  if (L.ndim == 0) {  // a scalar, or all dims 1: one row of one element
    L.ndim = 1;
    L.sizes[0] = 1;
    for (int k = 0; k < N; ++k) L.strides[k][0] = 0;
  }
  return L;
}

// Calls row(offsets, inner_strides, n) for every innermost row, offsets in elements from each
// operand's base. Rows (or, for a single row, pieces of it) are spread over threads when there
// are at least `min_parallel` elements.
template <int N, class F>
void for_each_row(const StridedLayout<N>& L, F&& row, int64_t min_parallel = 1 << 15) {
  const int last = L.ndim - 1;
  const int64_t n = L.sizes[last];
  int64_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= L.sizes[d];
  if (rows == 0 || n == 0) return;
  std::array<int64_t, N> inner;
  for (int k = 0; k < N; ++k) inner[k] = L.strides[k][last];
  if (rows == 1 && n >= min_parallel) {  // one long row (any contiguous tensor): split the row itself
    parallel_for(0, n, min_parallel / 2, [&](int64_t lo, int64_t hi) {
      std::array<int64_t, N> off;
      for (int k = 0; k < N; ++k) off[k] = lo * inner[k];
      row(off, inner, hi - lo);
    });
    return;
  }
  auto run = [&](int64_t lo, int64_t hi) {
    std::array<int64_t, kMaxDims> idx{};
    int64_t r = lo;
    for (int d = last - 1; d >= 0; --d) {
      idx[d] = r % L.sizes[d];
      r /= L.sizes[d];
    }
    std::array<int64_t, N> off{};
    for (int k = 0; k < N; ++k)
      for (int d = 0; d < last; ++d) off[k] += idx[d] * L.strides[k][d];
    for (int64_t i = lo; i < hi; ++i) {
      row(off, inner, n);
      for (int d = last - 1; d >= 0; --d) {  // odometer step
        ++idx[d];
        for (int k = 0; k < N; ++k) off[k] += L.strides[k][d];
        if (idx[d] < L.sizes[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= L.strides[k][d] * L.sizes[d];
        idx[d] = 0;
      }
    }
  };
  if (rows * n >= min_parallel && rows > 1)
    parallel_for(0, rows, std::max<int64_t>(1, min_parallel / std::max<int64_t>(n, 1)), run);
  else
    run(0, rows);
}

// Rows per parallel_for chunk for kernels that walk rows of `row_len` elements: about 16k
// elements per chunk, enough to amortise a wake-up.
inline int64_t row_grain(int64_t row_len) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(row_len, 1)); }

// Strides of `t` seen through broadcasting to `shape` (0 for broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

}  // namespace hipt::cpu

// Runs the body with T bound to the C++ type of `dtype` (floating types only: f32, f64).
#define HIPT_DISPATCH_FLOAT(op, dtype, T, ...)                                                  \
  switch (dtype) {                                                                             \
    case ::hipt::DType::F32: { using T = float; __VA_ARGS__; break; }                          \
    case ::hipt::DType::F64: { using T = double; __VA_ARGS__; break; }                         \
    default:                                                                                   \
      throw ::hipt::Error(::fmt::format("{}: dtype {} not supported (f32, f64)", op,           \
                                        ::hipt::dtype_name(dtype)));                           \
  }

// Every dtype; f16/bf16 bind to cpu::Half / cpu::BFloat16.
#define HIPT_DISPATCH_ALL(dtype, T, ...)                                   \
  switch (dtype) {                                                        \
    case ::hipt::DType::F32: { using T = float; __VA_ARGS__; break; }     \
    case ::hipt::DType::F64: { using T = double; __VA_ARGS__; break; }    \
    case ::hipt::DType::F16: { using T = ::hipt::cpu::Half; __VA_ARGS__; break; }     \
    case ::hipt::DType::BF16: { using T = ::hipt::cpu::BFloat16; __VA_ARGS__; break; } \
    case ::hipt::DType::I32: { using T = int32_t; __VA_ARGS__; break; }   \
    case ::hipt::DType::I64: { using T = int64_t; __VA_ARGS__; break; }   \
    case ::hipt::DType::U8: { using T = uint8_t; __VA_ARGS__; break; }    \
    case ::hipt::DType::Bool: { using T = bool; __VA_ARGS__; break; }     \
  }
