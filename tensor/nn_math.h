// Per-element formulas and row-statistics merges of the fused nn ops (softmax, cross-entropy,
// layer_norm, gelu), shared by the CPU kernels (tensor/cpu/) and the CUDA kernels (cuda/nn.cu).
// T is float or double; bf16 data computes in float. tests/test_cuda_nn.cpp checks each function
// against a double (or long double) reference.
#pragma once
#include <math.h>

#include "tensor/hd.h"

namespace hipt::nn_math {

// The libm calls, overloaded on float and double: the same names resolve to glibc on the host and
// to the CUDA math library in device code.
HIPT_HD float hd_exp(float x) { return ::expf(x); }
HIPT_HD double hd_exp(double x) { return ::exp(x); }
HIPT_HD float hd_log(float x) { return ::logf(x); }
HIPT_HD double hd_log(double x) { return ::log(x); }
HIPT_HD float hd_erf(float x) { return ::erff(x); }
HIPT_HD double hd_erf(double x) { return ::erf(x); }
HIPT_HD float hd_sqrt(float x) { return ::sqrtf(x); }
HIPT_HD double hd_sqrt(double x) { return ::sqrt(x); }

template <class T> HIPT_HD bool is_inf(T x) { return x == T(INFINITY) || x == -T(INFINITY); }

constexpr double kSqrtHalf = 0.70710678118654752440;    // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/√(2π)

// ---------------------------------------------------------------- gelu (exact erf form)

// gelu(x) = x Φ(x), Φ(x) = (1 + erf(x/√2)) / 2.
template <class T> HIPT_HD T gelu(T x) { return x * T(0.5) * (T(1) + hd_erf(x * T(kSqrtHalf))); }
// gelu'(x) = Φ(x) + x φ(x), φ(x) = e^(-x²/2) / √(2π); the backward is dx = g · gelu_grad(x).
template <class T> HIPT_HD T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + hd_erf(x * T(kSqrtHalf)));
  return cdf + x * T(kInvSqrt2Pi) * hd_exp(T(-0.5) * x * x);
}

// ---------------------------------------------------------------- softmax

// Running statistics of a row for softmax in one pass: the max m of the elements seen and
// Σ e^(x - m) over them. {-inf, 0} is the empty row, and the only state whose sum is 0; a -inf
// element adds nothing and a NaN makes the sum NaN (also after merging). A row whose max is ±inf
// has no meaningful sum: the kernels make it NaN (as PyTorch does), testing the max with is_inf.
template <class T> struct SoftmaxStat {
  T max;
  T sum;
};
template <class T> HIPT_HD SoftmaxStat<T> softmax_stat_empty() { return {-T(INFINITY), T(0)}; }
template <class T> HIPT_HD SoftmaxStat<T> softmax_stat_push(SoftmaxStat<T> s, T x) {
  if (x > s.max) {
    s.sum = s.sum * hd_exp(s.max - x) + T(1);  // from the empty row: 0 · e^-inf + 1
    s.max = x;
  } else if (x != -T(INFINITY)) {
    s.sum += hd_exp(x - s.max);
  }
  return s;
}
// The statistics of the concatenation of the rows behind a and b.
template <class T> HIPT_HD SoftmaxStat<T> softmax_stat_merge(SoftmaxStat<T> a, SoftmaxStat<T> b) {
  if (b.sum == T(0)) return a;  // b empty; a lone NaN seen after -inf is {-inf, NaN}, not empty
  if (a.sum == T(0)) return b;
  const T m = a.max > b.max ? a.max : b.max;
  return {m, a.sum * hd_exp(a.max - m) + b.sum * hd_exp(b.max - m)};
}

// softmax backward, dx = y ⊙ (g - Σ g⊙y): one element with dot = Σ g⊙y over the row.
template <class T> HIPT_HD T softmax_grad(T y, T g, T dot) { return y * (g - dot); }
// log_softmax backward, dx = g - e^y Σ g: one element with sum = Σ g over the row.
template <class T> HIPT_HD T log_softmax_grad(T y, T g, T sum) { return g - hd_exp(y) * sum; }

// cross-entropy backward: dx = gn · (p - onehot(target)) with gn = g / N and p the softmax.
template <class T> HIPT_HD T cross_entropy_grad(T p, T gn, bool is_target) {
  return is_target ? p * gn - gn : p * gn;
}

// ---------------------------------------------------------------- layer_norm

// Welford's running mean and sum of squared deviations m2 (variance = m2 / n), merged with Chan's
// formula: one pass over the row. Its rounding error grows with |mean| / spread, so the kernels
// push x - x[0] and add x[0] back to the mean: the shifted values are exact (Sterbenz) wherever
// the offset dominates, and centred near 0.
template <class T> struct Welford {
  T n;
  T mean;
  T m2;
};
template <class T> HIPT_HD Welford<T> welford_push(Welford<T> s, T x) {
  s.n += T(1);
  const T d = x - s.mean;
  s.mean += d / s.n;
  s.m2 += d * (x - s.mean);
  return s;
}
template <class T> HIPT_HD Welford<T> welford_merge(Welford<T> a, Welford<T> b) {
  if (b.n == T(0)) return a;
  if (a.n == T(0)) return b;
  const T n = a.n + b.n, d = b.mean - a.mean, fb = b.n / n;
  return {n, a.mean + d * fb, a.m2 + b.m2 + d * d * a.n * fb};
}

// 1 / √(var + eps) with var the biased variance (as PyTorch).
template <class T> HIPT_HD T layer_norm_rstd(T var, T eps) { return T(1) / hd_sqrt(var + eps); }
// y = (x - mean) · rstd · w + b.
template <class T> HIPT_HD T layer_norm_y(T x, T mean, T rstd, T w, T b) { return (x - mean) * rstd * w + b; }
// dx = rstd · (gw - mean(gw) - xh · mean(gw ⊙ xh)) with xh = (x - mean) · rstd and gw = g ⊙ w.
template <class T> HIPT_HD T layer_norm_dx(T rstd, T gw, T mean_gw, T xh, T mean_gw_xh) {
  return rstd * (gw - mean_gw - xh * mean_gw_xh);
}

}  // namespace hipt::nn_math
