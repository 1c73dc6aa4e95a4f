// Philox known answers, the stream layout, reproducibility, distribution moments, and dropout.
//
// Statistical checks use n = 2^20 draws and a 5-sigma bound from the sampling distribution of the
// statistic (stated at each check), so a correct generator fails with probability < 1e-6 per check
// and the seeds are fixed anyway: a failure means a changed stream or a wrong transform.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "autograd/gradcheck.h"
#include "autograd/image_functions.h"
#include "tensor/parallel.h"

using namespace hipt;

namespace {

constexpr int64_t kN = 1 << 20;

struct Moments {
  double mean, var, kurt;  // kurt: E[(x-mean)^4] / var^2
  double min, max;
};

Moments moments(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  const double mean = s / static_cast<double>(v.size());
  double m2 = 0, m4 = 0, lo = v[0], hi = v[0];
  for (double x : v) {
    const double d = (x - mean) * (x - mean);
    m2 += d;
    m4 += d * d;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  m2 /= static_cast<double>(v.size());
  m4 /= static_cast<double>(v.size());
  return {mean, m2, m4 / (m2 * m2), lo, hi};
}

// Restores the pool size when a test that changes it ends, even by a failed assertion.
struct ThreadsGuard {
  int saved = num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), static_cast<size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

// ---------------------------------------------------------------- Philox

// Random123's tests/kat_vectors, the three "philox4x32 10" lines (counter[4], key[2] -> out[4]).
TEST(RandomPhilox, KnownAnswerVectors) {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  } kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    uint32_t out[4];
    philox4x32_10(k.ctr, k.key, out);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], k.out[i]) << "word " << i;
  }
}

// The (seed, block) form puts the seed in the key low word first and the block in counter words 0-1.
TEST(RandomPhilox, SeedAndBlockMapping) {
  uint32_t a[4], b[4];
  philox4x32(0, 0, a);
  EXPECT_EQ(a[0], 0x6627e8d5u);
  EXPECT_EQ(a[3], 0x9b00dbd8u);
  const uint32_t ctr[4] = {0x243f6a88, 0x85a308d3, 0, 0}, key[2] = {0xa4093822, 0x299f31d0};
  philox4x32(0x299f31d0a4093822ull, 0x85a308d3243f6a88ull, a);
  philox4x32_10(ctr, key, b);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i], b[i]);
}

// ---------------------------------------------------------------- the stream layout

TEST(RandomStream, UniformF32IsWordTop24Bits) {
  Generator gen(42);
  gen.set_offset(7);
  auto v = ops::to_vector<float>(ops::uniform({10}, 0, 1, gen));
  EXPECT_EQ(gen.offset(), 7u + 3u);  // ceil(10 / 4) blocks
  for (int i = 0; i < 10; ++i) {
    uint32_t w[4];
    philox4x32(42, 7 + i / 4, w);
    EXPECT_EQ(v[i], static_cast<float>(w[i % 4] >> 8) * 0x1p-24f) << i;
  }
}

TEST(RandomStream, UniformF64IsTwoWords) {
  Generator gen(5);
  auto v = ops::to_vector<double>(ops::uniform({5}, 0, 1, gen, DType::F64));
  EXPECT_EQ(gen.offset(), 3u);  // ceil(5 / 2)
  for (int i = 0; i < 5; ++i) {
    uint32_t w[4];
    philox4x32(5, i / 2, w);
    const int j = 2 * (i % 2);
    const uint64_t x = (static_cast<uint64_t>(w[j + 1]) << 32) | w[j];
    EXPECT_EQ(v[i], static_cast<double>(x >> 11) * 0x1p-53) << i;
  }
}

TEST(RandomStream, NormalF32IsBoxMuller) {
  Generator gen(9);
  auto v = ops::to_vector<float>(ops::normal({4}, 0, 1, gen));
  uint32_t w[4];
  philox4x32(9, 0, w);
  const double u1 = (w[0] >> 8) * 0x1p-24 + 0x1p-24, u2 = (w[1] >> 8) * 0x1p-24;
  const double r = std::sqrt(-2 * std::log(u1));
  EXPECT_EQ(v[0], static_cast<float>(r * std::cos(2 * M_PI * u2)));
  EXPECT_EQ(v[1], static_cast<float>(r * std::sin(2 * M_PI * u2)));
}

TEST(RandomStream, SameSeedSameNumbersOtherSeedOthers) {
  Generator a(123), b(123), c(124);
  Tensor x = ops::normal({1000}, 0, 1, a), y = ops::normal({1000}, 0, 1, b), z = ops::normal({1000}, 0, 1, c);
  EXPECT_TRUE(same_bits(x, y));
  auto vx = ops::to_vector<float>(x), vz = ops::to_vector<float>(z);
  int equal = 0;
  for (size_t i = 0; i < vx.size(); ++i) equal += vx[i] == vz[i];
  EXPECT_LT(equal, 5);
  // Seeds differing only in the high 32 bits also differ (both key words are used).
  Generator d(123 + (1ull << 32));
  EXPECT_FALSE(same_bits(x, ops::normal({1000}, 0, 1, d)));
}

// Two draws of n continue the stream exactly as one draw of 2n (n a multiple of the per-block count).
TEST(RandomStream, OffsetContinuation) {
  const int64_t n = 1000;
  using Draw = std::function<Tensor(int64_t, Generator&)>;
  std::vector<std::pair<const char*, Draw>> draws = {
      {"uniform f32", [](int64_t k, Generator& g) { return ops::uniform({k}, -1, 2, g); }},
      {"uniform f64", [](int64_t k, Generator& g) { return ops::uniform({k}, -1, 2, g, DType::F64); }},
      {"normal f32", [](int64_t k, Generator& g) { return ops::normal({k}, 1, 2, g); }},
      {"normal f64", [](int64_t k, Generator& g) { return ops::normal({k}, 1, 2, g, DType::F64); }},
      {"trunc_normal f32", [](int64_t k, Generator& g) { return ops::trunc_normal({k}, 0, 1, -2, 2, g); }},
      {"dropout_mask f64", [](int64_t k, Generator& g) { return ops::dropout_mask({k}, 0.25, g, DType::F64); }},
  };
  for (auto& [name, draw] : draws) {
    Generator one(77), two(77);
    Tensor whole = draw(2 * n, one);
    Tensor first = draw(n, two), second = draw(n, two);
    EXPECT_EQ(one.offset(), two.offset()) << name;
    EXPECT_TRUE(same_bits(ops::contiguous(ops::slice(whole, 0, 0, n)), first)) << name;
    EXPECT_TRUE(same_bits(ops::contiguous(ops::slice(whole, 0, n, 2 * n)), second)) << name;
  }
}

TEST(RandomStream, OneAndTwoThreadsIdentical) {
  ThreadsGuard guard;
  auto draw_all = [] {
    Generator g(2024);
    return std::vector<Tensor>{ops::uniform({kN}, 0, 1, g), ops::normal({kN}, 0, 1, g, DType::F64),
                               ops::trunc_normal({kN}, 0, 0.02, -2, 2, g), ops::dropout_mask({kN}, 0.1, g)};
  };
  set_num_threads(1);
  auto serial = draw_all();
  set_num_threads(2);
  auto threaded = draw_all();
  for (size_t i = 0; i < serial.size(); ++i) EXPECT_TRUE(same_bits(serial[i], threaded[i])) << "draw " << i;
}

// ---------------------------------------------------------------- distributions

// U[low, high): mean (low+high)/2 with standard error sqrt(var/n); variance (high-low)^2/12 with
// standard error sqrt((mu4 - var^2)/n), mu4 = (high-low)^4/80. Bounds: 5 standard errors.
TEST(RandomUniform, Moments) {
  for (DType dt : {DType::F32, DType::F64}) {
    Generator gen(1);
    const double lo = -2, hi = 3, w = hi - lo;
    auto m = moments(ops::to_vector<double>(ops::uniform({kN}, lo, hi, gen, dt)));
    const double var = w * w / 12, mu4 = w * w * w * w / 80;
    EXPECT_NEAR(m.mean, (lo + hi) / 2, 5 * std::sqrt(var / kN));
    EXPECT_NEAR(m.var, var, 5 * std::sqrt((mu4 - var * var) / kN));
    EXPECT_GE(m.min, lo);
    EXPECT_LT(m.max, hi);
  }
}

// N(mean, std): sample mean within 5·std/sqrt(n); variance within 5·std²·sqrt(2/n); kurtosis 3
// within 5·sqrt(24/n); the fraction within one std of the mean 0.682689 within 5·sqrt(p(1-p)/n).
TEST(RandomNormal, Moments) {
  for (DType dt : {DType::F32, DType::F64}) {
    Generator gen(2);
    const double mu = 3, sd = 2;
    auto v = ops::to_vector<double>(ops::normal({kN}, mu, sd, gen, dt));
    auto m = moments(v);
    EXPECT_NEAR(m.mean, mu, 5 * sd / std::sqrt(kN));
    EXPECT_NEAR(m.var, sd * sd, 5 * sd * sd * std::sqrt(2.0 / kN));
    EXPECT_NEAR(m.kurt, 3.0, 5 * std::sqrt(24.0 / kN));
    int64_t inside = 0;
    for (double x : v) inside += std::fabs(x - mu) < sd;
    const double p = 0.6826894921370859;
    EXPECT_NEAR(static_cast<double>(inside) / kN, p, 5 * std::sqrt(p * (1 - p) / kN));
  }
}

// Values stay inside [a, b]; mean and variance match the truncated normal's
//   mean = mu + sd·(phi(al) - phi(be))/Z,  var = sd²·(1 + (al·phi(al) - be·phi(be))/Z - ((phi(al) - phi(be))/Z)²)
// with al = (a-mu)/sd, be = (b-mu)/sd, Z = Phi(be) - Phi(al), to 5 standard errors (mean: sqrt(var/n);
// variance: var·sqrt(2/n), which over-covers since truncation thins the tails).
TEST(RandomTruncNormal, BoundsAndMoments) {
  struct Case {
    double mu, sd, a, b;
  } cases[] = {{0, 1, -2, 2}, {0.5, 1, 0, 3}, {0, 0.02, -2, 2}, {-1, 0.5, -1.2, 10}};
  for (DType dt : {DType::F32, DType::F64}) {
    for (const Case& c : cases) {
      Generator gen(3);
      auto m = moments(ops::to_vector<double>(ops::trunc_normal({kN}, c.mu, c.sd, c.a, c.b, gen, dt)));
      const double al = (c.a - c.mu) / c.sd, be = (c.b - c.mu) / c.sd, Z = Phi(be) - Phi(al);
      const double d = (phi(al) - phi(be)) / Z;
      const double mean = c.mu + c.sd * d;
      const double var = c.sd * c.sd * (1 + (al * phi(al) - be * phi(be)) / Z - d * d);
      EXPECT_GE(m.min, c.a);
      EXPECT_LE(m.max, c.b);
      EXPECT_NEAR(m.mean, mean, 5 * std::sqrt(var / kN)) << c.mu << " " << c.sd << " [" << c.a << ", " << c.b << "]";
      EXPECT_NEAR(m.var, var, 5 * var * std::sqrt(2.0 / kN)) << c.mu << " " << c.sd;
    }
  }
}

// erfinv against the known normal quantiles Phi^-1(0.75) = 0.674489750196081743 and
// Phi^-1(0.975) = 1.959963984540054 (x = sqrt(2)·erfinv(2p - 1)), and erf(erfinv(x)) = x to a few ulp.
TEST(RandomErfinv, KnownValuesAndInverse) {
  EXPECT_NEAR(std::sqrt(2.0) * erfinv(0.5), 0.674489750196081743, 1e-15);
  EXPECT_NEAR(std::sqrt(2.0) * erfinv(0.95), 1.959963984540054, 1e-14);
  EXPECT_EQ(erfinv(0.0), 0.0);
  EXPECT_EQ(erfinv(1.0), INFINITY);
  EXPECT_EQ(erfinv(-1.0), -INFINITY);
  EXPECT_TRUE(std::isnan(erfinv(1.5)));
  for (int i = -999; i <= 999; ++i) {
    const double x = i / 1000.0, y = erfinv(x);
    EXPECT_NEAR(std::erf(y), x, 4e-16 + 2e-16 * std::fabs(x)) << x;
    EXPECT_EQ(erfinv(-x), -y);
  }
  // Tails: 1 - x down to 1e-15 keeps relative precision through erfc (1 - x is exact here).
  for (double t : {1e-3, 1e-6, 1e-9, 1e-12, 1e-15}) {
    const double x = 1.0 - t, y = erfinv(x);
    EXPECT_NEAR(std::erfc(y) / (1.0 - x), 1.0, 1e-12) << t;
  }
}

// ---------------------------------------------------------------- dropout

// Kept fraction 1-p within 5·sqrt(p(1-p)/n); kept values exactly x/(1-p) (rounded once in f32).
TEST(DropoutTest, KeepFractionAndScale) {
  Generator gen(11);
  const double p = 0.3;
  Tensor x = ops::full({kN}, 1.5);
  auto y = ops::to_vector<float>(dropout(x, p, true, gen));
  int64_t kept = 0;
  for (float v : y) {
    if (v != 0) {
      ++kept;
      EXPECT_EQ(v, 1.5f * static_cast<float>(1.0 / (1 - p)));
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / kN, 1 - p, 5 * std::sqrt(p * (1 - p) / kN));
}

TEST(DropoutTest, IdentityWhenNotTrainingOrPZero) {
  Generator gen(1);
  Tensor x = ops::full({4, 5}, 2.0);
  Tensor a = dropout(x, 0.5, false, gen), b = dropout(x, 0.0, true, gen);
  EXPECT_EQ(a.storage(), x.storage());
  EXPECT_EQ(b.storage(), x.storage());
  EXPECT_EQ(gen.offset(), 0u);  // nothing drawn
}

TEST(DropoutTest, RejectsBadP) {
  Generator gen(1);
  Tensor x = ops::ones({3});
  for (double p : {1.0, -0.1, 1.5, std::nan("")}) {
    try {
      dropout(x, p, true, gen);
      ADD_FAILURE() << "p = " << p << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("dropout: p must be in [0, 1)"), std::string::npos) << e.what();
    }
  }
}

// The gradient is the mask itself: the same draw from a generator in the same state.
TEST(DropoutTest, GradientEqualsMask) {
  Generator gen(8), twin(8);
  Tensor x = ops::uniform({6, 7}, -1, 1, gen, DType::F64);
  twin.set_offset(gen.offset());
  x.requires_grad_();
  Tensor y = dropout(x, 0.4, true, gen);
  backward(sum(y));
  Tensor mask = ops::dropout_mask({6, 7}, 0.4, twin, DType::F64);
  EXPECT_EQ(ops::to_vector<double>(x.grad()), ops::to_vector<double>(mask));
  EXPECT_EQ(ops::to_vector<double>(y), ops::to_vector<double>(ops::mul(x.detach(), mask)));
}
