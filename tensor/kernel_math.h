// Per-element arithmetic of the resize, optimizer and random kernels, shared by the CPU kernels
// (tensor/cpu/resize.cpp, optim.cpp, random.cpp) and the CUDA kernels (cuda/resize.cu, optim.cu,
// random.cu), so that both backends evaluate one formula.
//
// Rounding: nvcc contracts a·b + c into one fused multiply-add, which rounds once where the CPU
// build (baseline x86-64, no FMA) rounds twice. The formulas whose results the backends must agree
// on bit for bit (resize sums and weights, optimizer updates, the uniform map) therefore use mul,
// add, sub, div and sqrt_rn below: one IEEE round-to-nearest operation each on both backends.
// Box-Muller and the inverse-CDF map call log, cos, sin, erf and erfc, whose CUDA versions differ
// from glibc's by an ulp or two: those values agree to ~1e-15 relative in f64 and almost always
// exactly once rounded to f32.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/hd.h"
#include "tensor/optim_ops.h"
#include "tensor/philox.h"

namespace hipt::kmath {

// ---- single-rounding operations ----
#if defined(__CUDA_ARCH__)
HIPT_HD float mul(float a, float b) { return __fmul_rn(a, b); }
HIPT_HD double mul(double a, double b) { return __dmul_rn(a, b); }
HIPT_HD float add(float a, float b) { return __fadd_rn(a, b); }
HIPT_HD double add(double a, double b) { return __dadd_rn(a, b); }
HIPT_HD float sub(float a, float b) { return __fsub_rn(a, b); }
HIPT_HD double sub(double a, double b) { return __dsub_rn(a, b); }
HIPT_HD float div(float a, float b) { return __fdiv_rn(a, b); }
HIPT_HD double div(double a, double b) { return __ddiv_rn(a, b); }
HIPT_HD float sqrt_rn(float a) { return __fsqrt_rn(a); }
HIPT_HD double sqrt_rn(double a) { return __dsqrt_rn(a); }
#else
template <class T> HIPT_HD T mul(T a, T b) { return a * b; }
template <class T> HIPT_HD T add(T a, T b) { return a + b; }
template <class T> HIPT_HD T sub(T a, T b) { return a - b; }
template <class T> HIPT_HD T div(T a, T b) { return a / b; }
template <class T> HIPT_HD T sqrt_rn(T a) { return std::sqrt(a); }
#endif

// ---- bicubic resize (PyTorch's interpolate(mode='bicubic', align_corners=False)) ----

// Keys' cubic with A = -0.75, in Horner form: for |x| <= 1 and for 1 < |x| < 2.
constexpr double kCubicA = -0.75;
HIPT_HD double cubic_near(double x) {
  return add(mul(mul(sub(mul(kCubicA + 2, x), kCubicA + 3), x), x), 1.0);
}
HIPT_HD double cubic_far(double x) {
  return sub(mul(add(mul(sub(mul(kCubicA, x), 5 * kCubicA), x), 8 * kCubicA), x), 4 * kCubicA);
}

// The four taps of output position `o` along an axis of `in` input positions resized by `scale`:
// input indices clamped to [0, in-1] and weights, evaluated in double and rounded once to T.
// The inverse scale is rounded to T first, as PyTorch does; the source coordinate is not clamped.
template <class T> HIPT_HD void cubic_taps(int64_t o, int64_t in, double scale, int64_t idx[4], T w[4]) {
  const double inv_scale = static_cast<double>(static_cast<T>(1.0 / scale));
  const double src = sub(mul(inv_scale, static_cast<double>(o) + 0.5), 0.5);
  const double fl = floor(src), t = sub(src, fl);
  const double wd[4] = {cubic_far(t + 1), cubic_near(t), cubic_near(1 - t), cubic_far(2 - t)};
  const int64_t i0 = static_cast<int64_t>(fl) - 1;
  for (int k = 0; k < 4; ++k) {
    const int64_t i = i0 + k;
    idx[k] = i < 0 ? 0 : (i > in - 1 ? in - 1 : i);
    w[k] = static_cast<T>(wd[k]);
  }
}

// v0·w0 + v1·w1 + v2·w2 + v3·w3, left to right: one tap sum of either pass.
template <class T> HIPT_HD T tap_sum(T v0, T v1, T v2, T v3, const T w[4]) {
  return add(add(add(mul(v0, w[0]), mul(v1, w[1])), mul(v2, w[2])), mul(v3, w[3]));
}

// The taps of one axis grouped by input position, for the adjoint as a gather: input i reads the
// pairs start[i] .. start[i+1] of (out_pos, weight), in ascending (output position, tap) order,
// the order in which a scatter over output positions would add them.
template <class T> struct TapsByInput {
  std::vector<int64_t> start, out_pos;
  std::vector<T> w;
};
template <class T> TapsByInput<T> taps_by_input(int64_t in, int64_t out, double scale) {
  TapsByInput<T> r;
  r.start.assign(static_cast<size_t>(in + 1), 0);
  r.out_pos.resize(static_cast<size_t>(out * 4));
  r.w.resize(static_cast<size_t>(out * 4));
  std::vector<int64_t> idx(static_cast<size_t>(out * 4));
  std::vector<T> w(static_cast<size_t>(out * 4));
  for (int64_t o = 0; o < out; ++o) cubic_taps<T>(o, in, scale, &idx[o * 4], &w[o * 4]);
  for (int64_t e = 0; e < out * 4; ++e) ++r.start[idx[e] + 1];
  for (int64_t i = 0; i < in; ++i) r.start[i + 1] += r.start[i];
  std::vector<int64_t> pos(r.start.begin(), r.start.end() - 1);
  for (int64_t e = 0; e < out * 4; ++e) {  // e ascending keeps each input's pairs in (o, k) order
    const int64_t at = pos[idx[e]]++;
    r.out_pos[at] = e / 4;
    r.w[at] = w[e];
  }
  return r;
}

// ---- optimizer updates (tensor/optim_ops.h), hyper-parameters cast to T as PyTorch casts scalars ----

template <class T> struct AdamCoeffs {
  T decay, wd, b1, b2, one_b1, one_b2, bc2, eps, step_size;
  bool l2;  // Adam's coupled L2 term: g + wd·p
};
template <class T> AdamCoeffs<T> adam_coeffs(const ops::AdamWHyper& h) {
  const double bc1 = 1 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2_sqrt = std::sqrt(1 - std::pow(h.beta2, static_cast<double>(h.step)));
  return {static_cast<T>(h.decoupled ? 1 - h.lr * h.weight_decay : 1.0),
          static_cast<T>(h.weight_decay),
          static_cast<T>(h.beta1),
          static_cast<T>(h.beta2),
          static_cast<T>(1 - h.beta1),
          static_cast<T>(1 - h.beta2),
          static_cast<T>(bc2_sqrt),
          static_cast<T>(h.eps),
          static_cast<T>(-h.lr / bc1),
          !h.decoupled && h.weight_decay != 0};
}
// One element of torch.optim.AdamW / Adam, each statement one PyTorch tensor op.
template <class T> HIPT_HD void adam_update(T& p, T g, T& m, T& v, const AdamCoeffs<T>& c) {
  const T gi = c.l2 ? add(g, mul(c.wd, p)) : g;  // Adam: grad.add(param, alpha=wd)
  const T pd = mul(p, c.decay);                  // AdamW: param.mul_(1 - lr·wd)
  m = add(mul(m, c.b1), mul(c.one_b1, gi));
  v = add(mul(v, c.b2), mul(c.one_b2, mul(gi, gi)));
  const T denom = add(div(sqrt_rn(v), c.bc2), c.eps);
  p = add(pd, mul(c.step_size, div(m, denom)));
}

template <class T> struct SgdCoeffs {
  T wd, momentum, step;  // step = -lr
  bool decay, use_momentum, first_step;
};
template <class T> SgdCoeffs<T> sgd_coeffs(double lr, double momentum, double weight_decay, bool first_step) {
  return {static_cast<T>(weight_decay), static_cast<T>(momentum), static_cast<T>(-lr), weight_decay != 0,
          momentum != 0, first_step};
}
// One element of torch.optim.SGD (dampening 0, no Nesterov).
template <class T> HIPT_HD void sgd_update(T& p, T g, T& buf, const SgdCoeffs<T>& c) {
  T d = c.decay ? add(g, mul(c.wd, p)) : g;
  if (c.use_momentum) {
    buf = c.first_step ? d : add(mul(buf, c.momentum), d);
    d = buf;
  }
  p = add(p, mul(c.step, d));
}

// ---- random maps: Philox block words to element values (the stream of tensor/random.cpp) ----

// Inverse of erf on (-1, 1), ±inf at ±1, NaN outside. A closed-form start (Winitzki's
// approximation, relative error ~2e-3) refined by Halley steps on erf(y) = x; above 0.5 the
// residual is taken through erfc and 1 - x (exact there), so the tails keep full relative
// precision where erf(y) is near 1.
HIPT_HD double erfinv(double x) {
  if (!(x >= -1 && x <= 1)) return NAN;  // also NaN in
  if (x == 1) return INFINITY;
  if (x == -1) return -INFINITY;
  if (x == 0) return x;  // keeps the sign of -0
  const double ax = fabs(x);
  const double one_minus = 1.0 - ax;  // exact for ax >= 0.5
  const double a = 0.147, ln = log(one_minus * (1.0 + ax));
  const double t = 2.0 / (M_PI * a) + 0.5 * ln;
  double y = sqrt(sqrt(t * t - ln / a) - t);
  const double two_over_sqrt_pi = 2.0 / sqrt(M_PI);
  for (int it = 0; it < 4; ++it) {
    const double f = ax < 0.5 ? erf(y) - ax : one_minus - erfc(y);
    const double fp = two_over_sqrt_pi * exp(-y * y);
    if (f == 0 || fp == 0) break;
    const double newton = f / fp;
    const double step = newton / (1.0 + y * newton);  // Halley: f'' = -2y f'
    y -= step;
    // Halley's error cubes each step: after a step below 1e-6·y the rest is below double precision.
    if (fabs(step) <= 1e-6 * y) break;
  }
  return x < 0 ? -y : y;
}

inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// A block maker turns the four words of one Philox block into Per element values: block4 for the
// 4-per-block layout (f32 draws, every dropout mask), block2 for the 2-per-block f64 layout.
template <int Per, class M> HIPT_HD void make_block(const M& m, const uint32_t w[4], double v[Per]) {
  if constexpr (Per == 4)
    m.block4(w, v);
  else
    m.block2(w, v);
}
// The values of block `b` of a draw starting at block `first`.
template <int Per, class M>
HIPT_HD void block_values(const M& m, uint64_t seed, uint64_t first, int64_t b, double v[Per]) {
  uint32_t w[4];
  philox::block_words(seed, first + static_cast<uint64_t>(b), w);
  make_block<Per>(m, w, v);
}

// One uniform u in [0, 1) per element, stored as f(u): uniform and trunc_normal.
template <class F> struct UniformLike {
  F f;
  HIPT_HD void block4(const uint32_t w[4], double v[4]) const {
    for (int j = 0; j < 4; ++j) v[j] = f(philox::u24(w[j]));
  }
  HIPT_HD void block2(const uint32_t w[4], double v[2]) const {
    v[0] = f(philox::u53(w[0], w[1]));
    v[1] = f(philox::u53(w[2], w[3]));
  }
};
// low + (high - low)·u in double.
struct UniformValue {
  double low, span;
  HIPT_HD double operator()(double u) const { return add(low, mul(span, u)); }
};
// torch.nn.init.trunc_normal_: p = lo + (hi - lo)·u, mean + std·√2·erfinv(2p - 1), clamped to [a, b].
struct TruncNormalValue {
  double lo, width, mean, scale, a, b;  // lo, width = hi - lo: the CDF at a and b; scale = std·√2
  HIPT_HD double operator()(double u) const {
    const double p = lo + width * u;
    const double x = mean + scale * erfinv(2.0 * p - 1.0);
    return x < a ? a : (x > b ? b : x);
  }
};
inline TruncNormalValue trunc_normal_value(double mean, double std, double a, double b) {
  const double lo = normal_cdf((a - mean) / std), hi = normal_cdf((b - mean) / std);
  return {lo, hi - lo, mean, std * std::sqrt(2.0), a, b};
}

// Box-Muller, mean + std·(r cos θ, r sin θ) with r = √(-2 ln u1), θ = 2π u2, u1 in (0, 1].
struct NormalBlock {
  double mean, std;
  HIPT_HD void pair(double u1, double u2, double* v) const {
    const double r = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    v[0] = mean + std * (r * cos(th));
    v[1] = mean + std * (r * sin(th));
  }
  HIPT_HD void block4(const uint32_t w[4], double v[4]) const {
    pair(philox::u24(w[0]) + 0x1p-24, philox::u24(w[1]), v);
    pair(philox::u24(w[2]) + 0x1p-24, philox::u24(w[3]), v + 2);
  }
  HIPT_HD void block2(const uint32_t w[4], double v[2]) const {
    pair(philox::u53(w[0], w[1]) + 0x1p-53, philox::u53(w[2], w[3]), v);
  }
};

// Keep (value 1/(1-p)) iff u24(word) < 1 - p, else 0; always the 4-per-block layout.
struct DropoutBlock {
  double keep, value;
  HIPT_HD void block4(const uint32_t w[4], double v[4]) const {
    for (int j = 0; j < 4; ++j) v[j] = philox::u24(w[j]) < keep ? value : 0.0;
  }
};
inline DropoutBlock dropout_block(double p) { return {1.0 - p, 1.0 / (1.0 - p)}; }

}  // namespace hipt::kmath
