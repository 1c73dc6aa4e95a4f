// Tests of the fused nn ops (tensor/nn_ops.h, autograd/nn_functions.h). Each op is checked three
// ways: against a plain double-precision loop written here, against its unfused composition of
// autograd/functions.h primitives (the oracle the fused op replaces), and by gradcheck in f64.
// Tolerances: |got - want| <= atol + rtol·|want|, stated per test. f32 inputs are rounded first and
// the reference runs on the rounded values, so only the kernel's own error is measured.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "autograd/gradcheck.h"
#include "autograd/nn_functions.h"
#include "tensor/cpu/vec_rows.h"
#include "tensor/parallel.h"

using namespace hipt;
using ::testing::HasSubstr;

namespace {

using Vec = std::vector<double>;

Tensor randn(const Shape& s, DType dt, uint64_t seed, double scale = 1.0, double offset = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  Vec v(static_cast<size_t>(s.numel()));
  for (double& x : v) x = offset + scale * nd(rng);
  return ops::cast(ops::from_vector(v, s), dt);
}

Vec vals(const Tensor& t) { return ops::to_vector<double>(t); }

void expect_close(const Vec& got, const Vec& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double excess = std::abs(got[i] - want[i]) - (atol + rtol * std::abs(want[i]));
    if (!(excess <= worst)) {  // NaN counts as a failure
      worst = std::isnan(excess) ? INFINITY : excess;
      at = i;
    }
  }
  EXPECT_EQ(worst, 0) << what << ": element " << at << " got " << got[at] << " want " << want[at] << " (rtol "
                      << rtol << ", atol " << atol << ")";
}

double rtol_of(DType dt) { return dt == DType::F32 ? 1e-5 : 1e-12; }

// ---- plain references over a row-major [rows, n] array

Vec ref_softmax(const Vec& x, int64_t n, bool log) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    const double* xr = &x[r * n];
    double m = -INFINITY, s = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i]);
    for (int64_t i = 0; i < n; ++i) s += std::exp(xr[i] - m);
    for (int64_t i = 0; i < n; ++i) y[r * n + i] = log ? xr[i] - m - std::log(s) : std::exp(xr[i] - m) / s;
  }
  return y;
}

Vec ref_layer_norm(const Vec& x, int64_t D, const Vec& w, const Vec& b, double eps) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / D; ++r) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < D; ++i) mu += x[r * D + i];
    mu /= D;
    for (int64_t i = 0; i < D; ++i) var += (x[r * D + i] - mu) * (x[r * D + i] - mu);
    var /= D;
    for (int64_t i = 0; i < D; ++i)
      y[r * D + i] = (x[r * D + i] - mu) / std::sqrt(var + eps) * (w.empty() ? 1 : w[i]) + (b.empty() ? 0 : b[i]);
  }
  return y;
}

double ref_gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

// q [BH, Tq, D], k/v [BH, Tk, D] row-major -> out [BH, Tq, D], probs [BH, Tq, Tk]
void ref_attention(const Vec& q, const Vec& k, const Vec& v, int64_t BH, int64_t Tq, int64_t Tk, int64_t D,
                   double scale, Vec* out, Vec* probs) {
  out->assign(BH * Tq * D, 0);
  probs->assign(BH * Tq * Tk, 0);
  for (int64_t h = 0; h < BH; ++h)
    for (int64_t i = 0; i < Tq; ++i) {
      Vec s(Tk);
      for (int64_t j = 0; j < Tk; ++j) {
        for (int64_t d = 0; d < D; ++d) s[j] += q[(h * Tq + i) * D + d] * k[(h * Tk + j) * D + d];
        s[j] *= scale;
      }
      Vec p = ref_softmax(s, Tk, false);
      for (int64_t j = 0; j < Tk; ++j) {
        (*probs)[(h * Tq + i) * Tk + j] = p[j];
        for (int64_t d = 0; d < D; ++d) (*out)[(h * Tq + i) * D + d] += p[j] * v[(h * Tk + j) * D + d];
      }
    }
}

// The unfused compositions the fused ops replace.
Tensor unfused_softmax(const Tensor& x, int dim) {
  Tensor e = exp(sub(x, max(x, dim, true)));
  return div(e, sum(e, dim, true));
}
Tensor unfused_log_softmax(const Tensor& x, int dim) {
  Tensor z = sub(x, max(x, dim, true));
  return sub(z, log(sum(exp(z), dim, true)));
}
Tensor unfused_layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  Tensor xc = sub(x, mean(x, -1, true));
  Tensor y = mul(xc, rsqrt(add(mean(mul(xc, xc), -1, true), eps)));
  if (w.defined()) y = mul(y, w);
  if (b.defined()) y = add(y, b);
  return y;
}
Tensor unfused_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  return matmul(unfused_softmax(mul(matmul(q, k, false, true), scale), -1), v);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Reads the gradient a backward left on each input.
std::vector<Vec> grads_of(const std::vector<Tensor>& xs) {
  std::vector<Vec> g;
  for (const Tensor& x : xs) g.push_back(vals(x.grad()));
  return g;
}

}  // namespace

// ================================================================ vector exp

// The f32 exp behind softmax and attention, against the correctly rounded exp (double exp, then
// rounded to float): at most 1 ulp over the whole normal range, both in the scalar form and in
// the vector loop (exp_sum, AVX2 on CPUs that have it, whose tail runs the scalar form).
TEST(NnOpsVec, ExpWithinOneUlp) {
  std::vector<float> x;
  for (float v = -87.3f; v < 88.3f; v += 0.00731f) x.push_back(v);
  for (float v = -1.f; v < 1.f; v += 1.3e-5f) x.push_back(v);
  std::vector<float> y(x.size());
  cpu::vec::exp_sum(y.data(), x.data(), 0.f, static_cast<int64_t>(x.size()));
  auto ulps = [](float a, float b) {
    int32_t ia, ib;
    std::memcpy(&ia, &a, 4);
    std::memcpy(&ib, &b, 4);
    return std::abs(static_cast<int64_t>(ia) - ib);
  };
  int64_t worst_vec = 0, worst_scalar = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    float want = static_cast<float>(std::exp(static_cast<double>(x[i])));
    worst_vec = std::max(worst_vec, ulps(y[i], want));
    worst_scalar = std::max(worst_scalar, ulps(cpu::vec::exp(x[i]), want));
  }
  EXPECT_LE(worst_vec, 1);
  EXPECT_LE(worst_scalar, 1);
  // Out of range: inf above, NaN stays NaN, in both forms; below ln(FLT_MIN) the result is
  // flushed to 0 where std::exp gives a denormal (absolute error < FLT_MIN).
  std::vector<float> edge = {-88.f, -100.f, -1e30f, 89.f, 1e30f, NAN, -INFINITY, INFINITY, 0.f};
  std::vector<float> ye(edge.size());
  cpu::vec::exp_sum(ye.data(), edge.data(), 0.f, static_cast<int64_t>(edge.size()));
  for (size_t i = 0; i < edge.size(); ++i) {
    float want = std::exp(edge[i]);
    if (want < std::numeric_limits<float>::min()) want = 0;
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(ye[i]) && std::isnan(cpu::vec::exp(edge[i]))) << edge[i];
    } else {
      EXPECT_EQ(ye[i], want) << edge[i];
      EXPECT_EQ(cpu::vec::exp(edge[i]), want) << edge[i];
    }
  }
}

// ================================================================ softmax, log_softmax

// Forward vs the double loop on contiguous and strided views, along the last and an inner dim.
// f32: rtol 1e-5, atol 1e-7 (probabilities; log-probabilities get atol 1e-6); f64: rtol 1e-12.
TEST(NnOpsSoftmax, ForwardMatchesDoubleReference) {
  for (DType dt : {DType::F32, DType::F64}) {
    for (bool log : {false, true}) {
      const double atol = dt == DType::F32 ? (log ? 1e-6 : 1e-7) : 1e-14;
      Tensor base = randn({6, 10, 257}, dt, 1, 3.0);
      std::vector<std::pair<std::string, Tensor>> cases = {
          {"contiguous", base},
          {"transposed", ops::transpose(base, 1, 2)},          // [6, 257, 10], last dim strided
          {"sliced", ops::slice(base, 2, 1, 257, 3)},          // [6, 10, 86], step 3
          {"rows of 1", ops::slice(base, 2, 0, 1)},
      };
      for (auto& [name, x] : cases) {
        for (int dim : {-1, 0, 1}) {
          Tensor y = log ? ops::log_softmax(x, dim) : ops::softmax(x, dim);
          // The reference runs along the last dim of the same values permuted so that `dim` is last.
          int d = dim < 0 ? dim + x.dim() : dim;
          std::vector<int> order;
          for (int i = 0; i < x.dim(); ++i)
            if (i != d) order.push_back(i);
          order.push_back(d);
          Vec want = ref_softmax(vals(ops::permute(x, order)), x.shape()[d], log);
          expect_close(vals(ops::permute(y, order)), want, rtol_of(dt), atol,
                       fmt::format("{} {} {} dim {}", log ? "log_softmax" : "softmax", dtype_name(dt), name, dim));
        }
      }
    }
  }
}

// The fused op vs exp(x - max) / sum(...) and its log form, values and gradients (f64 autograd on
// both sides): rtol 1e-12. f32 values: rtol 1e-5.
TEST(NnOpsSoftmax, MatchesUnfusedComposition) {
  for (bool log : {false, true}) {
    for (int dim : {-1, 1}) {
      Tensor x32 = randn({4, 9, 33}, DType::F32, 2, 2.0);
      auto fused = [&](const Tensor& x) { return log ? log_softmax(x, dim) : softmax(x, dim); };
      auto unfused = [&](const Tensor& x) { return log ? unfused_log_softmax(x, dim) : unfused_softmax(x, dim); };
      expect_close(vals(fused(x32)), vals(unfused(x32)), 1e-5, 1e-6, "f32 values");

      Tensor a = randn({4, 9, 33}, DType::F64, 3).requires_grad_(), b = ops::clone(a).requires_grad_();
      Tensor r = randn({4, 9, 33}, DType::F64, 4);
      Tensor ya = fused(a), yb = unfused(b);
      expect_close(vals(ya), vals(yb), 1e-12, 1e-14, "f64 values");
      backward(sum(mul(ya, r)));
      backward(sum(mul(yb, r)));
      expect_close(vals(a.grad()), vals(b.grad()), 1e-11, 1e-13, "f64 gradients");
    }
  }
}

TEST(NnOpsSoftmax, Gradcheck) {
  for (int dim : {-1, 0}) {
    auto r1 = gradcheck([dim](const std::vector<Tensor>& x) { return softmax(x[0], dim); },
                        {randn({3, 5}, DType::F64, 5).requires_grad_()});
    EXPECT_TRUE(r1.ok) << r1.report;
    auto r2 = gradcheck([dim](const std::vector<Tensor>& x) { return log_softmax(x[0], dim); },
                        {randn({3, 5}, DType::F64, 6).requires_grad_()});
    EXPECT_TRUE(r2.ok) << r2.report;
  }
}

// Logits of 1e4 would overflow a plain exp; rows of length 1 are exactly 1 (log: 0).
TEST(NnOpsSoftmax, LargeLogitsAndRowsOfOne) {
  Tensor x = randn({5, 300}, DType::F32, 7, 1e4);
  for (double s : vals(ops::sum(ops::softmax(x), -1))) EXPECT_NEAR(s, 1.0, 1e-5);
  for (double v : vals(ops::log_softmax(x))) EXPECT_TRUE(std::isfinite(v) || v == -INFINITY);
  expect_close(vals(ops::log_softmax(x)), ref_softmax(vals(x), 300, true), 1e-5, 1e-2, "log_softmax at 1e4");
  Tensor one = randn({4, 1}, DType::F32, 8, 1e4);
  expect_close(vals(ops::softmax(one)), Vec(4, 1.0), 0, 0, "softmax of rows of 1");
  expect_close(vals(ops::log_softmax(one)), Vec(4, 0.0), 0, 0, "log_softmax of rows of 1");
  Tensor g = randn({4, 1}, DType::F32, 9);
  expect_close(vals(ops::softmax_backward(ops::softmax(one), g)), Vec(4, 0.0), 0, 1e-7, "softmax grad, rows of 1");
}

TEST(NnOpsSoftmax, ErrorMessages) {
  Tensor x = randn({2, 3}, DType::F32, 1);
  EXPECT_THAT(error_of([&] { ops::softmax(x, 2); }), HasSubstr("softmax"));
  EXPECT_THAT(error_of([&] { ops::softmax(ops::zeros({2, 3}, DType::I64)); }),
              HasSubstr("softmax: dtype i64 not supported"));
  EXPECT_THAT(error_of([&] { ops::softmax_backward(x, randn({3, 2}, DType::F32, 2)); }),
              HasSubstr("softmax_backward: output [2, 3] does not match gradient [3, 2]"));
}

// ================================================================ cross_entropy

// Forward vs the double loop (f32: rtol 1e-5; f64: 1e-12), vs -mean(gather(log_softmax)) built
// from primitives (values and gradients, f64 rtol 1e-12), and gradcheck.
TEST(NnOpsCrossEntropy, MatchesReferenceAndComposition) {
  const int64_t N = 37, C = 11;
  std::vector<int64_t> t(N);
  for (int64_t i = 0; i < N; ++i) t[i] = (i * 7 + 3) % C;
  Tensor target = ops::from_vector(t, {N});
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = randn({N, C}, dt, 11, 4.0);
    Vec lp = ref_softmax(vals(x), C, true);
    double want = 0;
    for (int64_t i = 0; i < N; ++i) want -= lp[i * C + t[i]] / N;
    expect_close({ops::cross_entropy(x, target).item()}, {want}, rtol_of(dt), 0, "cross_entropy forward");
    // a transposed view of the logits
    Tensor xt = ops::transpose(ops::contiguous(ops::transpose(x, 0, 1)), 0, 1);
    expect_close({ops::cross_entropy(xt, target).item()}, {want}, rtol_of(dt), 0, "cross_entropy, strided logits");
  }
  Tensor a = randn({N, C}, DType::F64, 12, 3.0).requires_grad_(), b = ops::clone(a).requires_grad_();
  Tensor la = cross_entropy(a, target);
  Tensor lb = neg(mean(gather(log_softmax(b, -1), 1, ops::unsqueeze(target, 1))));
  expect_close({la.item()}, {lb.item()}, 1e-12, 0, "vs composition");
  backward(la);
  backward(lb);
  expect_close(vals(a.grad()), vals(b.grad()), 1e-12, 1e-15, "gradients vs composition");

  Tensor small_t = ops::from_vector<int64_t>({2, 0, 3}, {3});
  auto r = gradcheck([&](const std::vector<Tensor>& x) { return cross_entropy(x[0], small_t); },
                     {randn({3, 4}, DType::F64, 13).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.report;
  // i32 targets work the same
  Tensor t32 = ops::cast(target, DType::I32);
  Tensor x = randn({N, C}, DType::F64, 14);
  EXPECT_EQ(ops::cross_entropy(x, t32).item(), ops::cross_entropy(x, target).item());
}

TEST(NnOpsCrossEntropy, LargeLogitsStayFinite) {
  Tensor x = randn({8, 50}, DType::F32, 15, 1e4);
  Tensor t = ops::from_vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
  double loss = ops::cross_entropy(x, t).item();
  EXPECT_TRUE(std::isfinite(loss));
  Vec lp = ref_softmax(vals(x), 50, true);
  double want = 0;
  for (int i = 0; i < 8; ++i) want -= lp[i * 50 + i] / 8;
  EXPECT_NEAR(loss, want, 1e-5 * std::abs(want));
  for (double g : vals(ops::cross_entropy_backward(x, t, ops::scalar(1.0)))) EXPECT_TRUE(std::isfinite(g));
}

TEST(NnOpsCrossEntropy, ErrorMessages) {
  Tensor x = randn({3, 5}, DType::F32, 1);
  EXPECT_EQ(error_of([&] { ops::cross_entropy(x, ops::from_vector<int64_t>({0, 5, 1}, {3})); }),
            "cross_entropy: target 5 at index 1 is out of range [0, 5) for logits [3, 5]");
  EXPECT_THAT(error_of([&] { ops::cross_entropy(x, ops::from_vector<int64_t>({0, -1, 1}, {3})); }),
              HasSubstr("target -1 at index 1 is out of range [0, 5)"));
  EXPECT_THAT(error_of([&] { ops::cross_entropy(x, ops::from_vector<int64_t>({0, 1}, {2})); }),
              HasSubstr("cross_entropy: target [2] does not match logits [3, 5]"));
  EXPECT_THAT(error_of([&] { ops::cross_entropy(ops::reshape(x, {15}), ops::from_vector<int64_t>({0}, {1})); }),
              HasSubstr("cross_entropy: logits must be [N, C], got [15]"));
  EXPECT_THAT(error_of([&] { ops::cross_entropy(x, randn({3}, DType::F32, 2)); }),
              HasSubstr("cross_entropy: target must be i64 or i32"));
}

// ================================================================ layer_norm

// Forward vs the double loop (rows with offset 3 and scale 2, eps 1e-6 as HIPT), with and without
// weight/bias, on a contiguous and a transposed x; mean and rstd too. f32: rtol 1e-5 with atol
// 1e-6 (outputs are O(1); measured error is ~1e-7); f64: rtol 1e-12.
TEST(NnOpsLayerNorm, ForwardMatchesDoubleReference) {
  const double eps = 1e-6;
  for (DType dt : {DType::F32, DType::F64}) {
    const double atol = dt == DType::F32 ? 1e-6 : 1e-13;
    Tensor base = randn({3, 384, 17}, dt, 21, 2.0, 3.0);
    Tensor w = randn({384}, dt, 22), b = randn({384}, dt, 23);
    for (auto& [name, x] : std::vector<std::pair<std::string, Tensor>>{
             {"contiguous", ops::contiguous(ops::transpose(base, 1, 2))}, {"transposed", ops::transpose(base, 1, 2)}}) {
      for (bool affine : {true, false}) {
        Tensor mean, rstd;
        Tensor y = ops::layer_norm(x, affine ? w : Tensor(), affine ? b : Tensor(), eps, &mean, &rstd);
        Vec xv = vals(x);
        Vec want = ref_layer_norm(xv, 384, affine ? vals(w) : Vec(), affine ? vals(b) : Vec(), eps);
        expect_close(vals(y), want, rtol_of(dt), atol, fmt::format("layer_norm {} {} affine={}", dtype_name(dt), name, affine));
        double mu = 0, var = 0;
        for (int i = 0; i < 384; ++i) mu += xv[i] / 384;
        for (int i = 0; i < 384; ++i) var += (xv[i] - mu) * (xv[i] - mu) / 384;
        EXPECT_NEAR(vals(mean)[0], mu, rtol_of(dt) * std::abs(mu));
        EXPECT_NEAR(vals(rstd)[0], 1 / std::sqrt(var + eps), rtol_of(dt) / std::sqrt(var));
        EXPECT_EQ(mean.shape(), Shape({3 * 17}));
      }
    }
  }
}

// The fused op vs (x - mean) · rsqrt(var + eps) · w + b from primitives: values (f32 rtol 1e-5) and
// all three gradients (f64, rtol 1e-10).
TEST(NnOpsLayerNorm, MatchesUnfusedComposition) {
  Tensor x32 = randn({5, 7, 48}, DType::F32, 31, 1.5, -2.0);
  Tensor w32 = randn({48}, DType::F32, 32), b32 = randn({48}, DType::F32, 33);
  expect_close(vals(layer_norm(x32, w32, b32, 1e-6)), vals(unfused_layer_norm(x32, w32, b32, 1e-6)), 1e-5, 1e-5,
               "f32 values");
  std::vector<Tensor> a = {randn({5, 7, 48}, DType::F64, 34), randn({48}, DType::F64, 35), randn({48}, DType::F64, 36)};
  std::vector<Tensor> b;
  for (Tensor& t : a) {
    t.requires_grad_();
    b.push_back(ops::clone(t).requires_grad_());
  }
  Tensor r = randn({5, 7, 48}, DType::F64, 37);
  backward(sum(mul(layer_norm(a[0], a[1], a[2], 1e-5), r)));
  backward(sum(mul(unfused_layer_norm(b[0], b[1], b[2], 1e-5), r)));
  auto ga = grads_of(a), gb = grads_of(b);
  for (int i = 0; i < 3; ++i) expect_close(ga[i], gb[i], 1e-10, 1e-12, fmt::format("gradient {}", i));
}

TEST(NnOpsLayerNorm, Gradcheck) {
  auto r = gradcheck([](const std::vector<Tensor>& x) { return layer_norm(x[0], x[1], x[2], 1e-6); },
                     {randn({2, 3, 6}, DType::F64, 41).requires_grad_(), randn({6}, DType::F64, 42).requires_grad_(),
                      randn({6}, DType::F64, 43).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.report;
  auto r2 = gradcheck([](const std::vector<Tensor>& x) { return layer_norm(x[0], Tensor(), Tensor(), 1e-6); },
                      {randn({4, 5}, DType::F64, 44).requires_grad_()});
  EXPECT_TRUE(r2.ok) << r2.report;
  // only the weight asks for a gradient: x's is never computed
  Tensor x = randn({4, 5}, DType::F64, 45), w = randn({5}, DType::F64, 46).requires_grad_();
  auto r3 = gradcheck([](const std::vector<Tensor>& t) { return layer_norm(t[0], t[1], Tensor(), 1e-6); }, {x, w});
  EXPECT_TRUE(r3.ok) << r3.report;
  EXPECT_FALSE(x.grad().defined());
}

// The weight/bias gradients reduce over rows in fixed chunks: bitwise the same on 1 and 2 threads.
TEST(NnOpsLayerNorm, BackwardDeterministicAcrossThreadCounts) {
  Tensor x = randn({2056, 384}, DType::F32, 51), g = randn({2056, 384}, DType::F32, 52);
  Tensor w = randn({384}, DType::F32, 53), mean, rstd;
  ops::layer_norm(x, w, Tensor(), 1e-6, &mean, &rstd);
  const int keep = num_threads();
  std::vector<Vec> runs;
  for (int n : {1, 2}) {
    set_num_threads(n);
    Tensor dx, dw, db;
    ops::layer_norm_backward(g, x, w, mean, rstd, &dx, &dw, &db);
    runs.push_back(vals(dw));
    Vec d = vals(db);
    runs.back().insert(runs.back().end(), d.begin(), d.end());
  }
  set_num_threads(keep);
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(NnOpsLayerNorm, ErrorMessages) {
  Tensor x = randn({2, 3, 4}, DType::F32, 1);
  EXPECT_EQ(error_of([&] { ops::layer_norm(x, randn({5}, DType::F32, 2), Tensor(), 1e-6); }),
            "layer_norm: weight [5] does not match the last dim of x [2, 3, 4]");
  EXPECT_EQ(error_of([&] { ops::layer_norm(x, Tensor(), randn({4, 1}, DType::F32, 2), 1e-6); }),
            "layer_norm: bias [4, 1] does not match the last dim of x [2, 3, 4]");
  EXPECT_THAT(error_of([&] { ops::layer_norm(x, randn({4}, DType::F64, 2), Tensor(), 1e-6); }),
              HasSubstr("layer_norm: weight f64[4] cpu and x f32[2, 3, 4] cpu differ in dtype"));
}

// ================================================================ gelu

// Forward vs 0.5 x (1 + erf(x/√2)) in double (f32 rtol 1e-6, atol 1e-7; f64 rtol 1e-12) on a
// strided view, vs the same formula from primitives, and gradcheck.
TEST(NnOpsGelu, MatchesReferenceCompositionAndGradcheck) {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor base = randn({64, 50}, dt, 61, 3.0);
    Tensor x = ops::slice(ops::transpose(base, 0, 1), 1, 0, 64, 2);  // [50, 32], both dims strided
    Vec xv = vals(x), want(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) want[i] = ref_gelu(xv[i]);
    expect_close(vals(ops::gelu(x)), want, dt == DType::F32 ? 1e-6 : 1e-12, dt == DType::F32 ? 1e-7 : 1e-15,
                 fmt::format("gelu {}", dtype_name(dt)));
    Tensor unfused = mul(mul(x, 0.5), add(erf(mul(x, 1 / std::sqrt(2.0))), 1.0));
    expect_close(vals(gelu(x)), vals(unfused), dt == DType::F32 ? 1e-6 : 1e-12, 1e-7, "gelu vs composition");
  }
  // f32 backward (the vector path) vs the derivative in double: rtol 1e-6, atol 2e-7.
  Tensor x = randn({3000}, DType::F32, 63, 3.0), g = randn({3000}, DType::F32, 64);
  Vec xv = vals(x), gv = vals(g), want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i)
    want[i] = gv[i] * (0.5 * (1 + std::erf(xv[i] / std::sqrt(2.0))) +
                       xv[i] * std::exp(-0.5 * xv[i] * xv[i]) / std::sqrt(2 * M_PI));
  expect_close(vals(ops::gelu_backward(x, g)), want, 1e-6, 2e-7, "gelu_backward f32");
  auto r = gradcheck([](const std::vector<Tensor>& x) { return gelu(x[0]); },
                     {randn({3, 7}, DType::F64, 62, 2.0).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.report;
  Tensor big = ops::from_vector<float>({-1e4f, -30.f, 0.f, 30.f, 1e4f}, {5});
  expect_close(vals(ops::gelu(big)), {-0.0, -0.0, 0.0, 30.0, 1e4}, 0, 0, "gelu saturation");
}

// ================================================================ attention

// Forward and probs vs the double loop. q/k/v are the model's layout: views into one qkv tensor
// [B, T, 3, H, D] permuted to [B, H, T, D] (row stride 3·H·D), read in place. f32: rtol 1e-5, atol
// 1e-6 with unit-variance q, k (scores of O(1): an f32 score carries ~1e-7·Σ|q k| of GEMM rounding,
// which exp turns into relative error of the probabilities); f64: rtol 1e-12.
TEST(NnOpsAttention, ForwardMatchesDoubleReference) {
  const int64_t B = 2, H = 3, T = 37, D = 16;
  const double scale = 1 / std::sqrt(static_cast<double>(D));
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor qkv = randn({B, T, 3, H, D}, dt, 71);
    Tensor p5 = ops::permute(qkv, {2, 0, 3, 1, 4});  // [3, B, H, T, D]
    Tensor q = ops::select(p5, 0, 0), k = ops::select(p5, 0, 1), v = ops::select(p5, 0, 2);
    ASSERT_FALSE(q.is_contiguous());
    Tensor probs;
    Tensor out = ops::attention(q, k, v, scale, &probs);
    Vec want_o, want_p;
    ref_attention(vals(q), vals(k), vals(v), B * H, T, T, D, scale, &want_o, &want_p);
    const double atol = dt == DType::F32 ? 1e-6 : 1e-14;
    expect_close(vals(out), want_o, rtol_of(dt), atol, fmt::format("attention out {}", dtype_name(dt)));
    expect_close(vals(probs), want_p, rtol_of(dt), atol, fmt::format("attention probs {}", dtype_name(dt)));
    expect_close(vals(ops::attention(q, k, v, scale)), vals(out), 0, 0, "with and without probs");
  }
  // Tq != Tk (cross attention) and T = 1
  for (auto [Tq, Tk] : {std::pair<int64_t, int64_t>{5, 9}, {1, 1}, {1, 7}}) {
    Tensor q = randn({1, 2, Tq, 8}, DType::F64, 72), k = randn({1, 2, Tk, 8}, DType::F64, 73);
    Tensor v = randn({1, 2, Tk, 8}, DType::F64, 74);
    Vec want_o, want_p;
    ref_attention(vals(q), vals(k), vals(v), 2, Tq, Tk, 8, 0.3, &want_o, &want_p);
    expect_close(vals(ops::attention(q, k, v, 0.3)), want_o, 1e-12, 1e-14, fmt::format("Tq {} Tk {}", Tq, Tk));
  }
}

// The fused op vs matmul + softmax + matmul from primitives: f32 values at the ViT-256 head shape
// (rtol 1e-5, atol 1e-6), f64 values and q/k/v gradients (rtol 1e-10).
TEST(NnOpsAttention, MatchesUnfusedComposition) {
  Tensor q32 = randn({1, 2, 257, 64}, DType::F32, 81), k32 = randn({1, 2, 257, 64}, DType::F32, 82);
  Tensor v32 = randn({1, 2, 257, 64}, DType::F32, 83);
  expect_close(vals(attention(q32, k32, v32, 0.125)), vals(unfused_attention(q32, k32, v32, 0.125)), 1e-5, 1e-6,
               "f32 values");

  std::vector<Tensor> a, b;
  for (uint64_t s = 84; s < 87; ++s) {
    a.push_back(randn({2, 2, 11, 8}, DType::F64, s).requires_grad_());
    b.push_back(ops::clone(a.back()).requires_grad_());
  }
  Tensor r = randn({2, 2, 11, 8}, DType::F64, 88);
  Tensor ya = attention(a[0], a[1], a[2], 0.35), yb = unfused_attention(b[0], b[1], b[2], 0.35);
  expect_close(vals(ya), vals(yb), 1e-12, 1e-14, "f64 values");
  backward(sum(mul(ya, r)));
  backward(sum(mul(yb, r)));
  auto ga = grads_of(a), gb = grads_of(b);
  for (int i = 0; i < 3; ++i) expect_close(ga[i], gb[i], 1e-10, 1e-12, fmt::format("gradient {}", "qkv"[i]));
}

TEST(NnOpsAttention, Gradcheck) {
  auto f = [](const std::vector<Tensor>& x) { return attention(x[0], x[1], x[2], 0.5); };
  auto r = gradcheck(f, {randn({1, 2, 4, 3}, DType::F64, 91).requires_grad_(),
                         randn({1, 2, 5, 3}, DType::F64, 92).requires_grad_(),
                         randn({1, 2, 5, 3}, DType::F64, 93).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.report;
  // Only v requires grad: q and k get none, and dS is never formed.
  Tensor q = randn({2, 1, 3, 2}, DType::F64, 94), k = randn({2, 1, 3, 2}, DType::F64, 95);
  auto r2 = gradcheck(f, {q, k, randn({2, 1, 3, 2}, DType::F64, 96).requires_grad_()});
  EXPECT_TRUE(r2.ok) << r2.report;
  EXPECT_FALSE(q.grad().defined());
}

// f32 backward at a model-like shape vs the f64 unfused gradients: rtol 1e-4, atol 1e-5 (three
// chained GEMMs in f32 over K = 257).
TEST(NnOpsAttention, BackwardF32MatchesF64) {
  std::vector<Tensor> a32, a64;
  for (uint64_t s = 101; s < 104; ++s) {
    Tensor t = randn({2, 3, 65, 32}, DType::F64, s);
    a64.push_back(ops::clone(t).requires_grad_());
    a32.push_back(ops::cast(t, DType::F32).requires_grad_());
  }
  Tensor r = randn({2, 3, 65, 32}, DType::F64, 104);
  backward(sum(mul(attention(a32[0], a32[1], a32[2], 0.2), ops::cast(r, DType::F32))));
  backward(sum(mul(unfused_attention(a64[0], a64[1], a64[2], 0.2), r)));
  auto g32 = grads_of(a32), g64 = grads_of(a64);
  for (int i = 0; i < 3; ++i) expect_close(g32[i], g64[i], 1e-4, 1e-5, fmt::format("gradient {}", "qkv"[i]));
}

TEST(NnOpsAttention, LargeScoresStayFinite) {
  Tensor q = randn({1, 1, 6, 4}, DType::F32, 111, 100.0), k = randn({1, 1, 6, 4}, DType::F32, 112, 100.0);
  Tensor v = randn({1, 1, 6, 4}, DType::F32, 113);
  Tensor probs;
  ops::attention(q, k, v, 1.0, &probs);  // scores around 1e4
  for (double p : vals(probs)) EXPECT_TRUE(std::isfinite(p) && p >= 0 && p <= 1);
}

TEST(NnOpsAttention, ErrorMessages) {
  Tensor q = randn({2, 3, 4, 8}, DType::F32, 1), k = randn({2, 3, 5, 4}, DType::F32, 2);
  EXPECT_EQ(error_of([&] { ops::attention(q, k, k, 0.1); }),
            "attention: q [2, 3, 4, 8] does not match k [2, 3, 5, 4] (B, H and D must agree)");
  EXPECT_THAT(error_of([&] { ops::attention(q, q, randn({2, 3, 4, 7}, DType::F32, 3), 0.1); }),
              HasSubstr("attention: k [2, 3, 4, 8] and v [2, 3, 4, 7] must have the same shape"));
  EXPECT_THAT(error_of([&] { ops::attention(ops::reshape(q, {6, 4, 8}), q, q, 0.1); }),
              HasSubstr("attention: q, k, v must be [B, H, T, D], got q [6, 4, 8]"));
  EXPECT_THAT(error_of([&] { ops::attention(q, q, ops::cast(q, DType::F64), 0.1); }),
              HasSubstr("differ in dtype or device"));
}

// The vector erf behind f32 GELU against erf in double, over [-5, 5] and densely near 0: within
// 1.25 ulp of the exact value (measured 1.09, i.e. about 1 ulp of the correctly rounded float).
// GELU built on it: |error| <= 2 · 6e-8 · |x| (f32 rounding of x/√2 and of the product dominate;
// for x << 0 this is the cancellation in 1 + erf that PyTorch's erf-form GELU has too).
TEST(NnOpsVec, ErfAndGeluAccuracy) {
  std::vector<float> x;
  for (float v = -5.f; v < 5.f; v += 1.1e-4f) x.push_back(v);
  for (float v = -1e-3f; v < 1e-3f; v += 3.3e-7f) x.push_back(v);
  std::vector<float> y(x.size()), gy(x.size());
  cpu::vec::erf(y.data(), x.data(), static_cast<int64_t>(x.size()));
  cpu::vec::gelu(gy.data(), x.data(), static_cast<int64_t>(x.size()));
  double worst_ulp = 0, worst_abs = 0, worst_gelu = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double want = std::erf(static_cast<double>(x[i]));
    float wf = static_cast<float>(want);
    double ulp = std::nextafter(std::abs(wf), INFINITY) - std::abs(wf);
    worst_ulp = std::max(worst_ulp, std::abs(y[i] - want) / ulp);
    worst_abs = std::max(worst_abs, std::abs(y[i] - want));
    double g = ref_gelu(x[i]);
    worst_gelu = std::max(worst_gelu, std::abs(gy[i] - g) / (std::abs(x[i]) * 6e-8 + 1e-30));
  }
  std::printf("erf: worst %.3f ulp, %.3g absolute; gelu: worst %.3f ·|x|·6e-8\n", worst_ulp, worst_abs, worst_gelu);
  EXPECT_LE(worst_ulp, 1.25);
  EXPECT_LE(worst_gelu, 2.0);
}

// bf16 compute is CUDA's (mixed precision on the GPU); on the CPU each op refuses it in one line.
TEST(NnOps, Bf16ComputeIsRefusedOnTheCpu) {
  const Tensor x = ops::cast(ops::full({2, 4}, 0.5), DType::BF16);
  const Tensor w = ops::cast(ops::full({4}, 1.0), DType::BF16);
  EXPECT_THAT(error_of([&] { ops::gelu(x); }), HasSubstr("gelu: bf16 compute is CUDA-only"));
  EXPECT_THAT(error_of([&] { ops::softmax(x, -1); }), HasSubstr("softmax: bf16 compute is CUDA-only"));
  EXPECT_THAT(error_of([&] { ops::layer_norm(x, w, w, 1e-6); }), HasSubstr("layer_norm: bf16 compute is CUDA-only"));
  EXPECT_THAT(error_of([&] { ops::add(x, x); }), HasSubstr("bf16 compute is CUDA-only"));
  EXPECT_THAT(error_of([&] { ops::matmul(x, x, false, true); }), HasSubstr("matmul: bf16 operands are supported on CUDA only"));
}
