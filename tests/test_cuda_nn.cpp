// The fused nn kernels on every device (cuda/nn.cu on the GPU, tensor/cpu/ on the CPU) and the
// formulas they share (tensor/nn_math.h).
//
// NnMath: each nn_math function on the CPU against a double or long double reference: the only
// part of the GPU arithmetic a machine without a GPU can check.
// CudaNn (OnDevice, so on the CPU and on the GPU): each op on device() against a plain double
// reference, over rows of 1, 31, 257, 1000 and 4097 elements (the GPU's warp-per-row and
// block-per-row forms), one row and many; f32, f64, and bf16 on the GPU (the CPU kernels are
// f32/f64 only). Inputs are rounded to the dtype first and the reference runs on the rounded
// values, so only a kernel's own error is measured: |got - want| <= atol + rtol·|want|, the
// tolerances per dtype stated in each test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "devices.h"
#include "tensor/backend.h"
#include "tensor/nn_math.h"
#include "tensor/nn_ops.h"
#include "testing.h"

using namespace hipt;
namespace nm = hipt::nn_math;

namespace {

using Vec = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Vec normal(int64_t n, uint64_t seed, double scale = 1, double offset = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  Vec v(static_cast<size_t>(n));
  for (double& x : v) x = offset + scale * nd(rng);
  return v;
}

Vec vals(const Tensor& t) { return ops::to_vector<double>(t); }
// v as `dtype` on `device`, and the values that tensor holds (v rounded to the dtype).
Tensor make(const Vec& v, const Shape& s, DType dtype, Device device) {
  return ops::cast(ops::from_vector(v, s), dtype).to(device);
}
Vec rounded(const Vec& v, DType dtype) { return vals(ops::cast(ops::from_vector(v, {int64_t(v.size())}), dtype)); }

struct Tol {
  double atol, rtol;
};

// Every element within tol; NaN only where the reference is NaN. Reports the worst element.
void expect_near(const Vec& got, const Vec& want, Tol tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i] || (std::isnan(want[i]) && std::isnan(got[i]))) continue;  // also ±inf
    const double excess = std::abs(got[i] - want[i]) - (tol.atol + tol.rtol * std::abs(want[i]));
    if (!(excess <= worst)) {
      worst = std::isnan(excess) ? kInf : excess;
      at = i;
    }
  }
  EXPECT_EQ(worst, 0) << what << ": element " << at << " of " << got.size() << " got " << got[at] << " want "
                      << want[at] << " (atol " << tol.atol << ", rtol " << tol.rtol << ")";
}

std::string name(DType dt) { return std::string(dtype_name(dt)); }

// Row lengths on both sides of the GPU's warp-per-row limit (1024), and row counts.
const std::vector<int64_t> kLengths = {1, 31, 257, 1000, 4097};
std::vector<int64_t> row_counts(int64_t n) { return {1, std::min<int64_t>(5000, std::max<int64_t>(67, 200000 / n))}; }

// ---- double references over row-major [rows, n]

Vec ref_softmax(const Vec& x, int64_t n, bool log) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    const double* xr = &x[r * n];
    double m = -kInf, s = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i]);
    for (int64_t i = 0; i < n; ++i) s += std::exp(xr[i] - m);
    for (int64_t i = 0; i < n; ++i)
      y[r * n + i] = std::isinf(m) ? kNaN : log ? xr[i] - m - std::log(s) : std::exp(xr[i] - m) / s;
  }
  return y;
}

Vec ref_softmax_backward(const Vec& y, const Vec& g, int64_t n, bool log) {
  Vec dx(y.size());
  for (size_t r = 0; r < y.size() / n; ++r) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += log ? g[r * n + i] : g[r * n + i] * y[r * n + i];
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = r * n + i;
      dx[k] = log ? g[k] - std::exp(y[k]) * s : y[k] * (g[k] - s);
    }
  }
  return dx;
}

double ref_cross_entropy(const Vec& x, const std::vector<int64_t>& t, int64_t C) {
  const Vec ls = ref_softmax(x, C, true);
  double s = 0;
  for (size_t r = 0; r < t.size(); ++r) s -= ls[r * C + t[r]];
  return s / static_cast<double>(t.size());
}

Vec ref_cross_entropy_backward(const Vec& x, const std::vector<int64_t>& t, int64_t C, double g) {
  Vec d = ref_softmax(x, C, false);
  const double gn = g / static_cast<double>(t.size());
  for (size_t r = 0; r < t.size(); ++r) {
    for (int64_t c = 0; c < C; ++c) d[r * C + c] *= gn;
    d[r * C + t[r]] -= gn;
  }
  return d;
}

struct LayerNormRef {
  Vec y, mean, rstd;
};
LayerNormRef ref_layer_norm(const Vec& x, int64_t D, const Vec& w, const Vec& b, double eps) {
  const size_t rows = x.size() / D;
  LayerNormRef o{Vec(x.size()), Vec(rows), Vec(rows)};
  for (size_t r = 0; r < rows; ++r) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < D; ++i) mu += x[r * D + i];
    mu /= D;
    for (int64_t i = 0; i < D; ++i) var += (x[r * D + i] - mu) * (x[r * D + i] - mu);
    var /= D;
    o.mean[r] = mu;
    o.rstd[r] = 1 / std::sqrt(var + eps);
    for (int64_t i = 0; i < D; ++i)
      o.y[r * D + i] = (x[r * D + i] - mu) * o.rstd[r] * (w.empty() ? 1 : w[i]) + (b.empty() ? 0 : b[i]);
  }
  return o;
}

struct LayerNormGrads {
  Vec dx, dw, db;
};
LayerNormGrads ref_layer_norm_backward(const Vec& g, const Vec& x, const Vec& w, const Vec& mean, const Vec& rstd,
                                       int64_t D) {
  const size_t rows = x.size() / D;
  LayerNormGrads o{Vec(x.size()), Vec(D, 0.0), Vec(D, 0.0)};
  for (size_t r = 0; r < rows; ++r) {
    Vec xh(D), gw(D);
    double a = 0, b = 0;
    for (int64_t i = 0; i < D; ++i) {
      const size_t k = r * D + i;
      xh[i] = (x[k] - mean[r]) * rstd[r];
      gw[i] = g[k] * (w.empty() ? 1 : w[i]);
      a += gw[i];
      b += gw[i] * xh[i];
      o.dw[i] += g[k] * xh[i];
      o.db[i] += g[k];
    }
    for (int64_t i = 0; i < D; ++i) o.dx[r * D + i] = rstd[r] * (gw[i] - a / D - xh[i] * b / D);
  }
  return o;
}

long double ref_gelu(long double x) { return x * 0.5L * (1 + std::erf(x / std::sqrt(2.0L))); }
long double ref_gelu_grad(long double x) {
  const long double pi = 3.141592653589793238462643383279502884L;
  return 0.5L * (1 + std::erf(x / std::sqrt(2.0L))) + x * std::exp(-0.5L * x * x) / std::sqrt(2 * pi);
}

// The statistics of row x as a GPU group of `lanes` threads builds them: each lane pushes the
// elements lane, lane + lanes, ...; then the lanes merge pairwise at distances 16, 8, ..., 1
// (the shuffle tree), lane 0 holding the result.
template <class S, class Push, class Merge> S group_stats(const std::vector<float>& x, S empty, Push push, Merge merge) {
  constexpr int kLanes = 32;
  std::vector<S> lane(kLanes, empty);
  for (size_t i = 0; i < x.size(); ++i) lane[i % kLanes] = push(lane[i % kLanes], x[i]);
  for (int d = kLanes / 2; d > 0; d /= 2)
    for (int l = 0; l < d; ++l) lane[l] = merge(lane[l], lane[l + d]);
  return lane[0];
}

std::vector<float> as_floats(const Vec& v) { return std::vector<float>(v.begin(), v.end()); }

}  // namespace

// ================================================================ nn_math on the CPU

// gelu and gelu' against long double over [-10, 10]: f32 within 2e-7·max(1, |x|) + 1e-6 relative
// (erff's error near -1 scaled by x), f64 within 1e-15·max(1, |x|) + 1e-14 relative; and the exact
// values at 0 and far out.
TEST(NnMath, GeluAndGradMatchLongDouble) {
  for (int k = -20000; k <= 20000; ++k) {
    const double x = k * 5e-4;
    const long double want = ref_gelu(x), want_grad = ref_gelu_grad(x);
    const float xf = static_cast<float>(x);
    const long double wf = ref_gelu(xf), wgf = ref_gelu_grad(xf);
    const double af = 2e-7 * std::max(1.0, std::abs(x)), ad = 1e-15 * std::max(1.0, std::abs(x));
    ASSERT_NEAR(nm::gelu(xf), wf, af + 1e-6 * std::abs(wf)) << "gelu f32 at " << xf;
    ASSERT_NEAR(nm::gelu_grad(xf), wgf, af + 1e-6 * std::abs(wgf)) << "gelu_grad f32 at " << xf;
    ASSERT_NEAR(nm::gelu(x), want, ad + 1e-14 * std::abs(want)) << "gelu f64 at " << x;
    ASSERT_NEAR(nm::gelu_grad(x), want_grad, ad + 1e-14 * std::abs(want_grad)) << "gelu_grad f64 at " << x;
  }
  EXPECT_EQ(nm::gelu(0.f), 0.f);
  EXPECT_EQ(nm::gelu_grad(0.f), 0.5f);
  EXPECT_EQ(nm::gelu_grad(0.0), 0.5);
  EXPECT_EQ(nm::gelu(12.f), 12.f);
  EXPECT_EQ(nm::gelu_grad(12.0), 1.0);
  EXPECT_EQ(nm::gelu_grad(-40.0), 0.0);
}

TEST(NnMath, IsInf) {
  EXPECT_TRUE(nm::is_inf(INFINITY));
  EXPECT_TRUE(nm::is_inf(-kInf));
  EXPECT_FALSE(nm::is_inf(std::numeric_limits<float>::max()));
  EXPECT_FALSE(nm::is_inf(kNaN));
  EXPECT_FALSE(nm::is_inf(0.0));
}

// log-sum-exp from the one-pass statistics, pushed per lane and merged as the GPU does, against a
// two-pass double lse: f32 within 2e-6 + 1e-6 relative, f64 within 1e-13 relative; rows with
// a large offset, with -inf elements (masking), and rows of one element.
TEST(NnMath, SoftmaxStatGivesLogSumExp) {
  using SF = nm::SoftmaxStat<float>;
  const auto push = [](SF s, float x) { return nm::softmax_stat_push(s, x); };
  const auto merge = [](SF a, SF b) { return nm::softmax_stat_merge(a, b); };
  uint64_t seed = 1;
  for (int64_t n : {1, 2, 31, 33, 257, 1000, 4097, 70000})
    for (double offset : {0.0, 80.0, -300.0}) {
      Vec x = rounded(normal(n, seed++, 4, offset), DType::F32);
      if (n > 2) x[1] = x[n / 2] = -kInf;
      double m = -kInf, s = 0;
      for (double v : x) m = std::max(m, v);
      for (double v : x) s += std::exp(v - m);
      const double want = m + std::log(s);
      const SF f = group_stats(as_floats(x), nm::softmax_stat_empty<float>(), push, merge);
      EXPECT_EQ(f.max, static_cast<float>(m)) << n;
      EXPECT_NEAR(f.max + std::log(f.sum), want, 2e-6 + 1e-6 * std::abs(want)) << "f32 n " << n << " offset " << offset;
      nm::SoftmaxStat<double> d = nm::softmax_stat_empty<double>();
      for (double v : x) d = nm::softmax_stat_push(d, v);
      EXPECT_NEAR(d.max + std::log(d.sum), want, 1e-13 * std::max(1.0, std::abs(want))) << "f64 n " << n;
    }
  // The empty row and -inf elements add nothing; NaN poisons the sum; merging is order-free.
  const SF empty = nm::softmax_stat_empty<float>();
  const SF one = push(empty, 2.f);
  EXPECT_EQ(one.max, 2.f);
  EXPECT_EQ(one.sum, 1.f);
  const SF masked = push(push(empty, -INFINITY), -INFINITY);
  EXPECT_EQ(masked.max, -INFINITY);
  EXPECT_EQ(masked.sum, 0.f);
  EXPECT_EQ(merge(masked, one).sum, 1.f);
  EXPECT_EQ(merge(one, masked).sum, 1.f);
  EXPECT_EQ(push(one, -INFINITY).sum, 1.f);
  EXPECT_TRUE(std::isnan(push(one, NAN).sum));
  const SF lone_nan = push(push(empty, -INFINITY), NAN);  // a lane that saw -inf, then NaN
  EXPECT_TRUE(std::isnan(merge(one, lone_nan).sum));
  EXPECT_TRUE(std::isnan(merge(lone_nan, one).sum));
  EXPECT_TRUE(std::isnan(merge(lone_nan, empty).sum));
  const SF ab = merge(push(empty, 1.f), push(empty, 3.f)), ba = merge(push(empty, 3.f), push(empty, 1.f));
  EXPECT_EQ(ab.max, 3.f);
  EXPECT_FLOAT_EQ(ab.sum, 1 + std::exp(-2.f));
  EXPECT_FLOAT_EQ(ba.sum, ab.sum);
  EXPECT_TRUE(nm::is_inf(push(one, INFINITY).max));
}

// Mean and variance as layer_norm's kernel computes them: Welford pushes of x - x[0] per lane and
// Chan merges, the shift added back to the mean. Against two-pass double on rows with offsets up
// to 1e4 times their spread: f32 mean within 1e-6 relative + 1e-6·spread, variance within 1e-5
// relative; f64 within 1e-12. (The shift makes the offset harmless: x - x[0] is exact for values
// within a factor of 2 of each other, and Welford's error grows with offset/spread.)
TEST(NnMath, WelfordMatchesTwoPassVariance) {
  using WF = nm::Welford<float>;
  uint64_t seed = 100;
  for (int64_t n : {1, 2, 31, 257, 1000, 4097, 70000})
    for (double offset : {0.0, 3.0, 1e4}) {
      const Vec x = rounded(normal(n, seed++, 1, offset), DType::F32);
      double mu = 0, m2 = 0;
      for (double v : x) mu += v;
      mu /= n;
      for (double v : x) m2 += (v - mu) * (v - mu);
      const float shift = static_cast<float>(x[0]);
      const WF f = group_stats(
          as_floats(x), WF{0, 0, 0}, [&](WF s, float v) { return nm::welford_push(s, v - shift); },
          [](WF a, WF b) { return nm::welford_merge(a, b); });
      EXPECT_EQ(f.n, static_cast<float>(n));
      EXPECT_NEAR(shift + f.mean, mu, 1e-6 * std::abs(mu) + 1e-6) << "f32 n " << n << " offset " << offset;
      EXPECT_NEAR(f.m2 / n, m2 / n, 1e-5 * (m2 / n) + 1e-12) << "f32 n " << n << " offset " << offset;
      nm::Welford<double> d{0, 0, 0};
      for (double v : x) d = nm::welford_push(d, v - x[0]);
      EXPECT_NEAR(x[0] + d.mean, mu, 1e-12 * std::max(1.0, std::abs(mu))) << "f64 n " << n;
      EXPECT_NEAR(d.m2, m2, 1e-12 * std::max(1.0, m2)) << "f64 n " << n;
    }
  const auto push = [](WF s, float x) { return nm::welford_push(s, x); };
  const auto merge = [](WF a, WF b) { return nm::welford_merge(a, b); };
  const WF a = push(WF{0, 0, 0}, 5.f);
  EXPECT_EQ(a.mean, 5.f);
  EXPECT_EQ(a.m2, 0.f);
  const WF none{0, 0, 0};
  EXPECT_EQ(merge(a, none).mean, 5.f);
  EXPECT_EQ(merge(none, a).n, 1.f);
  const WF two = merge(a, push(none, 7.f));
  EXPECT_EQ(two.mean, 6.f);
  EXPECT_EQ(two.m2, 2.f);
}

// The one-line formulas against the same algebra in long double, f32 within 2e-6 relative of
// their largest term, f64 within 1e-14.
TEST(NnMath, ElementFormulasMatchLongDouble) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-3, 3);
  for (int k = 0; k < 2000; ++k) {
    const double a = u(rng), b = u(rng), c = u(rng), d = u(rng), e = u(rng);
    const float af = float(a), bf = float(b), cf = float(c), df = float(d), ef = float(e);
    const long double A = af, B = bf, C = cf, D = df, E = ef;
    const double scale = 40;  // bounds every term below for inputs in [-3, 3]
    EXPECT_NEAR(nm::softmax_grad(af, bf, cf), A * (B - C), 2e-6 * scale);
    EXPECT_NEAR(nm::log_softmax_grad(af, bf, cf), B - std::exp(A) * C, 2e-6 * 100);
    EXPECT_NEAR(nm::cross_entropy_grad(af, bf, k % 2 == 0), A * B - (k % 2 == 0 ? B : 0), 2e-6 * scale);
    EXPECT_NEAR(nm::layer_norm_y(af, bf, cf, df, ef), (A - B) * C * D + E, 2e-6 * 200);
    EXPECT_NEAR(nm::layer_norm_dx(af, bf, cf, df, ef), A * (B - C - D * E), 2e-6 * scale);
    const long double Ad = a, Bd = b, Cd = c, Dd = d, Ed = e;
    EXPECT_NEAR(nm::softmax_grad(a, b, c), Ad * (Bd - Cd), 1e-14 * scale);
    EXPECT_NEAR(nm::log_softmax_grad(a, b, c), Bd - std::exp(Ad) * Cd, 1e-14 * 100);
    EXPECT_NEAR(nm::layer_norm_dx(a, b, c, d, e), Ad * (Bd - Cd - Dd * Ed), 1e-14 * scale);
    const double var = a * a;
    EXPECT_NEAR(nm::layer_norm_rstd(float(var), 1e-5f), 1 / std::sqrt((long double)float(var) + 1e-5L),
                1e-6 / std::sqrt(var + 1e-5));
    EXPECT_NEAR(nm::layer_norm_rstd(var, 1e-6), 1 / std::sqrt((long double)var + 1e-6L), 1e-15 / std::sqrt(var + 1e-6));
  }
  EXPECT_EQ(nm::layer_norm_rstd(0.0, 0.25), 2.0);
  EXPECT_EQ(nm::cross_entropy_grad(0.25, 4.0, true), -3.0);
  EXPECT_EQ(nm::cross_entropy_grad(0.25, 4.0, false), 1.0);
}

// ================================================================ the kernels on each device

class CudaNn : public hipt::testing::OnDevice {
 protected:
  // The CPU kernels have no bf16 form; the GPU's do.
  std::vector<DType> float_dtypes() const {
    if (on_gpu()) return {DType::F32, DType::F64, DType::BF16};
    return {DType::F32, DType::F64};
  }
};

// softmax: f32 within 1e-6 + 1e-5 relative (log: 1e-5 + 1e-5), f64 1e-12 + 1e-12, bf16 1e-3 + 1e-2
// (log 2e-2 + 1e-2), logits with spread 3 around an offset of 20.
TEST_P(CudaNn, SoftmaxMatchesDoubleReference) {
  uint64_t seed = 1;
  for (DType dt : float_dtypes())
    for (int64_t n : kLengths)
      for (int64_t rows : row_counts(n))
        for (bool log : {false, true}) {
          const Vec x = rounded(normal(rows * n, seed++, 3, 20), dt);
          const Tensor xt = make(x, {rows, n}, dt, device());
          const Tensor y = log ? ops::log_softmax(xt, -1) : ops::softmax(xt, -1);
          ASSERT_EQ(y.device(), device());
          Tol tol = dt == DType::F64 ? Tol{1e-12, 1e-12} : dt == DType::F32 ? Tol{1e-6, 1e-5} : Tol{1e-3, 1e-2};
          if (log && dt != DType::F64) tol.atol = dt == DType::F32 ? 1e-5 : 2e-2;
          expect_near(vals(y), ref_softmax(x, n, log), tol,
                      (log ? "log_softmax " : "softmax ") + name(dt) + " [" + std::to_string(rows) + ", " +
                          std::to_string(n) + "]");
        }
}

// Masked (-inf) elements give 0 (log: -inf); a row of -inf only, or holding +inf, is NaN; a NaN
// makes its row NaN, also where its thread saw nothing else (row 3: -inf but for x[0] and a NaN);
// other rows are untouched. Row lengths 40 (warp form) and 2000 (block form).
TEST_P(CudaNn, SoftmaxSpecialValues) {
  for (int64_t n : {40, 2000})
    for (bool log : {false, true}) {
      Vec x = normal(5 * n, 3);
      for (int64_t i = 0; i < n; i += 3) x[i] = -kInf;         // row 0: masked elements
      for (int64_t i = 0; i < n; ++i) x[n + i] = -kInf;        // row 1: all masked
      x[2 * n + n / 2] = kInf;                                 // row 2: +inf
      for (int64_t i = 1; i < n; ++i) x[3 * n + i] = -kInf;    // row 3: 1, -inf, ..., -inf, NaN
      x[3 * n] = 1;
      x[3 * n + n - 1] = kNaN;
      Vec want = ref_softmax(x, n, log);                       // row 4: plain
      for (int64_t i = 0; i < n; ++i) want[3 * n + i] = kNaN;  // (std::max skips the NaN)
      const Tensor y = (log ? ops::log_softmax : ops::softmax)(make(x, {5, n}, DType::F32, device()), -1);
      expect_near(vals(y), want, {1e-5, 1e-5}, std::string(log ? "log_softmax" : "softmax") + " n " + std::to_string(n));
    }
}

// Backward from the forward's output and a random gradient: f32 within 1e-5 + 1e-5 relative,
// f64 1e-12 + 1e-12, bf16 2e-2 + 1e-2.
TEST_P(CudaNn, SoftmaxBackwardMatchesDoubleReference) {
  uint64_t seed = 1000;
  for (DType dt : float_dtypes())
    for (int64_t n : kLengths)
      for (int64_t rows : row_counts(n))
        for (bool log : {false, true}) {
          const Vec y = rounded(ref_softmax(normal(rows * n, seed++, 2), n, log), dt);
          const Vec g = rounded(normal(rows * n, seed++), dt);
          const Tensor yt = make(y, {rows, n}, dt, device()), gt = make(g, {rows, n}, dt, device());
          const Tensor dx = log ? ops::log_softmax_backward(yt, gt, -1) : ops::softmax_backward(yt, gt, -1);
          const Tol tol = dt == DType::F64 ? Tol{1e-12, 1e-12} : dt == DType::F32 ? Tol{1e-5, 1e-5} : Tol{2e-2, 1e-2};
          expect_near(vals(dx), ref_softmax_backward(y, g, n, log), tol,
                      (log ? "log_softmax_backward " : "softmax_backward ") + name(dt) + " [" +
                          std::to_string(rows) + ", " + std::to_string(n) + "]");
        }
}

// Loss and its gradient with i64 and i32 targets: f32 loss within 1e-5 relative, gradient
// 1e-6·g/N + 1e-5 relative; f64 1e-12. Two runs give the same bits (no atomics).
TEST_P(CudaNn, CrossEntropyMatchesDoubleReference) {
  uint64_t seed = 2000;
  for (DType dt : {DType::F32, DType::F64})
    for (DType tdt : {DType::I64, DType::I32})
      for (int64_t C : kLengths)
        for (int64_t N : row_counts(C)) {
          const Vec x = rounded(normal(N * C, seed++, 3, -5), dt);
          std::vector<int64_t> t(static_cast<size_t>(N));
          std::mt19937_64 rng(seed++);
          for (auto& v : t) v = static_cast<int64_t>(rng() % static_cast<uint64_t>(C));
          const Tensor xt = make(x, {N, C}, dt, device());
          const Tensor tt = ops::cast(ops::from_vector(t, {N}), tdt).to(device());
          const std::string what = "cross_entropy " + name(dt) + " target " + name(tdt) + " [" + std::to_string(N) +
                                   ", " + std::to_string(C) + "]";
          const Tensor loss = ops::cross_entropy(xt, tt);
          const double want = ref_cross_entropy(x, t, C);
          EXPECT_NEAR(loss.item(), want, (dt == DType::F32 ? 1e-5 : 1e-12) * std::max(1.0, std::abs(want))) << what;
          EXPECT_EQ(ops::cross_entropy(xt, tt).item(), loss.item()) << what << ": not deterministic";
          const double g = 0.7;
          const Tensor dx = ops::cross_entropy_backward(xt, tt, ops::full({}, g, dt, device()));
          const double gn = g / static_cast<double>(N);
          const Tol tol = dt == DType::F32 ? Tol{1e-6 * gn, 1e-5} : Tol{1e-13 * gn, 1e-12};
          expect_near(vals(dx), ref_cross_entropy_backward(x, t, C, g), tol, what + " backward");
        }
}

// y, mean and rstd with every weight/bias combination, on rows offset by 3 with spread 2:
// f32 within 1e-5 + 1e-5 relative, f64 1e-12, bf16 2e-2 + 1e-2 (mean and rstd are stored in the
// input's dtype).
TEST_P(CudaNn, LayerNormMatchesDoubleReference) {
  uint64_t seed = 3000;
  const double eps = 1e-5;
  for (DType dt : float_dtypes())
    for (int64_t D : kLengths)
      for (int64_t rows : row_counts(D))
        for (int wb = 0; wb < 4; ++wb) {
          const Vec x = rounded(normal(rows * D, seed++, 2, 3), dt);
          const Vec w = wb & 1 ? rounded(normal(D, seed++, 0.5, 1), dt) : Vec();
          const Vec b = wb & 2 ? rounded(normal(D, seed++), dt) : Vec();
          const Tensor wt = w.empty() ? Tensor() : make(w, {D}, dt, device());
          const Tensor bt = b.empty() ? Tensor() : make(b, {D}, dt, device());
          Tensor mean, rstd;
          const Tensor y = ops::layer_norm(make(x, {rows, D}, dt, device()), wt, bt, eps, &mean, &rstd);
          const LayerNormRef want = ref_layer_norm(x, D, w, b, eps);
          const Tol tol = dt == DType::F64 ? Tol{1e-12, 1e-12} : dt == DType::F32 ? Tol{1e-5, 1e-5} : Tol{2e-2, 1e-2};
          const std::string what = "layer_norm " + name(dt) + " [" + std::to_string(rows) + ", " + std::to_string(D) +
                                   "]" + (w.empty() ? "" : " weight") + (b.empty() ? "" : " bias");
          ASSERT_EQ(mean.dtype(), dt);
          expect_near(vals(y), want.y, tol, what + " y");
          expect_near(vals(mean), want.mean, tol, what + " mean");
          // D = 1: var = 0, rstd = 1/√eps ≈ 316
          expect_near(vals(rstd), want.rstd, tol, what + " rstd");
        }
}

// The backward kernel itself (the table entry, so that every output can be left undefined, and
// dweight asked for without a weight): dx, dweight, dbias against double on the rounded inputs,
// including the rounded mean and rstd. f32 within 1e-5 + 1e-4 relative (dweight, dbias: 1e-6·rows
// absolute), f64 1e-11, bf16 2e-2 + 1e-2. dweight and dbias come out the same on a second run.
TEST_P(CudaNn, LayerNormBackwardMatchesDoubleReference) {
  uint64_t seed = 4000;
  const auto k = kernel("layer_norm_backward", device(), &Backend::layer_norm_backward);
  for (DType dt : float_dtypes())
    for (int64_t D : kLengths)
      for (int64_t rows : row_counts(D))
        for (int outs = 1; outs < 16; ++outs) {  // bits: dx, dweight, dbias, weight defined
          if (outs != 15 && rows * D > 5000) continue;  // every combination on the small shapes only
          const bool want_dx = outs & 1, want_dw = outs & 2, want_db = outs & 4, has_w = outs & 8;
          if (!want_dx && !want_dw && !want_db) continue;
          const Vec x = rounded(normal(rows * D, seed++, 2, 3), dt), g = rounded(normal(rows * D, seed++), dt);
          const Vec w = has_w ? rounded(normal(D, seed++, 0.5, 1), dt) : Vec();
          const LayerNormRef fwd = ref_layer_norm(x, D, Vec(), Vec(), 1e-5);
          const Vec mean = rounded(fwd.mean, dt), rstd = rounded(fwd.rstd, dt);
          const Tensor gt = make(g, {rows, D}, dt, device()), xt = make(x, {rows, D}, dt, device());
          const Tensor wt = has_w ? make(w, {D}, dt, device()) : Tensor();
          const Tensor mt = make(mean, {rows}, dt, device()), rt = make(rstd, {rows}, dt, device());
          const Tensor dx = want_dx ? ops::empty({rows, D}, dt, device()) : Tensor();
          const Tensor dw = want_dw ? ops::empty({D}, dt, device()) : Tensor();
          const Tensor db = want_db ? ops::empty({D}, dt, device()) : Tensor();
          k(dx, dw, db, gt, xt, wt, mt, rt);
          const LayerNormGrads want = ref_layer_norm_backward(g, x, w, mean, rstd, D);
          const Tol tol = dt == DType::F64 ? Tol{1e-11, 1e-11} : dt == DType::F32 ? Tol{1e-5, 1e-4} : Tol{2e-2, 1e-2};
          const Tol sum_tol = dt == DType::F32 ? Tol{1e-6 * rows, 1e-4} : tol;
          const std::string what = "layer_norm_backward " + name(dt) + " [" + std::to_string(rows) + ", " +
                                   std::to_string(D) + "] outputs " + std::to_string(outs);
          if (want_dx) expect_near(vals(dx), want.dx, tol, what + " dx");
          if (want_dw) expect_near(vals(dw), want.dw, sum_tol, what + " dweight");
          if (want_db) expect_near(vals(db), want.db, sum_tol, what + " dbias");
          if (want_dw && want_db) {
            const Tensor dw2 = ops::empty({D}, dt, device()), db2 = ops::empty({D}, dt, device());
            k(Tensor(), dw2, db2, gt, xt, wt, mt, rt);
            EXPECT_EQ(vals(dw2), vals(dw)) << what << ": dweight not deterministic";
            EXPECT_EQ(vals(db2), vals(db)) << what << ": dbias not deterministic";
          }
        }
}

// bf16 x with f32 mean and rstd (what the kernels accept besides x's own dtype, for an op that
// keeps bf16 statistics in f32): on rows offset by 100 with spread 1 (rows of 31 and 2000, warp and
// block forms), mean and rstd within f32 rounding (1e-5 relative), where bf16 storage would be off
// by ~0.2; y and dx within bf16 rounding (2e-2 + 1e-2).
TEST_P(CudaNn, LayerNormBf16WithF32Statistics) {
  if (!on_gpu()) GTEST_SKIP() << "the CPU kernels have no bf16 form";
  const auto fwd = kernel("layer_norm", device(), &Backend::layer_norm);
  const auto bwd = kernel("layer_norm_backward", device(), &Backend::layer_norm_backward);
  for (int64_t D : {31, 2000}) {
    const int64_t rows = 40;
    const Vec x = rounded(normal(rows * D, 7, 1, 100), DType::BF16), g = rounded(normal(rows * D, 8), DType::BF16);
    const Tensor xt = make(x, {rows, D}, DType::BF16, device()), gt = make(g, {rows, D}, DType::BF16, device());
    const Tensor y = ops::empty({rows, D}, DType::BF16, device()), dx = ops::empty({rows, D}, DType::BF16, device());
    const Tensor mean = ops::empty({rows}, DType::F32, device()), rstd = ops::empty({rows}, DType::F32, device());
    fwd(y, mean, rstd, xt, Tensor(), Tensor(), 1e-5);
    const LayerNormRef want = ref_layer_norm(x, D, Vec(), Vec(), 1e-5);
    const std::string what = "layer_norm bf16 with f32 statistics D " + std::to_string(D);
    expect_near(vals(mean), want.mean, {0, 1e-5}, what + " mean");
    expect_near(vals(rstd), want.rstd, {0, 1e-5}, what + " rstd");
    expect_near(vals(y), want.y, {2e-2, 1e-2}, what + " y");
    bwd(dx, Tensor(), Tensor(), gt, xt, Tensor(), mean, rstd);
    const LayerNormGrads grads = ref_layer_norm_backward(g, x, Vec(), vals(mean), vals(rstd), D);
    expect_near(vals(dx), grads.dx, {2e-2, 1e-2}, what + " dx");
  }
}

// gelu and its backward over [-8, 8] (spread 3): f32 within 1e-6 + 1e-5 relative, f64 1e-13,
// bf16 1e-3 + 1e-2.
TEST_P(CudaNn, GeluMatchesDoubleReference) {
  uint64_t seed = 5000;
  for (DType dt : float_dtypes())
    for (int64_t n : kLengths)
      for (int64_t rows : row_counts(n)) {
        Vec x = normal(rows * n, seed++, 3);
        for (double& v : x) v = std::clamp(v, -8.0, 8.0);
        x = rounded(x, dt);
        const Vec g = rounded(normal(rows * n, seed++), dt);
        const Tensor xt = make(x, {rows, n}, dt, device()), gt = make(g, {rows, n}, dt, device());
        Vec want(x.size()), want_dx(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          want[i] = static_cast<double>(ref_gelu(x[i]));
          want_dx[i] = g[i] * static_cast<double>(ref_gelu_grad(x[i]));
        }
        const Tol tol = dt == DType::F64 ? Tol{1e-13, 1e-13} : dt == DType::F32 ? Tol{1e-6, 1e-5} : Tol{1e-3, 1e-2};
        const std::string what = "gelu " + name(dt) + " [" + std::to_string(rows) + ", " + std::to_string(n) + "]";
        expect_near(vals(ops::gelu(xt)), want, tol, what);
        expect_near(vals(ops::gelu_backward(xt, gt)), want_dx, tol, what + " backward");
      }
}

// cross-entropy has no bf16 kernel on either device: the error names the op and the dtype.
TEST_P(CudaNn, CrossEntropyRefusesBf16) {
  const Tensor x = make(normal(6, 1), {2, 3}, DType::BF16, device());
  const Tensor t = ops::from_vector(std::vector<int64_t>{0, 2}, {2}).to(device());
  hipt::testing::expect_error([&] { ops::cross_entropy(x, t); }, {"cross_entropy", "bf16"});
  hipt::testing::expect_error([&] { ops::cross_entropy_backward(x, t, ops::full({}, 1.0, DType::F32, device())); },
                              {"cross_entropy", "bf16"});
}

HIPT_INSTANTIATE_ON_DEVICES(CudaNn);
