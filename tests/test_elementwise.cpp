// Elementwise ops vs double-precision references: unary math, broadcasting binary ops,
// comparisons and where, on contiguous and strided inputs, f32 and f64.
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {

struct UnaryCase {
  ops::Unary op;
  double (*ref)(double);
  double lo, hi;  // input range where the op is defined and well conditioned
};

double ref_rsqrt(double x) { return 1 / std::sqrt(x); }
double ref_relu(double x) { return x > 0 ? x : 0; }
double ref_sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double ref_neg(double x) { return -x; }
double ref_exp(double x) { return std::exp(x); }
double ref_log(double x) { return std::log(x); }
double ref_sqrt(double x) { return std::sqrt(x); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_erf(double x) { return std::erf(x); }
double ref_abs(double x) { return std::abs(x); }

const UnaryCase kUnary[] = {
    {ops::Unary::Neg, ref_neg, -3, 3},     {ops::Unary::Exp, ref_exp, -5, 5},   {ops::Unary::Log, ref_log, 0.01, 10},
    {ops::Unary::Sqrt, ref_sqrt, 0, 10},   {ops::Unary::Rsqrt, ref_rsqrt, 0.01, 10},
    {ops::Unary::Tanh, ref_tanh, -4, 4},   {ops::Unary::Erf, ref_erf, -3, 3},   {ops::Unary::Abs, ref_abs, -3, 3},
    {ops::Unary::Relu, ref_relu, -3, 3},   {ops::Unary::Sigmoid, ref_sigmoid, -8, 8},
};

}  // namespace

// Tolerance: f32 results within 2 ulp-ish of the exact value (rtol 1e-6, atol 1e-7 near zero);
// f64 within 1e-14 relative.
TEST(Elementwise, UnaryMatchesDoubleReference) {
  for (const auto& c : kUnary) {
    for (DType dt : {DType::F32, DType::F64}) {
      Tensor x = random_tensor({7, 9}, dt, 3, c.lo, c.hi);
      for (bool strided : {false, true}) {
        Tensor in = strided ? ops::transpose(x, 0, 1) : x;
        std::vector<double> xin = ops::to_vector<double>(in), want;
        for (double v : xin) want.push_back(c.ref(v));
        double rtol = dt == DType::F32 ? 1e-6 : 1e-14;
        expect_close(ops::unary(c.op, in), want, dt == DType::F32 ? 1e-7 : 1e-15, rtol,
                     std::string(ops::op_name(c.op)) + (strided ? " strided" : ""));
      }
    }
  }
}

TEST(Elementwise, UnaryLargeTensorUsesThreadsAndStaysExact) {
  Tensor x = random_tensor({300, 200}, DType::F32, 5, -2, 2);
  std::vector<double> xin = ops::to_vector<double>(x), want;
  for (double v : xin) want.push_back(std::tanh(v));
  expect_close(ops::tanh(x), want, 1e-7, 1e-6);
}

namespace {
double ref_binary(ops::Binary op, double a, double b) {
  switch (op) {
    case ops::Binary::Add: return a + b;
    case ops::Binary::Sub: return a - b;
    case ops::Binary::Mul: return a * b;
    case ops::Binary::Div: return a / b;
    case ops::Binary::Pow: return std::pow(a, b);
    case ops::Binary::Max: return std::max(a, b);
    case ops::Binary::Min: return std::min(a, b);
  }
  return 0;
}

// out[idx] = f(a[broadcast idx], b[broadcast idx]) in double.
std::vector<double> broadcast_ref(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  Shape s = broadcast_shapes("ref", a.shape(), b.shape());
  std::vector<double> va = ops::to_vector<double>(a), vb = ops::to_vector<double>(b), out;
  auto pick = [&](const Tensor& t, const std::vector<double>& v, const std::vector<int64_t>& idx) {
    std::vector<int64_t> ti;
    for (int d = 0; d < t.dim(); ++d) {
      int64_t i = idx[idx.size() - t.dim() + d];
      ti.push_back(t.shape()[d] == 1 ? 0 : i);
    }
    return v[flat(t.shape(), ti)];
  };
  for_each_index(s, [&](const std::vector<int64_t>& idx) { out.push_back(f(pick(a, va, idx), pick(b, vb, idx))); });
  return out;
}
}  // namespace

TEST(Elementwise, BinaryBroadcastsLikeNumpy) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{5}, {}}, {{}, {2, 3}}, {{4, 1}, {1, 6}}};
  const ops::Binary all[] = {ops::Binary::Add, ops::Binary::Sub, ops::Binary::Mul, ops::Binary::Div,
                             ops::Binary::Pow, ops::Binary::Max, ops::Binary::Min};
  for (DType dt : {DType::F32, DType::F64}) {
    for (const auto& [sa, sb] : shapes) {
      Tensor a = random_tensor(sa, dt, 11, 0.5, 2.0);  // positive: pow stays real
      Tensor b = random_tensor(sb, dt, 12, 0.5, 2.0);
      for (ops::Binary op : all) {
        auto want = broadcast_ref(a, b, [op](double x, double y) { return ref_binary(op, x, y); });
        double rtol = dt == DType::F32 ? 1e-6 : 1e-14;
        expect_close(ops::binary(op, a, b), want, 0, rtol,
                     std::string(ops::op_name(op)) + " " + sa.str() + " " + sb.str());
      }
    }
  }
}

TEST(Elementwise, BinaryOnNonContiguousViews) {
  Tensor base = random_tensor({6, 8}, DType::F32, 21);
  Tensor a = ops::slice(ops::transpose(base, 0, 1), 0, 1, 8, 2);  // [4, 6], strides (2, 8)
  Tensor b = random_tensor({6}, DType::F32, 22);
  auto want = broadcast_ref(a, b, [](double x, double y) { return x * y; });
  expect_close(ops::mul(a, b), want, 0, 1e-6);
  Tensor e = ops::expand(ops::unsqueeze(b, 0), {4, 6});
  expect_close(ops::sub(a, e), broadcast_ref(a, e, [](double x, double y) { return x - y; }), 0, 1e-6);
}

TEST(Elementwise, MaxMinPropagateNaN) {
  Tensor a = ops::from_vector<float>({NAN, 1.f, 2.f}, {3});
  Tensor b = ops::from_vector<float>({0.f, NAN, 1.f}, {3});
  auto mx = ops::to_vector<float>(ops::maximum(a, b));
  EXPECT_TRUE(std::isnan(mx[0]));
  EXPECT_TRUE(std::isnan(mx[1]));
  EXPECT_EQ(mx[2], 2.f);
}

TEST(Elementwise, CompareAndWhere) {
  Tensor a = ops::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = ops::from_vector<float>({2, 2}, {2});
  auto lt = ops::to_vector<uint8_t>(ops::compare(ops::Compare::Lt, a, b));
  EXPECT_EQ(lt, (std::vector<uint8_t>{1, 0, 0, 0}));
  auto ge = ops::to_vector<uint8_t>(ops::compare(ops::Compare::Ge, a, b));
  EXPECT_EQ(ge, (std::vector<uint8_t>{0, 1, 1, 1}));
  auto eq = ops::to_vector<uint8_t>(ops::compare(ops::Compare::Eq, a, b));
  EXPECT_EQ(eq, (std::vector<uint8_t>{0, 1, 0, 0}));
  Tensor w = ops::where(ops::compare(ops::Compare::Gt, a, b), a, ops::zeros({}, DType::F32));
  EXPECT_EQ(ops::to_vector<float>(w), (std::vector<float>{0, 0, 3, 4}));
  Tensor ints = ops::arange(0, 4);
  EXPECT_EQ(ops::to_vector<uint8_t>(ops::compare(ops::Compare::Ne, ints, ops::scalar(2, DType::I64))),
            (std::vector<uint8_t>{1, 1, 0, 1}));
}

TEST(Elementwise, InPlaceAxpyScaleFill) {
  Tensor d = ops::ones({2, 3}, DType::F64);
  ops::add_(d, ops::from_vector<double>({1, 2, 3}, {3}), 0.5);
  EXPECT_EQ(ops::to_vector<double>(d), (std::vector<double>{1.5, 2, 2.5, 1.5, 2, 2.5}));
  ops::mul_(d, 2);
  EXPECT_EQ(ops::to_vector<double>(d), (std::vector<double>{3, 4, 5, 3, 4, 5}));
  ops::fill_(ops::select(d, 0, 1), -1);
  EXPECT_EQ(ops::to_vector<double>(d), (std::vector<double>{3, 4, 5, -1, -1, -1}));
}

TEST(Elementwise, ErrorsNameOpAndShapes) {
  Tensor a = ops::zeros({2, 3}), b = ops::zeros({4});
  expect_error([&] { ops::add(a, b); }, {"add", "[2, 3]", "[4]", "do not broadcast"});
  expect_error([&] { ops::mul(a, ops::zeros({3}, DType::F64)); }, {"mul", "dtype mismatch", "f32[2, 3]", "f64[3]"});
  expect_error([&] { ops::exp(ops::zeros({2}, DType::I64)); }, {"exp", "i64"});
  expect_error([&] { ops::where(ops::zeros({2}), a, a); }, {"where", "bool"});
}
