// Bicubic resize on the CPU, forward and adjoint, with PyTorch's interpolate(mode='bicubic',
// align_corners=False, scale_factor=s) semantics: the inverse scale 1/s is rounded to the compute
// type as PyTorch does (it moves f32 source coordinates by ~1e-7), the source coordinate
// (dst + 0.5)·(1/s) - 0.5 is not clamped, taps are clamped to the border, Keys' cubic with A = -0.75.
// Coordinates and weights are evaluated in double and the weights rounded once to the compute
// type: the outer weights come from a cubic with cancelling terms, so evaluating it in f32 would
// add ~5e-7 of noise per weight. Sums run in the compute type, rows first (sum_j wx_j x[iy_k][ix_j])
// then columns, PyTorch's order. PyTorch 1.13's own f32 result differs from its f64 one by ~2e-6,
// and from this kernel by about as much (tests/test_resize.cpp, MatchesTorchFixture).
//
// Separable: a horizontal pass over every input row, then a vertical pass, each threaded over
// rows of all planes at once, so one big plane and many small ones both use every thread.
#include <algorithm>
#include <vector>

#include "tensor/cpu/image_kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernel_math.h"
#include "tensor/parallel.h"

namespace hipt::cpu {
namespace {

// The four taps of each output position along one axis: indices clamped to [0, in-1], weights.
template <class T> struct Taps {
  std::vector<int64_t> idx;  // [out, 4]
  std::vector<T> w;          // [out, 4]
};

template <class T> Taps<T> cubic_taps(int64_t in, int64_t out, double scale) {
  Taps<T> taps;
  taps.idx.resize(static_cast<size_t>(out * 4));
  taps.w.resize(static_cast<size_t>(out * 4));
  for (int64_t o = 0; o < out; ++o) kmath::cubic_taps<T>(o, in, scale, &taps.idx[o * 4], &taps.w[o * 4]);
  return taps;
}

// y [P, OH, OW] from x [P, H, W]; tmp [P, H, OW] holds the horizontal pass.
template <class T> void resize_forward(T* y, const T* x, int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                       double scale_h, double scale_w) {
  const Taps<T> tx = cubic_taps<T>(W, OW, scale_w), ty = cubic_taps<T>(H, OH, scale_h);
  std::vector<T> tmp(static_cast<size_t>(P * H * OW));
  parallel_for(0, P * H, row_grain(OW + W), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const T* xr = x + r * W;
      T* tr = tmp.data() + r * OW;
      for (int64_t o = 0; o < OW; ++o) {
        const int64_t* i = &tx.idx[o * 4];
        const T* w = &tx.w[o * 4];
        tr[o] = kmath::tap_sum(xr[i[0]], xr[i[1]], xr[i[2]], xr[i[3]], w);
      }
    }
  });
  parallel_for(0, P * OH, row_grain(4 * OW), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t p = r / OH, oy = r % OH;
      const int64_t* i = &ty.idx[oy * 4];
      const T* w = &ty.w[oy * 4];
      const T* base = tmp.data() + p * H * OW;
      const T *a0 = base + i[0] * OW, *a1 = base + i[1] * OW, *a2 = base + i[2] * OW, *a3 = base + i[3] * OW;
      T* yr = y + r * OW;
      for (int64_t o = 0; o < OW; ++o) yr[o] = kmath::tap_sum(a0[o], a1[o], a2[o], a3[o], w);
    }
  });
}

// dx [P, H, W] from g [P, OH, OW]: the transpose of each pass, in reverse order. The vertical
// transpose is done as a gather (each input row lists the output rows that read it), so threads
// never write the same row and the summation order is fixed.
template <class T> void resize_backward(T* dx, const T* g, int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                        double scale_h, double scale_w) {
  const Taps<T> tx = cubic_taps<T>(W, OW, scale_w);
  // tmp [P, OH, W] = g · Wx (horizontal adjoint; the scatter stays inside one row).
  std::vector<T> tmp(static_cast<size_t>(P * OH * W));
  parallel_for(0, P * OH, row_grain(OW + W), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const T* gr = g + r * OW;
      T* tr = tmp.data() + r * W;
      std::fill(tr, tr + W, T(0));
      for (int64_t o = 0; o < OW; ++o)
        for (int k = 0; k < 4; ++k) tr[tx.idx[o * 4 + k]] += tx.w[o * 4 + k] * gr[o];
    }
  });
  // The vertical taps by input row: row h gathers the tmp rows that read it.
  const kmath::TapsByInput<T> by_row = kmath::taps_by_input<T>(H, OH, scale_h);
  parallel_for(0, P * H, row_grain(W * 4), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t p = r / H, h = r % H;
      T* dr = dx + r * W;
      std::fill(dr, dr + W, T(0));
      for (int64_t e = by_row.start[h]; e < by_row.start[h + 1]; ++e) {
        const T* tr = tmp.data() + (p * OH + by_row.out_pos[e]) * W;
        const T w = by_row.w[e];
        for (int64_t j = 0; j < W; ++j) dr[j] += w * tr[j];
      }
    }
  });
}

}  // namespace

void bicubic_resize(const Tensor& y, const Tensor& x, double scale_h, double scale_w) {
  const int64_t H = x.size(-2), W = x.size(-1), OH = y.size(-2), OW = y.size(-1);
  const int64_t P = H * W > 0 ? x.numel() / (H * W) : 0;
  HIPT_DISPATCH_FLOAT("bicubic_resize", x.dtype(), T,
                      resize_forward<T>(y.data<T>(), x.data<T>(), P, H, W, OH, OW, scale_h, scale_w));
}

void bicubic_resize_backward(const Tensor& dx, const Tensor& g, double scale_h, double scale_w) {
  const int64_t H = dx.size(-2), W = dx.size(-1), OH = g.size(-2), OW = g.size(-1);
  const int64_t P = H * W > 0 ? dx.numel() / (H * W) : 0;
  HIPT_DISPATCH_FLOAT("bicubic_resize_backward", g.dtype(), T,
                      resize_backward<T>(dx.data<T>(), g.data<T>(), P, H, W, OH, OW, scale_h, scale_w));
}

}  // namespace hipt::cpu
