// Reductions over the middle axis of [outer, R, inner], and the index kernels.
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/elementwise_math.h"

namespace hipt::cpu {

// Sums accumulate in double: for f32 this costs little (the loop is memory-bound) and keeps the
// result within one f32 rounding of the exact sum for any R we meet.
void sum(const Tensor& out, const Tensor& x, int64_t outer, int64_t R, int64_t inner) {
  HIPT_DISPATCH_FLOAT("sum", x.dtype(), T, {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(0, outer, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, R * inner)), [&](int64_t lo, int64_t hi) {
      std::vector<double> acc(static_cast<size_t>(inner));
      for (int64_t o = lo; o < hi; ++o) {
        std::fill(acc.begin(), acc.end(), 0.0);
        const T* base = px + o * R * inner;
        for (int64_t r = 0; r < R; ++r) {
          const T* row = base + r * inner;
          for (int64_t i = 0; i < inner; ++i) acc[i] += row[i];
        }
        for (int64_t i = 0; i < inner; ++i) po[o * inner + i] = static_cast<T>(acc[i]);
      }
    });
  });
}

void max(const Tensor& out_values, const Tensor& out_index, const Tensor& x, int64_t outer, int64_t R, int64_t inner) {
  HIPT_DISPATCH_FLOAT("max", x.dtype(), T, {
    const T* px = x.data<T>();
    T* pv = out_values.data<T>();
    int64_t* pi = out_index.data<int64_t>();
    parallel_for(0, outer, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        const T* base = px + o * R * inner;
        for (int64_t i = 0; i < inner; ++i) {
          T best = base[i];
          int64_t arg = 0;
          for (int64_t r = 1; r < R && !std::isnan(best); ++r) {
            T v = base[r * inner + i];
            if (ew::max_replaces(v, best)) {  // NaN wins, as in PyTorch; ties keep the first
              best = v;
              arg = r;
            }
          }
          pv[o * inner + i] = best;
          pi[o * inner + i] = arg;
        }
      }
    });
  });
}

namespace {
template <class I> int64_t checked_index(const I* idx, int64_t k, int64_t n, const char* op) {
  int64_t v = static_cast<int64_t>(idx[k]);
  if (v < 0) v += n;
  HIPT_CHECK(v >= 0 && v < n, "{}: index {} out of range for a dim of size {}", op, static_cast<int64_t>(idx[k]), n);
  return v;
}

#define HIPT_DISPATCH_INDEX(index, I, ...)                            \
  if ((index).dtype() == DType::I64) {                                \
    using I = int64_t;                                                \
    __VA_ARGS__;                                                      \
  } else {                                                            \
    using I = int32_t;                                                \
    __VA_ARGS__;                                                      \
  }
}  // namespace

void index_select(const Tensor& out, const Tensor& x, const Tensor& index, int64_t outer, int64_t n_src, int64_t inner) {
  const size_t es = dtype_size(x.dtype());
  const char* px = static_cast<const char*>(x.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  const int64_t n_idx = index.numel();
  HIPT_DISPATCH_INDEX(index, I, {
    const I* idx = static_cast<const I*>(index.raw_data());
    for (int64_t k = 0; k < n_idx; ++k) checked_index(idx, k, n_src, "index_select");  // fail before writing
    parallel_for(0, outer, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o)
        for (int64_t k = 0; k < n_idx; ++k) {
          int64_t j = idx[k] < 0 ? idx[k] + n_src : idx[k];  // checked above
          std::memcpy(po + ((o * n_idx + k) * inner) * es, px + ((o * n_src + j) * inner) * es, inner * es);
        }
    });
  });
}

void index_add(const Tensor& out, const Tensor& src, const Tensor& index, int64_t outer, int64_t n_out, int64_t inner) {
  const int64_t n_idx = index.numel();
  HIPT_DISPATCH_FLOAT("index_add", out.dtype(), T, HIPT_DISPATCH_INDEX(index, I, {
    const I* idx = static_cast<const I*>(index.raw_data());
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < outer; ++o)  // serial: repeated indices add into the same row
      for (int64_t k = 0; k < n_idx; ++k) {
        int64_t j = checked_index(idx, k, n_out, "index_add");
        T* dst = po + (o * n_out + j) * inner;
        const T* s = ps + (o * n_idx + k) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += s[i];
      }
  }));
}

// index, out: [outer, k, inner]; x: [outer, n, inner] (the other dims of x equal index's).
void gather(const Tensor& out, const Tensor& x, int dim, const Tensor& index) {
  const AxisSplit pi = split_at_axis(index.shape(), dim);
  const int64_t outer = pi.outer, k = pi.n, inner = pi.inner, n = x.shape()[dim];
  HIPT_DISPATCH_FLOAT("gather", x.dtype(), T, HIPT_DISPATCH_INDEX(index, I, {
    const I* idx = static_cast<const I*>(index.raw_data());
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t e = (o * k + j) * inner + i;
          po[e] = px[(o * n + checked_index(idx, e, n, "gather")) * inner + i];
        }
  }));
}

void scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) {
  const AxisSplit pi = split_at_axis(index.shape(), dim);
  const int64_t outer = pi.outer, k = pi.n, inner = pi.inner, n = out.shape()[dim];
  HIPT_DISPATCH_FLOAT("scatter_add", out.dtype(), T, HIPT_DISPATCH_INDEX(index, I, {
    const I* idx = static_cast<const I*>(index.raw_data());
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t e = (o * k + j) * inner + i;
          po[(o * n + checked_index(idx, e, n, "scatter_add")) * inner + i] += ps[e];
        }
  }));
}

}  // namespace hipt::cpu
