// LayerNorm over the last dim, forward and backward. Mean and variance are two-pass with double
// accumulation (vec::sum, vec::sq_dev_sum), so f32 results match PyTorch's to ~1e-7 relative even
// for rows with a large offset. The weight/bias gradients sum over rows in fixed chunks, reduced in
// chunk order: the same bits for any thread count.
#include <vector>

#include "tensor/cpu/loops.h"
#include "tensor/cpu/nn_kernels.h"
#include "tensor/cpu/vec_rows.h"
#include "tensor/nn_math.h"

namespace hipt::cpu {
namespace {

// y [D] = (x - mean) · rstd · w + b for one row; w, b may be null.
template <class T> void norm_row(T* y, const T* x, const T* w, const T* b, T mean, T rstd, int64_t D) {
  if (w && b) {
    for (int64_t i = 0; i < D; ++i) y[i] = nn_math::layer_norm_y(x[i], mean, rstd, w[i], b[i]);
  } else if (w) {
    for (int64_t i = 0; i < D; ++i) y[i] = (x[i] - mean) * rstd * w[i];
  } else if (b) {
    for (int64_t i = 0; i < D; ++i) y[i] = (x[i] - mean) * rstd + b[i];
  } else {
    for (int64_t i = 0; i < D; ++i) y[i] = (x[i] - mean) * rstd;
  }
}

template <class T> T* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

}  // namespace

void layer_norm(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                const Tensor& bias, double eps) {
  HIPT_DISPATCH_FLOAT("layer_norm", x.dtype(), T, {
    const int64_t D = x.shape()[x.dim() - 1], rows = D ? x.numel() / D : 0;
    const T* px = x.data<T>();
    const T* w = ptr_or_null<T>(weight);
    const T* b = ptr_or_null<T>(bias);
    T* py = y.data<T>();
    T* pm = mean.data<T>();
    T* pr = rstd.data<T>();
    parallel_for(0, rows, row_grain(D), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const T* xr = px + r * D;
        const double mu = vec::sum(xr, D) / static_cast<double>(D);
        const double var = vec::sq_dev_sum(xr, mu, D) / static_cast<double>(D);  // biased, as PyTorch
        pm[r] = static_cast<T>(mu);
        pr[r] = static_cast<T>(nn_math::layer_norm_rstd(var, eps));
        norm_row(py + r * D, xr, w, b, pm[r], pr[r], D);
      }
    });
  });
}

// With xh = (x - mean) · rstd and gw = g ⊙ w:
//   dx = rstd · (gw - mean(gw) - xh · mean(gw ⊙ xh)),  dw = Σ_rows g ⊙ xh,  db = Σ_rows g.
void layer_norm_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& g,
                         const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  HIPT_DISPATCH_FLOAT("layer_norm_backward", x.dtype(), T, {
    const int64_t D = x.shape()[x.dim() - 1], rows = D ? x.numel() / D : 0;
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    const T* w = ptr_or_null<T>(weight);
    const T* pm = mean.data<T>();
    const T* pr = rstd.data<T>();
    T* pdx = ptr_or_null<T>(dx);
    const bool want_dw = dweight.defined(), want_db = dbias.defined();
    // Fixed chunks (not one per thread) so that the reduction order depends on the shape only.
    const int64_t chunk = std::max<int64_t>(16, (rows + 63) / 64);
    const int64_t nchunks = rows ? (rows + chunk - 1) / chunk : 0;
    std::vector<T> part_w(want_dw ? static_cast<size_t>(nchunks * D) : 0);
    std::vector<T> part_b(want_db ? static_cast<size_t>(nchunks * D) : 0);
    parallel_for(0, nchunks, 1, [&](int64_t c0, int64_t c1) {
      std::vector<T> xh(static_cast<size_t>(D)), gw(static_cast<size_t>(D));
      for (int64_t c = c0; c < c1; ++c) {
        T* acc_w = want_dw ? part_w.data() + c * D : nullptr;
        T* acc_b = want_db ? part_b.data() + c * D : nullptr;
        for (int64_t r = c * chunk; r < std::min(rows, (c + 1) * chunk); ++r) {
          const T* xr = px + r * D;
          const T* gr = pg + r * D;
          const T mu = pm[r], rs = pr[r];
          for (int64_t i = 0; i < D; ++i) xh[i] = (xr[i] - mu) * rs;
          if (acc_w)
            for (int64_t i = 0; i < D; ++i) acc_w[i] += gr[i] * xh[i];
          if (acc_b)
            for (int64_t i = 0; i < D; ++i) acc_b[i] += gr[i];
          if (!pdx) continue;
          if (w)
            for (int64_t i = 0; i < D; ++i) gw[i] = gr[i] * w[i];
          else
            for (int64_t i = 0; i < D; ++i) gw[i] = gr[i];
          const T a = static_cast<T>(vec::sum(gw.data(), D) / static_cast<double>(D));
          const T bb = static_cast<T>(vec::dot(gw.data(), xh.data(), D) / static_cast<double>(D));
          T* d = pdx + r * D;
          for (int64_t i = 0; i < D; ++i) d[i] = nn_math::layer_norm_dx(rs, gw[i], a, xh[i], bb);
        }
      }
    });
    auto reduce = [&](const std::vector<T>& part, const Tensor& out) {
      T* o = out.data<T>();
      for (int64_t i = 0; i < D; ++i) {
        double s = 0;
        for (int64_t c = 0; c < nchunks; ++c) s += part[c * D + i];
        o[i] = static_cast<T>(s);
      }
    };
    if (want_dw) reduce(part_w, dweight);
    if (want_db) reduce(part_b, dbias);
  });
}

}  // namespace hipt::cpu
