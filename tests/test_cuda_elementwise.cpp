// The elementwise, reduction and index kernels on every device, and the per-element formulas they
// share (tensor/elementwise_math.h) against double references on the CPU.
//
// Tolerances: f32 results within 2 ulp of the double reference (rtol 1e-6, atol 1e-7; CUDA's
// expf, erff, tanhf, powf are within 2 ulp), f64 within 1e-14 relative, bf16 within one bf16
// rounding; sums within one ulp of the exact sum plus the double accumulation error (both devices
// accumulate f32 in double); max, compare, where and the index kernels exactly (index_add and
// scatter_add add in index order on both devices, so even their roundings agree).
#include <cstring>
#include <limits>

#include "devices.h"
#include "tensor/backend.h"
#include "tensor/elementwise_math.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

double ref_unary(ops::Unary op, double x) {
  switch (op) {
    case ops::Unary::Neg: return -x;
    case ops::Unary::Exp: return std::exp(x);
    case ops::Unary::Log: return std::log(x);
    case ops::Unary::Sqrt: return std::sqrt(x);
    case ops::Unary::Rsqrt: return 1 / std::sqrt(x);
    case ops::Unary::Tanh: return std::tanh(x);
    case ops::Unary::Erf: return std::erf(x);
    case ops::Unary::Abs: return std::fabs(x);
    case ops::Unary::Relu: return x > 0 ? x : 0;
    case ops::Unary::Sigmoid: return 1 / (1 + std::exp(-x));
  }
  return kNaN;
}

double ref_binary(ops::Binary op, double a, double b) {
  switch (op) {
    case ops::Binary::Add: return a + b;
    case ops::Binary::Sub: return a - b;
    case ops::Binary::Mul: return a * b;
    case ops::Binary::Div: return a / b;
    case ops::Binary::Pow: return std::pow(a, b);
    case ops::Binary::Max: return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b);
    case ops::Binary::Min: return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b);
  }
  return kNaN;
}

bool ref_compare(ops::Compare op, double a, double b) {
  switch (op) {
    case ops::Compare::Eq: return a == b;
    case ops::Compare::Ne: return a != b;
    case ops::Compare::Lt: return a < b;
    case ops::Compare::Le: return a <= b;
    case ops::Compare::Gt: return a > b;
    case ops::Compare::Ge: return a >= b;
  }
  return false;
}

constexpr ops::Unary kUnaryOps[] = {ops::Unary::Neg,  ops::Unary::Exp, ops::Unary::Log,  ops::Unary::Sqrt,
                                    ops::Unary::Rsqrt, ops::Unary::Tanh, ops::Unary::Erf, ops::Unary::Abs,
                                    ops::Unary::Relu, ops::Unary::Sigmoid};
constexpr ops::Binary kBinaryOps[] = {ops::Binary::Add, ops::Binary::Sub, ops::Binary::Mul, ops::Binary::Div,
                                      ops::Binary::Pow, ops::Binary::Max, ops::Binary::Min};
constexpr ops::Compare kCompareOps[] = {ops::Compare::Eq, ops::Compare::Ne, ops::Compare::Lt,
                                        ops::Compare::Le, ops::Compare::Gt, ops::Compare::Ge};

// Positive inputs keep log, sqrt, rsqrt and pow in their domain.
bool needs_positive(ops::Unary op) {
  return op == ops::Unary::Log || op == ops::Unary::Sqrt || op == ops::Unary::Rsqrt;
}

template <class T> void check_binary_formula(ops::Binary op, T a, T b, double rtol) {
  const double want = ref_binary(op, a, b);
  const double got = ew::binary_op<T>(op, a, b);
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << ops::op_name(op) << "(" << a << ", " << b << ")";
  } else {
    EXPECT_NEAR(got, want, rtol * std::abs(want) + 1e-300) << ops::op_name(op) << "(" << a << ", " << b << ")";
  }
}

}  // namespace

// ---------------------------------------------------------------- the shared formulas (CPU)

TEST(ElementwiseMath, UnaryEveryOpMatchesDoubleReference) {
  EXPECT_EQ(std::size(kUnaryOps), static_cast<size_t>(ops::Unary::Sigmoid) + 1);
  for (ops::Unary op : kUnaryOps)
    for (double x : {-3.5, -1.0, -0.25, 0.0, 0.3, 1.0, 2.75, 7.0}) {
      const double v = needs_positive(op) ? std::abs(x) + 0.125 : x;
      const double want = ref_unary(op, v);
      EXPECT_NEAR(ew::unary_op(op, v), want, 1e-15 * std::abs(want)) << ops::op_name(op) << "(" << v << ")";
      EXPECT_NEAR(ew::unary_op(op, static_cast<float>(v)), want, 1e-6 * std::abs(want) + 1e-7)
          << ops::op_name(op) << "(" << v << ") f32";
    }
  EXPECT_TRUE(std::isnan(ew::unary_op(ops::Unary::Log, -1.0)));
  EXPECT_EQ(ew::unary_op(ops::Unary::Relu, -0.0f), 0.0f);
}

TEST(ElementwiseMath, BinaryEveryOpMatchesDoubleReferenceAndPropagatesNaN) {
  EXPECT_EQ(std::size(kBinaryOps), static_cast<size_t>(ops::Binary::Min) + 1);
  for (ops::Binary op : kBinaryOps) {
    for (double a : {0.5, 1.25, 3.0})
      for (double b : {-2.0, 0.75, 3.0}) {
        check_binary_formula<double>(op, a, b, 1e-15);
        check_binary_formula<float>(op, static_cast<float>(a), static_cast<float>(b), 1e-6);
      }
    if (op == ops::Binary::Max || op == ops::Binary::Min)
      for (double other : {-1.0, 0.0, 5.0}) {  // NaN on either side wins
        check_binary_formula<double>(op, kNaN, other, 0);
        check_binary_formula<double>(op, other, kNaN, 0);
        check_binary_formula<float>(op, std::numeric_limits<float>::quiet_NaN(), static_cast<float>(other), 0);
        check_binary_formula<float>(op, static_cast<float>(other), std::numeric_limits<float>::quiet_NaN(), 0);
      }
  }
  // The compile-time form is the one the kernels' inner loops call.
  EXPECT_EQ((ew::binary_op<ops::Binary::Sub>(5.0, 3.0)), 2.0);
  EXPECT_EQ((ew::binary_op<ops::Binary::Max>(2.0f, 7.0f)), 7.0f);
  EXPECT_TRUE(std::isnan(ew::binary_op<ops::Binary::Min>(1.0, kNaN)));
}

TEST(ElementwiseMath, CompareEveryOpOnFloatsIntegersAndNaN) {
  EXPECT_EQ(std::size(kCompareOps), static_cast<size_t>(ops::Compare::Ge) + 1);
  const double vals[] = {-2.0, 0.0, 1.5, kNaN};
  for (ops::Compare op : kCompareOps) {
    for (double a : vals)
      for (double b : vals) {
        EXPECT_EQ(ew::compare_op(op, a, b), ref_compare(op, a, b)) << ops::op_name(op) << " " << a << " " << b;
        EXPECT_EQ(ew::compare_op(op, static_cast<float>(a), static_cast<float>(b)), ref_compare(op, a, b));
      }
    for (int64_t a : {-3, 0, 4})
      for (int64_t b : {-3, 0, 4}) EXPECT_EQ(ew::compare_op(op, a, b), ref_compare(op, double(a), double(b)));
    EXPECT_EQ(ew::compare_op(op, true, false), ref_compare(op, 1, 0));
  }
}

// Any tree of max_pair_wins gives what the in-order walk with max_replaces gives: the first NaN,
// else the first maximum.
TEST(ElementwiseMath, MaxPairAnyTreeEqualsTheInOrderWalk) {
  std::mt19937 gen(7);
  for (int trial = 0; trial < 500; ++trial) {
    const int n = 1 + static_cast<int>(gen() % 12);
    std::vector<double> v(n);
    for (double& x : v) x = (gen() % 7 == 0) ? kNaN : static_cast<double>(gen() % 4);  // ties and NaNs
    double best = v[0];
    int64_t arg = 0;
    for (int r = 1; r < n && !std::isnan(best); ++r)
      if (ew::max_replaces(v[r], best)) best = v[r], arg = r;
    // A random tree: combine random neighbours of a list of partials, with empty partials mixed in.
    std::vector<std::pair<double, int64_t>> parts;
    for (int r = 0; r < n; ++r) {
      parts.push_back({v[r], r});
      if (gen() % 3 == 0) parts.push_back({0.0, -1});
    }
    while (parts.size() > 1) {
      const size_t k = gen() % (parts.size() - 1);
      auto a = parts[k], b = parts[k + 1];
      const bool swap = gen() % 2;  // the rule must not depend on the argument order
      if (swap) std::swap(a, b);
      parts[k] = ew::max_pair_wins(a.first, a.second, b.first, b.second) ? a : b;
      parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(k) + 1);
    }
    ASSERT_EQ(parts[0].second, arg) << "trial " << trial;
    if (!std::isnan(best)) {
      EXPECT_EQ(parts[0].first, best);
    }
  }
  EXPECT_FALSE(ew::max_pair_wins(9.0, -1, 1.0, 3));  // an empty partial never wins
  EXPECT_TRUE(ew::max_pair_wins(1.0, 3, 9.0, -1));
}

// ---------------------------------------------------------------- the ops on every device

namespace {

class DeviceElementwise : public OnDevice {
 protected:
  Tensor on(const Tensor& t) const { return t.to(device()); }
};
class DeviceReduce : public DeviceElementwise {};
class DeviceIndex : public DeviceElementwise {};

// f32 or f64 tolerance of one result against its double reference.
double rtol_of(DType dt) { return dt == DType::F32 ? 1e-6 : 1e-14; }
double atol_of(DType dt) { return dt == DType::F32 ? 1e-7 : 1e-15; }

// out[idx] = f(a[bcast idx], b[bcast idx]) in double, over the broadcast shape.
std::vector<double> broadcast_ref(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  const Shape s = broadcast_shapes("ref", a.shape(), b.shape());
  const std::vector<double> va = ops::to_vector<double>(a), vb = ops::to_vector<double>(b);
  auto pick = [&](const Tensor& t, const std::vector<double>& v, const std::vector<int64_t>& idx) {
    std::vector<int64_t> ti;
    for (int d = 0; d < t.dim(); ++d) {
      const int64_t i = idx[static_cast<size_t>(s.size() - t.dim() + d)];
      ti.push_back(t.shape()[d] == 1 ? 0 : i);
    }
    return v[static_cast<size_t>(flat(t.shape(), ti))];
  };
  std::vector<double> out;
  for_each_index(s, [&](const std::vector<int64_t>& idx) { out.push_back(f(pick(a, va, idx), pick(b, vb, idx))); });
  return out;
}

// Pairs of operand shapes: equal, broadcast both ways, a scalar, odd sizes.
const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{1}, {1}}, {{7}, {7}}, {{3, 5, 7}, {3, 5, 7}}, {{4, 1, 5}, {3, 1}}, {{1, 9}, {6, 1}}, {{2, 3, 4}, {}},
    {{}, {5, 3}}, {{65, 33}, {33}}};

Tensor with_nans(const Tensor& t, int every) {
  std::vector<double> v = ops::to_vector<double>(t);
  for (size_t i = 0; i < v.size(); i += static_cast<size_t>(every)) v[i] = kNaN;
  return ops::cast(ops::from_vector(v, t.shape()), t.dtype());
}

}  // namespace

TEST_P(DeviceElementwise, UnaryEveryOpOnContiguousAndPermutedViews) {
  for (ops::Unary op : kUnaryOps)
    for (DType dt : {DType::F32, DType::F64}) {
      const bool pos = needs_positive(op);
      Tensor x = random_tensor({3, 5, 7}, dt, 11, pos ? 0.05 : -3, pos ? 6 : 3);
      for (bool permuted : {false, true}) {
        Tensor in = permuted ? ops::permute(on(x), {2, 0, 1}) : on(x);
        std::vector<double> want;
        for (double v : ops::to_vector<double>(in)) want.push_back(ref_unary(op, v));
        Tensor y = ops::unary(op, in);
        EXPECT_EQ(y.device(), device());
        expect_close(y, want, atol_of(dt), rtol_of(dt), std::string(ops::op_name(op)) + (permuted ? " permuted" : ""));
      }
    }
}

TEST_P(DeviceElementwise, BinaryEveryOpBroadcastsOverAwkwardShapes) {
  for (ops::Binary op : kBinaryOps)
    for (DType dt : {DType::F32, DType::F64})
      for (const auto& [sa, sb] : kShapePairs) {
        const bool pow = op == ops::Binary::Pow;
        Tensor a = random_tensor(sa, dt, 3, pow ? 0.1 : -2, 2), b = random_tensor(sb, dt, 4, pow ? -2 : 0.5, 2);
        if (op == ops::Binary::Max || op == ops::Binary::Min) a = with_nans(a, 3), b = with_nans(b, 4);
        const std::vector<double> want = broadcast_ref(a, b, [op](double x, double y) { return ref_binary(op, x, y); });
        expect_close(ops::binary(op, on(a), on(b)), want, atol_of(dt), rtol_of(dt),
                     std::string(ops::op_name(op)) + " " + sa.str() + " " + sb.str());
      }
}

TEST_P(DeviceElementwise, BinaryOnPermutedAndSlicedViews) {
  Tensor a = random_tensor({4, 6, 5}, DType::F32, 5), b = random_tensor({5, 4, 6}, DType::F32, 6);
  Tensor pa = ops::permute(on(a), {2, 0, 1});            // [5, 4, 6], non-contiguous
  Tensor sb = ops::slice(on(b), 2, 1, 6, 2);             // [5, 4, 3], strided
  Tensor pa3 = ops::slice(pa, 2, 0, 3);                  // [5, 4, 3]
  const std::vector<double> want =
      broadcast_ref(ops::slice(ops::permute(a, {2, 0, 1}), 2, 0, 3), ops::slice(b, 2, 1, 6, 2), std::minus<double>());
  expect_close(ops::sub(pa3, sb), want, 1e-7, 1e-6, "sub of views");
  expect_close(ops::mul(pa, 2.5), broadcast_ref(ops::permute(a, {2, 0, 1}), ops::scalar(2.5), std::multiplies<double>()),
               1e-7, 1e-6, "mul by a scalar");
}

// More elements than one launch's grid covers (65536 blocks of 256 threads): the grid-stride loop.
TEST_P(DeviceElementwise, BinaryAddAbove2To24Elements) {
  const int64_t n = (int64_t{1} << 24) + 5;
  Tensor a = ops::arange(0, n, 1, DType::I64), b = ops::full({n}, 0.5, DType::F32);
  Tensor af = ops::cast(a, DType::F32);
  std::vector<float> got = ops::to_vector<float>(ops::add(on(af), on(b)));
  ASSERT_EQ(static_cast<int64_t>(got.size()), n);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += got[static_cast<size_t>(i)] != static_cast<float>(static_cast<float>(i) + 0.5f);
  EXPECT_EQ(bad, 0);
}

// bf16 add and mul (storage bf16, arithmetic f32) through the kernel table: the ops themselves
// accept f32 and f64 only, the GPU kernels more.
TEST_P(DeviceElementwise, Bf16AddAndMulKernelsRoundOnce) {
  if (!on_gpu()) GTEST_SKIP() << "the CPU binary kernel takes f32 and f64 only";
  auto k = kernel("binary", device(), &Backend::binary);
  Tensor a = random_tensor({37, 3}, DType::BF16, 8), b = random_tensor({3}, DType::BF16, 9);
  for (ops::Binary op : {ops::Binary::Add, ops::Binary::Mul}) {
    Tensor out = ops::empty({37, 3}, DType::BF16, device());
    k(op, out, on(a), on(b));
    std::vector<double> want = broadcast_ref(a, b, [op](double x, double y) { return ref_binary(op, x, y); });
    for (double& w : want) w = bf16_to_float(float_to_bf16(static_cast<float>(w)));
    expect_close(out, want, 0, std::ldexp(1.0, -8), ops::op_name(op));  // within one bf16 rounding
  }
}

TEST_P(DeviceElementwise, CompareEveryOpOnFloatsWithNaNsAndIntegers) {
  // Small integers, so that equal pairs occur; NaNs on both sides for the float dtypes.
  std::vector<double> va(24), vb(3);
  for (size_t i = 0; i < va.size(); ++i) va[i] = i % 5 == 0 ? kNaN : static_cast<double>((i * 7) % 4) - 1;
  for (size_t i = 0; i < vb.size(); ++i) vb[i] = i == 1 ? kNaN : static_cast<double>(i);
  for (DType dt : {DType::F32, DType::F64, DType::BF16, DType::I64, DType::I32}) {
    const bool integer = dt == DType::I64 || dt == DType::I32;
    std::vector<double> ia = va, ib = vb;
    if (integer) {
      for (double& x : ia) x = std::isnan(x) ? 2 : x;
      for (double& x : ib) x = std::isnan(x) ? -1 : x;
    }
    Tensor a = ops::cast(ops::from_vector(ia, {4, 1, 6}), dt), b = ops::cast(ops::from_vector(ib, {3, 1}), dt);
    for (ops::Compare op : kCompareOps) {
      const std::vector<double> want =
          broadcast_ref(a, b, [op](double x, double y) { return ref_compare(op, x, y) ? 1.0 : 0.0; });
      Tensor got = ops::compare(op, on(a), on(b));
      EXPECT_EQ(got.dtype(), DType::Bool);
      expect_close(got, want, 0, 0, std::string(ops::op_name(op)) + " " + std::string(dtype_name(dt)));
    }
  }
}

TEST_P(DeviceElementwise, WhereBroadcastsEveryOperandForEveryElementSize) {
  Tensor cond = ops::compare(ops::Compare::Gt, random_tensor({4, 1, 6}, DType::F32, 1), ops::scalar(0.0));
  for (DType dt : {DType::F32, DType::F64, DType::BF16, DType::I64, DType::U8}) {
    Tensor a = ops::cast(random_tensor({5, 1}, DType::F64, 2, 0, 100), dt);
    Tensor b = ops::cast(random_tensor({6}, DType::F64, 3, 0, 100), dt);
    const Shape s{4, 5, 6};
    const std::vector<double> c = ops::to_vector<double>(ops::expand(cond, s));
    const std::vector<double> xa = ops::to_vector<double>(ops::expand(a, s));
    const std::vector<double> xb = ops::to_vector<double>(ops::expand(b, s));
    std::vector<double> want;
    for (size_t i = 0; i < c.size(); ++i) want.push_back(c[i] != 0 ? xa[i] : xb[i]);
    expect_close(ops::where(on(cond), on(a), on(b)), want, 0, 0, std::string(dtype_name(dt)));
    // A permuted condition takes the strided path.
    Tensor ct = ops::permute(on(ops::contiguous(ops::permute(cond, {2, 1, 0}))), {2, 1, 0});
    expect_close(ops::where(ct, on(a), on(b)), want, 0, 0, std::string(dtype_name(dt)) + " strided");
  }
}

TEST_P(DeviceElementwise, AxpyAndScaleInPlaceOnStridedViews) {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor d0 = random_tensor({6, 5}, dt, 1), src = random_tensor({5}, dt, 2);
    Tensor full_src = random_tensor({6, 5}, dt, 3);
    // dst += 0.75·src broadcast, on a transposed view of the device copy.
    Tensor dd = on(ops::clone(d0));  // a copy even where on() is the identity
    Tensor dt_view = ops::transpose(dd, 0, 1);  // [5, 6]
    ops::add_(dt_view, ops::unsqueeze(on(src), 1), 0.75);
    std::vector<double> want = broadcast_ref(d0, src, [](double x, double y) { return x + 0.75 * y; });
    expect_close(dd, want, atol_of(dt), rtol_of(dt), "add_ broadcast, transposed dst");
    // The contiguous path, then scale on a strided slice.
    Tensor dc = on(ops::clone(d0));
    ops::add_(dc, on(full_src), -2.0);
    want = broadcast_ref(d0, full_src, [](double x, double y) { return x - 2.0 * y; });
    expect_close(dc, want, atol_of(dt), rtol_of(dt), "add_ contiguous");
    Tensor ds = on(ops::clone(d0));
    ops::mul_(ops::slice(ds, 1, 0, 5, 2), -3.0);
    std::vector<double> v = ops::to_vector<double>(d0);
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t c = 0; c < 5; c += 2) v[static_cast<size_t>(r * 5 + c)] *= -3.0;
    expect_close(ds, v, atol_of(dt), rtol_of(dt), "mul_ strided");
    ops::mul_(dc, 0.5);
    for (double& w : want) w *= 0.5;
    expect_close(dc, want, atol_of(dt), rtol_of(dt), "mul_ contiguous");
  }
}

// ---------------------------------------------------------------- reductions

namespace {

// Sum over `dim` in long double; the result within one ulp of `dt` plus the double accumulation
// error in any order of additions (bounded by 1e-12 of the sum of |x| for f32, 1e-14 for f64).
void expect_sum_close(const Tensor& got, const Tensor& x, int dim, DType dt, const std::string& what) {
  const AxisSplit p = split_at_axis(x.shape(), dim);
  const std::vector<double> v = ops::to_vector<double>(x), g = ops::to_vector<double>(got);
  ASSERT_EQ(static_cast<int64_t>(g.size()), p.outer * p.inner) << what;
  const double unit = dt == DType::F32 ? std::ldexp(1.0, -23) : std::ldexp(1.0, -52);
  int bad = 0;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      long double s = 0, mag = 0;
      for (int64_t r = 0; r < p.n; ++r) {
        const double e = v[static_cast<size_t>((o * p.n + r) * p.inner + i)];
        s += e;
        mag += std::abs(e);
      }
      const double want = static_cast<double>(s);
      const double tol = unit * std::abs(want) + (dt == DType::F32 ? 1e-12 : 1e-14) * static_cast<double>(mag);
      const double err = std::abs(g[static_cast<size_t>(o * p.inner + i)] - want);
      if (!(err <= tol) && bad++ < 5) ADD_FAILURE() << what << " at " << o << "," << i << ": error " << err;
    }
}

// max over `dim` by the in-order walk: the first NaN, else the first maximum.
void expect_max_exact(const std::pair<Tensor, Tensor>& got, const Tensor& x, int dim, const std::string& what) {
  const AxisSplit p = split_at_axis(x.shape(), dim);
  const std::vector<double> v = ops::to_vector<double>(x), gv = ops::to_vector<double>(got.first);
  const std::vector<int64_t> gi = ops::to_vector<int64_t>(got.second);
  int bad = 0;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      double best = kNaN;
      int64_t arg = -1;
      for (int64_t r = 0; r < p.n; ++r) {
        const double e = v[static_cast<size_t>((o * p.n + r) * p.inner + i)];
        if (arg < 0 || (!std::isnan(best) && (e > best || std::isnan(e)))) best = e, arg = r;
      }
      const size_t k = static_cast<size_t>(o * p.inner + i);
      const bool same = gi[k] == arg && (gv[k] == best || (std::isnan(gv[k]) && std::isnan(best)));
      if (!same && bad++ < 5)
        ADD_FAILURE() << what << " at " << o << "," << i << ": got " << gv[k] << " @" << gi[k] << ", want " << best
                      << " @" << arg;
    }
}

// Shapes and dims covering one row per block (inner 1), column tiles (inner > 1, not a multiple of
// 32), an axis long enough to be cut into segments with few outputs, and size-1 axes.
const std::vector<std::pair<Shape, int>> kReduceCases = {
    {{1}, 0},        {{7}, 0},         {{3, 5, 7}, 0}, {{3, 5, 7}, 1},  {{3, 5, 7}, 2}, {{2, 1, 3}, 1},
    {{20001}, 0},    {{3, 10007}, 1},  {{2, 9000, 3}, 1}, {{12000, 45}, 0}, {{300, 257}, 1}};

}  // namespace

TEST_P(DeviceReduce, SumOverEveryKindOfAxis) {
  for (DType dt : {DType::F32, DType::F64})
    for (const auto& [shape, dim] : kReduceCases) {
      Tensor x = random_tensor(shape, dt, 21, -1, 1.5);
      expect_sum_close(ops::sum(on(x), dim), x, dim, dt, shape.str() + " dim " + std::to_string(dim));
    }
  // A permuted input is made contiguous by the op first.
  Tensor x = random_tensor({4, 6, 5}, DType::F32, 22);
  expect_sum_close(ops::sum(ops::permute(on(x), {1, 2, 0}), 2), ops::contiguous(ops::permute(x, {1, 2, 0})), 2,
                   DType::F32, "permuted");
}

TEST_P(DeviceReduce, SumAbove2To24Elements) {
  const int64_t n = (int64_t{1} << 24) + 3;
  Tensor x = random_tensor({n}, DType::F32, 23, -1, 1.25);
  expect_sum_close(ops::sum(on(x)), x, 0, DType::F32, "sum of 2^24 + 3");
}

TEST_P(DeviceReduce, SumIsDeterministic) {
  Tensor x = on(random_tensor({3, 50000}, DType::F32, 24));
  const std::vector<float> a = ops::to_vector<float>(ops::sum(x, 1)), b = ops::to_vector<float>(ops::sum(x, 1));
  EXPECT_EQ(a, b);
}

TEST_P(DeviceReduce, MaxFirstMaximumAndFirstNaNOverEveryKindOfAxis) {
  for (DType dt : {DType::F32, DType::F64})
    for (const auto& [shape, dim] : kReduceCases) {
      // Values on a coarse grid (many ties), with NaNs in some rows.
      std::vector<double> v(static_cast<size_t>(shape.numel()));
      std::mt19937 gen(31);
      for (double& e : v) e = static_cast<double>(gen() % 9) - 4;
      for (size_t i = 13; i < v.size(); i += 997) v[i] = kNaN;
      Tensor x = ops::cast(ops::from_vector(v, shape), dt);
      expect_max_exact(ops::max_with_index(on(x), dim), x, dim, shape.str() + " dim " + std::to_string(dim));
    }
}

// ---------------------------------------------------------------- index kernels

TEST_P(DeviceIndex, IndexSelectAnyDtypeWithI32AndI64Indices) {
  for (DType it : {DType::I64, DType::I32}) {
    Tensor idx = ops::cast(ops::from_vector<int64_t>({2, 0, -1, 2, 4}, {5}), it);
    for (DType dt : {DType::F32, DType::F64, DType::I64, DType::U8, DType::BF16}) {
      Tensor x = ops::cast(random_tensor({3, 5, 7}, DType::F64, 41, 0, 100), dt);
      for (int dim : {0, 1, 2}) {
        if (x.shape()[dim] < 5) continue;
        Tensor got = ops::index_select(on(x), dim, on(idx));
        const std::vector<double> v = ops::to_vector<double>(x);
        Shape s = x.shape();
        s[dim] = 5;
        std::vector<double> want;
        const std::vector<int64_t> raw = {2, 0, -1, 2, 4};
        for_each_index(s, [&](const std::vector<int64_t>& i) {
          std::vector<int64_t> j = i;
          const int64_t r = raw[static_cast<size_t>(i[static_cast<size_t>(dim)])];
          j[static_cast<size_t>(dim)] = r < 0 ? r + x.shape()[dim] : r;
          want.push_back(v[static_cast<size_t>(flat(x.shape(), j))]);
        });
        expect_close(got, want, 0, 0, std::string(dtype_name(dt)) + " dim " + std::to_string(dim));
      }
    }
  }
}

TEST_P(DeviceIndex, IndexAddSumsRepeatedIndicesInIndexOrder) {
  for (DType it : {DType::I64, DType::I32})
    for (DType dt : {DType::F32, DType::F64})
      for (int dim : {0, 1, 2}) {
        const std::vector<int64_t> raw = {1, 3, 1, -1, 1, 0};
        Tensor idx = ops::cast(ops::from_vector(raw, {6}), it);
        Shape target{4, 5, 6};
        Shape ss = target;
        ss[dim] = 6;
        Tensor src = random_tensor(ss, dt, 42, -2, 2);
        const std::vector<double> vs = ops::to_vector<double>(src);
        // Accumulate in the tensor's own precision, in index order: the result is exact.
        std::vector<double> want(static_cast<size_t>(target.numel()), 0.0);
        for_each_index(ss, [&](const std::vector<int64_t>& i) {
          std::vector<int64_t> j = i;
          const int64_t r = raw[static_cast<size_t>(i[static_cast<size_t>(dim)])];
          j[static_cast<size_t>(dim)] = r < 0 ? r + target[dim] : r;
          double& w = want[static_cast<size_t>(flat(target, j))];
          const double e = vs[static_cast<size_t>(flat(ss, i))];
          w = dt == DType::F32 ? static_cast<double>(static_cast<float>(w) + static_cast<float>(e)) : w + e;
        });
        expect_close(ops::index_add(target, dim, on(idx), on(src)), want, 0, 0,
                     std::string(dtype_name(dt)) + " dim " + std::to_string(dim));
      }
}

TEST_P(DeviceIndex, GatherAndScatterAddAlongEveryDim) {
  for (DType it : {DType::I64, DType::I32})
    for (DType dt : {DType::F32, DType::F64})
      for (int dim : {0, 1, 2}) {
        const Shape data{4, 5, 3};
        Shape is = data;
        is[dim] = 7;  // more picks than the dim holds: repeated indices
        std::vector<int64_t> raw(static_cast<size_t>(is.numel()));
        std::mt19937 gen(43 + static_cast<uint32_t>(dim));
        for (int64_t& r : raw) r = static_cast<int64_t>(gen() % static_cast<uint32_t>(2 * data[dim])) - data[dim];
        Tensor idx = ops::cast(ops::from_vector(raw, is), it);
        Tensor x = random_tensor(data, dt, 44), src = random_tensor(is, dt, 45);
        const std::vector<double> vx = ops::to_vector<double>(x), vs = ops::to_vector<double>(src);
        std::vector<double> gathered, scattered(static_cast<size_t>(data.numel()), 0.0);
        for_each_index(is, [&](const std::vector<int64_t>& i) {
          std::vector<int64_t> j = i;
          const int64_t r = raw[static_cast<size_t>(flat(is, i))];
          j[static_cast<size_t>(dim)] = r < 0 ? r + data[dim] : r;
          gathered.push_back(vx[static_cast<size_t>(flat(data, j))]);
          double& w = scattered[static_cast<size_t>(flat(data, j))];
          const double e = vs[static_cast<size_t>(flat(is, i))];
          w = dt == DType::F32 ? static_cast<double>(static_cast<float>(w) + static_cast<float>(e)) : w + e;
        });
        const std::string what = std::string(dtype_name(dt)) + " dim " + std::to_string(dim);
        expect_close(ops::gather(on(x), dim, on(idx)), gathered, 0, 0, "gather " + what);
        expect_close(ops::scatter_add(data, dim, on(idx), on(src)), scattered, 0, 0, "scatter_add " + what);
      }
}

// The CPU refuses an out-of-range index; a GPU kernel cannot throw without a synchronisation, so
// it writes NaN (gather, index_select) or skips the element (scatter_add, index_add).
TEST_P(DeviceIndex, OutOfRangeIndexIsAnErrorOnTheCpuAndNaNOnTheGpu) {
  Tensor x = random_tensor({2, 3}, DType::F32, 46);
  Tensor idx = ops::from_vector<int64_t>({0, 3, 1, 2, -4, 0}, {2, 3});
  if (!on_gpu()) {
    expect_error([&] { ops::gather(x, 1, idx); }, {"gather", "out of range"});
    expect_error([&] { ops::index_select(x, 1, ops::from_vector<int64_t>({5}, {1})); }, {"index_select", "out of range"});
    return;
  }
  const std::vector<float> g = ops::to_vector<float>(ops::gather(on(x), 1, on(idx)));
  EXPECT_TRUE(std::isnan(g[1]));
  EXPECT_TRUE(std::isnan(g[4]));
  EXPECT_FALSE(std::isnan(g[0]));
  const std::vector<float> s =
      ops::to_vector<float>(ops::scatter_add({2, 3}, 1, on(idx), on(ops::ones({2, 3}))));
  EXPECT_EQ(s, (std::vector<float>{1, 1, 0, 1, 0, 1}));  // row 0 skips 3, row 1 skips -4
}

HIPT_INSTANTIATE_ON_DEVICES(DeviceElementwise);
HIPT_INSTANTIATE_ON_DEVICES(DeviceReduce);
HIPT_INSTANTIATE_ON_DEVICES(DeviceIndex);
