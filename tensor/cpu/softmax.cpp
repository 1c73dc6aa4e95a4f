// Softmax, log_softmax and cross-entropy kernels: one row at a time, rows spread over threads.
// Every row subtracts its max before exp, so logits of any size stay finite.
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/loops.h"
#include "tensor/cpu/nn_kernels.h"
#include "tensor/cpu/vec_rows.h"
#include "tensor/nn_math.h"

namespace hipt::cpu {
namespace {

// y [n] = softmax(x [n]) or log_softmax; y may alias x (attention does it in place).
template <class T> void softmax_row(T* y, const T* x, int64_t n, bool log) {
  const T m = vec::max(x, n);
  if (std::isinf(m)) {  // an all -inf row is NaN in PyTorch; +inf max gives NaN via inf - inf too
    for (int64_t i = 0; i < n; ++i) y[i] = std::numeric_limits<T>::quiet_NaN();
    return;
  }
  if (log) {
    // exp into y only to sum it; then y = x - (m + log sum)
    const T lse = m + std::log(vec::exp_sum(y, x, m, n));
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - lse;
  } else {
    const T inv = T(1) / vec::exp_sum(y, x, m, n);
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

// softmax:     dx = y ⊙ (g - Σ g⊙y)
// log_softmax: dx = g - exp(y) Σ g
template <class T> void softmax_backward_row(T* dx, const T* y, const T* g, int64_t n, bool log) {
  if (log) {
    const T s = vec::sum(g, n);
    vec::exp_sum(dx, y, T(0), n);
    for (int64_t i = 0; i < n; ++i) dx[i] = g[i] - dx[i] * s;
  } else {
    const T s = vec::dot(g, y, n);
    for (int64_t i = 0; i < n; ++i) dx[i] = nn_math::softmax_grad(y[i], g[i], s);
  }
}

template <class T> int64_t target_at(const Tensor& target, int64_t i) {
  return target.dtype() == DType::I64 ? target.data<int64_t>()[i] : target.data<int32_t>()[i];
}

}  // namespace

// The attention kernel calls the row form directly on its score matrix.
template <class T> void softmax_rows_inplace(T* s, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) softmax_row(s + r * n, s + r * n, n, false);
}
template void softmax_rows_inplace<float>(float*, int64_t, int64_t);
template void softmax_rows_inplace<double>(double*, int64_t, int64_t);

template <class T> void softmax_backward_rows_inplace(T* dp, const T* p, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) softmax_backward_row(dp + r * n, p + r * n, dp + r * n, n, false);
}
template void softmax_backward_rows_inplace<float>(float*, const float*, int64_t, int64_t);
template void softmax_backward_rows_inplace<double>(double*, const double*, int64_t, int64_t);

void softmax(const Tensor& y, const Tensor& x, bool log) {
  HIPT_DISPATCH_FLOAT(log ? "log_softmax" : "softmax", x.dtype(), T, {
    const int64_t n = x.shape()[x.dim() - 1], rows = x.numel() / n;
    T* py = y.data<T>();
    const T* px = x.data<T>();
    parallel_for(0, rows, row_grain(n), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) softmax_row(py + r * n, px + r * n, n, log);
    });
  });
}

void softmax_backward(const Tensor& dx, const Tensor& y, const Tensor& g, bool log) {
  HIPT_DISPATCH_FLOAT(log ? "log_softmax_backward" : "softmax_backward", y.dtype(), T, {
    const int64_t n = y.shape()[y.dim() - 1], rows = y.numel() / n;
    T* pdx = dx.data<T>();
    const T* py = y.data<T>();
    const T* pg = g.data<T>();
    parallel_for(0, rows, row_grain(n), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) softmax_backward_row(pdx + r * n, py + r * n, pg + r * n, n, log);
    });
  });
}

void cross_entropy(const Tensor& loss, const Tensor& x, const Tensor& target) {
  HIPT_DISPATCH_FLOAT("cross_entropy", x.dtype(), T, {
    const int64_t N = x.shape()[0], C = x.shape()[1];
    const T* px = x.data<T>();
    std::vector<double> per_row(static_cast<size_t>(N));
    parallel_for(0, N, row_grain(C), [&](int64_t lo, int64_t hi) {
      std::vector<T> scratch(static_cast<size_t>(C));
      for (int64_t r = lo; r < hi; ++r) {
        const T* row = px + r * C;
        const T m = vec::max(row, C);
        const T lse = m + std::log(vec::exp_sum(scratch.data(), row, m, C));
        per_row[r] = static_cast<double>(lse - row[target_at<T>(target, r)]);
      }
    });
    double total = 0;  // summed in order, in double: the same loss on any thread count
    for (double v : per_row) total += v;
    loss.data<T>()[0] = static_cast<T>(N ? total / static_cast<double>(N) : std::nan(""));
  });
}

void cross_entropy_backward(const Tensor& dx, const Tensor& x, const Tensor& target, double g) {
  HIPT_DISPATCH_FLOAT("cross_entropy_backward", x.dtype(), T, {
    const int64_t N = x.shape()[0], C = x.shape()[1];
    const T* px = x.data<T>();
    T* pdx = dx.data<T>();
    const T gn = static_cast<T>(g / static_cast<double>(N));
    parallel_for(0, N, row_grain(C), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        T* d = pdx + r * C;
        softmax_row(d, px + r * C, C, false);
        const int64_t t = target_at<T>(target, r);
        for (int64_t c = 0; c < C; ++c) d[c] = nn_math::cross_entropy_grad(d[c], gn, c == t);
      }
    });
  });
}

}  // namespace hipt::cpu
