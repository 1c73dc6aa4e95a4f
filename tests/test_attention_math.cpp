// tensor/attention_math.h against a double reference: the online softmax fed in tiles gives the
// one-pass softmax, attention output and log-sum-exp; masked tiles and rows produce no NaN; the
// causal predicate; the backward's P and dS. These are the formulas cuda/flash_attention.cu runs
// on the GPU, so this is the part of that kernel a machine without a GPU checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tensor/attention_math.h"

namespace am = hipt::attention_math;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kD = 8;  // value width of the attention outputs below

std::vector<double> normal(size_t n, uint32_t seed, double sd) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0, sd);
  std::vector<double> v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

// One-pass double softmax of a row (masked scores -inf) with values v [n, kD].
struct Reference {
  double m, l, lse;
  std::vector<double> out;
};
Reference reference(const std::vector<double>& s, const std::vector<double>& v) {
  Reference r{-kInf, 0, -kInf, std::vector<double>(kD, 0.0)};
  for (double x : s) r.m = std::max(r.m, x);
  if (r.m == -kInf) return r;
  for (size_t j = 0; j < s.size(); ++j) {
    const double p = std::exp(s[j] - r.m);
    r.l += p;
    for (int d = 0; d < kD; ++d) r.out[d] += p * v[j * kD + d];
  }
  for (double& o : r.out) o /= r.l;
  r.lse = r.m + std::log(r.l);
  return r;
}

// The kernels' loop in A: the scores in tiles of the given sizes (cycled), the accumulator rescaled
// by α and fed the weights, normalised at the end.
template <class A> struct Online {
  am::OnlineSoftmax<A> st;
  A lse;
  std::vector<A> out;
};
template <class A>
Online<A> online(const std::vector<double>& s, const std::vector<double>& v, const std::vector<int64_t>& tiles) {
  Online<A> r{am::online_softmax_empty<A>(), 0, std::vector<A>(kD, A(0))};
  const int64_t n = static_cast<int64_t>(s.size());
  for (int64_t j0 = 0, t = 0; j0 < n; ++t) {
    const int64_t len = std::min<int64_t>(tiles[static_cast<size_t>(t) % tiles.size()], n - j0);
    std::vector<A> w(s.begin() + j0, s.begin() + j0 + len);
    const A alpha = am::online_softmax_tile(r.st, w.data(), len);
    for (int d = 0; d < kD; ++d) {
      A acc = r.out[d] * alpha;
      for (int64_t j = 0; j < len; ++j) acc += w[j] * static_cast<A>(v[(j0 + j) * kD + d]);
      r.out[d] = acc;
    }
    j0 += len;
  }
  const A inv = am::online_softmax_inv_l(r.st);
  for (A& o : r.out) o *= inv;
  r.lse = am::online_softmax_lse(r.st);
  return r;
}

// Relative to the reference's magnitude (max |out| for the output).
template <class A> void expect_matches(const Online<A>& got, const Reference& want, double rtol) {
  ASSERT_FALSE(std::isnan(static_cast<double>(got.st.l)));
  EXPECT_EQ(static_cast<double>(got.st.m), want.m);  // the max of the (exactly representable) scores
  EXPECT_NEAR(got.st.l, want.l, rtol * std::abs(want.l));
  EXPECT_NEAR(got.lse, want.lse, rtol * std::max(1.0, std::abs(want.lse)));
  double scale = 0;
  for (double o : want.out) scale = std::max(scale, std::abs(o));
  for (int d = 0; d < kD; ++d) EXPECT_NEAR(got.out[d], want.out[d], rtol * std::max(scale, 1e-300)) << "d " << d;
}

// Scores rounded to A, so the reference sees exactly what the online form sees.
template <class A> std::vector<double> as(std::vector<double> s) {
  for (double& x : s) x = static_cast<double>(static_cast<A>(x));
  return s;
}

}  // namespace

// A row of 72 scores in tiles of 1, 7 and 64, in that order. f32: 1e-6 relative (72 terms of
// f32 rounding, ~√72 · 6e-8 typical); f64: 1e-14.
TEST(AttentionMath, TilesOf1And7And64MatchOnePassSoftmax) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    const std::vector<double> s = as<float>(normal(72, seed, 3)), v = as<float>(normal(72 * kD, seed + 100, 1));
    expect_matches(online<float>(s, v, {1, 7, 64}), reference(s, v), 1e-6);
    expect_matches(online<double>(s, v, {1, 7, 64}), reference(s, v), 1e-14);
  }
}

// Any tiling gives the same result: one tile, tiles of 1, and a long row in tiles of 64 (f32: 1e-5
// relative for 1000 terms).
TEST(AttentionMath, AnyTilingMatchesOnePassSoftmax) {
  const std::vector<double> s = as<float>(normal(1000, 7, 4)), v = as<float>(normal(1000 * kD, 8, 1));
  const Reference want = reference(s, v);
  for (int64_t tile : {int64_t{1}, int64_t{64}, int64_t{1000}}) {
    SCOPED_TRACE(tile);
    expect_matches(online<float>(s, v, {tile}), want, 1e-5);
    expect_matches(online<double>(s, v, {tile}), want, 1e-13);
  }
}

// Scores 1e4 apart, rising and falling across tiles: the small keys vanish (e^-1e4 = 0) without
// overflow or NaN, and the output is the large key's value.
TEST(AttentionMath, ScoresFarApart) {
  const std::vector<double> v = normal(4 * kD, 3, 1);
  for (const std::vector<double>& s : {std::vector<double>{-1e4, 0, 1e4, -5}, std::vector<double>{1e4, -1e4, 0, 5}}) {
    const Reference want = reference(s, v);
    const Online<float> got = online<float>(as<float>(s), as<float>(v), {1, 2});
    EXPECT_EQ(got.st.m, 1e4f);
    EXPECT_FLOAT_EQ(got.st.l, 1.0f);
    EXPECT_FLOAT_EQ(got.lse, 1e4f);
    const size_t big = s[0] == 1e4 ? 0 : 2;
    for (int d = 0; d < kD; ++d) EXPECT_NEAR(got.out[d], static_cast<float>(v[big * kD + d]), 1e-6) << d;
    expect_matches(online<double>(s, v, {1, 2}), want, 1e-14);
  }
}

// A tile of masked keys (-inf) before, between or after visible ones changes nothing: α is 1 while
// nothing is visible, and the weights are 0.
TEST(AttentionMath, MaskedTilesChangeNothing) {
  const std::vector<double> v = as<float>(normal(12 * kD, 5, 1)), s0 = as<float>(normal(12, 6, 2));
  std::vector<double> masked = s0;
  for (int j : {0, 1, 2, 3, 8, 9, 10, 11}) masked[static_cast<size_t>(j)] = -kInf;  // tiles 0, 2 of 4
  const Reference want = reference(masked, v);
  expect_matches(online<float>(masked, v, {4}), want, 1e-6);
  expect_matches(online<double>(masked, v, {4}), want, 1e-14);

  am::OnlineSoftmax<float> st = am::online_softmax_empty<float>();
  EXPECT_EQ(am::online_softmax_rescale(st, -INFINITY), 1.0f);  // empty, stays empty
  EXPECT_EQ(st.m, -INFINITY);
  EXPECT_EQ(st.l, 0.0f);
  EXPECT_EQ(am::online_softmax_weight(st, -INFINITY), 0.0f);
  EXPECT_EQ(am::online_softmax_rescale(st, 2.0f), 0.0f);  // the first visible tile: e^(-inf - 2)
  EXPECT_EQ(st.m, 2.0f);
  am::online_softmax_add(st, 1.5f);
  EXPECT_EQ(am::online_softmax_rescale(st, -INFINITY), 1.0f);  // a masked tile after visible ones
  EXPECT_EQ(st.m, 2.0f);
  EXPECT_EQ(st.l, 1.5f);
  EXPECT_FLOAT_EQ(am::online_softmax_rescale(st, 3.0f), std::exp(-1.0f));
  EXPECT_FLOAT_EQ(st.l, 1.5f * std::exp(-1.0f));
}

// A row that sees no key: output 0 and lse -inf, never NaN.
TEST(AttentionMath, RowWithNoVisibleKey) {
  const std::vector<double> s(9, -kInf), v = normal(9 * kD, 2, 1);
  const Online<float> got = online<float>(s, v, {4});
  EXPECT_EQ(got.st.l, 0.0f);
  EXPECT_EQ(got.lse, -INFINITY);
  for (float o : got.out) EXPECT_EQ(o, 0.0f);
  EXPECT_EQ(am::online_softmax_inv_l(got.st), 0.0f);
  EXPECT_EQ(am::attention_prob(-INFINITY, -INFINITY), 0.0f);
  EXPECT_EQ(am::attention_prob(3.0, -kInf), 0.0);
}

// A single key: l = 1, lse = its score, output = its value.
TEST(AttentionMath, SingleKey) {
  const std::vector<double> v = as<float>(normal(kD, 4, 1));
  const Online<float> got = online<float>({-2.5}, v, {64});
  EXPECT_EQ(got.st.m, -2.5f);
  EXPECT_EQ(got.st.l, 1.0f);
  EXPECT_EQ(got.lse, -2.5f);
  for (int d = 0; d < kD; ++d) EXPECT_EQ(got.out[d], static_cast<float>(v[d]));
}

TEST(AttentionMath, CausalPredicate) {
  EXPECT_TRUE(am::causal_visible(0, 0));
  EXPECT_TRUE(am::causal_visible(5, 0));
  EXPECT_TRUE(am::causal_visible(5, 5));
  EXPECT_FALSE(am::causal_visible(5, 6));
  EXPECT_FALSE(am::causal_visible(0, 1));
  EXPECT_TRUE(am::causal_visible(int64_t{1} << 40, (int64_t{1} << 40) - 1));
  EXPECT_FALSE(am::causal_visible((int64_t{1} << 40) - 1, int64_t{1} << 40));
}

// P from the lse of the online pass equals the double softmax; dS = P (dP - Δ) with Δ = Σ P dP
// equals the double softmax gradient, and sums to 0 over the row.
TEST(AttentionMath, BackwardProbAndScoreGrad) {
  const std::vector<double> s = as<float>(normal(100, 11, 3)), dp = as<float>(normal(100, 12, 1));
  const std::vector<double> v(100 * kD, 0.0);
  const Online<float> f = online<float>(s, v, {1, 7, 64});
  const Reference r = reference(s, v);
  double delta = 0;
  std::vector<double> p(100);
  for (size_t j = 0; j < 100; ++j) {
    p[j] = std::exp(s[j] - r.lse);
    delta += p[j] * dp[j];
  }
  float ds_sum = 0;
  for (size_t j = 0; j < 100; ++j) {
    const float pf = am::attention_prob(static_cast<float>(s[j]), f.lse);
    EXPECT_NEAR(pf, p[j], 1e-5 * p[j] + 1e-12) << j;  // e^(s - lse): lse's 1e-6 error times |s - lse|
    const float ds = am::attention_score_grad(pf, static_cast<float>(dp[j]), static_cast<float>(delta));
    EXPECT_NEAR(ds, p[j] * (dp[j] - delta), 1e-5 * std::abs(p[j]) * (std::abs(dp[j]) + std::abs(delta))) << j;
    ds_sum += ds;
    const double pd = am::attention_prob(s[j], r.lse);
    EXPECT_NEAR(pd, p[j], 1e-15);
    EXPECT_NEAR(am::attention_score_grad(pd, dp[j], delta), p[j] * (dp[j] - delta), 1e-15);
  }
  EXPECT_NEAR(ds_sum, 0.0f, 1e-5);
}
