// The resize, optimizer and random kernels: their shared per-element formulas
// (tensor/kernel_math.h) against double references on the CPU, and each kernel on the GPU against
// the CPU kernel (bit for bit where the formulas round the same, else within the stated tolerance).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/backend.h"
#include "tensor/image_ops.h"
#include "tensor/kernel_math.h"
#include "tensor/optim_ops.h"
#include "tensor/random.h"
#include "tests/devices.h"
#include "tests/testing.h"

using namespace hipt;
using hipt::testing::kCpu;

namespace {

// Keys' cubic (A = -0.75) as the textbook piecewise polynomial.
double keys(double x) {
  const double A = -0.75, a = std::fabs(x);
  if (a <= 1) return (A + 2) * a * a * a - (A + 3) * a * a + 1;
  if (a < 2) return A * a * a * a - 5 * A * a * a + 8 * A * a - 4 * A;
  return 0;
}

// ---------------------------------------------------------------- shared formulas, on the CPU

TEST(KernelMath, CubicTapsMatchKeysAndClampToTheBorder) {
  for (double scale : {2.0, 0.5, 1.7, 0.3, 3.0}) {
    const int64_t in = 7, out = static_cast<int64_t>(std::floor(in * scale));
    for (int64_t o = 0; o < out; ++o) {
      int64_t idx[4];
      double w[4];
      float wf[4];
      kmath::cubic_taps<double>(o, in, scale, idx, w);
      int64_t idx_f[4];
      kmath::cubic_taps<float>(o, in, scale, idx_f, wf);
      const double src = (1.0 / scale) * (o + 0.5) - 0.5, fl = std::floor(src);
      double sum = 0;
      for (int k = 0; k < 4; ++k) {
        const int64_t raw = static_cast<int64_t>(fl) - 1 + k;
        EXPECT_EQ(idx[k], std::min<int64_t>(std::max<int64_t>(raw, 0), in - 1)) << scale << " " << o << " " << k;
        EXPECT_NEAR(w[k], keys(src - static_cast<double>(raw)), 1e-14) << scale << " " << o << " " << k;
        sum += w[k];
      }
      EXPECT_NEAR(sum, 1.0, 1e-14);  // partition of unity (the outer weights cancel terms)
      if (static_cast<double>(static_cast<float>(1.0 / scale)) == 1.0 / scale) {
        for (int k = 0; k < 4; ++k) EXPECT_EQ(wf[k], static_cast<float>(w[k]));  // one rounding to f32
      }
    }
  }
  // Upsampling by 2: output 0 samples -0.25, taps -2..1 clamp to {0, 0, 0, 1}.
  int64_t idx[4];
  double w[4];
  kmath::cubic_taps<double>(0, 5, 2.0, idx, w);
  EXPECT_EQ(idx[0], 0);
  EXPECT_EQ(idx[1], 0);
  EXPECT_EQ(idx[2], 0);
  EXPECT_EQ(idx[3], 1);
  EXPECT_DOUBLE_EQ(w[1], keys(0.75));
}

TEST(KernelMath, TapSumRunsLeftToRight) {
  const float w[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  // ((1e8 + 1) + -1e8) + 1 = 1 in f32 (1e8 + 1 rounds to 1e8); any other order gives 0 or 2.
  EXPECT_EQ(kmath::tap_sum(1e8f, 1.0f, -1e8f, 1.0f, w), 1.0f);
  const double wd[4] = {0.5, -0.25, 2, 1};
  EXPECT_EQ(kmath::tap_sum(1.0, 2.0, 3.0, 4.0, wd), 0.5 - 0.5 + 6 + 4);
}

TEST(KernelMath, TapsByInputListEveryTapOnceInOutputOrder) {
  for (double scale : {2.0, 0.5, 1.3, 0.26}) {
    const int64_t in = 9, out = static_cast<int64_t>(std::floor(in * scale));
    const auto by = kmath::taps_by_input<double>(in, out, scale);
    ASSERT_EQ(by.start.size(), static_cast<size_t>(in + 1));
    EXPECT_EQ(by.start[0], 0);
    EXPECT_EQ(by.start[in], out * 4);
    for (int64_t i = 0; i < in; ++i) {
      std::vector<std::pair<int64_t, double>> want;  // (o, w) for every tap of o that reads i
      for (int64_t o = 0; o < out; ++o) {
        int64_t idx[4];
        double w[4];
        kmath::cubic_taps<double>(o, in, scale, idx, w);
        for (int k = 0; k < 4; ++k)
          if (idx[k] == i) want.emplace_back(o, w[k]);
      }
      ASSERT_EQ(by.start[i + 1] - by.start[i], static_cast<int64_t>(want.size())) << scale << " " << i;
      for (size_t e = 0; e < want.size(); ++e) {
        EXPECT_EQ(by.out_pos[by.start[i] + e], want[e].first);
        EXPECT_EQ(by.w[by.start[i] + e], want[e].second);
      }
    }
  }
}

// Adam / AdamW in double from the hyper-parameters, the formula of tensor/optim_ops.h.
void adam_reference(const ops::AdamWHyper& h, double& p, double g, double& m, double& v) {
  if (h.decoupled)
    p *= 1 - h.lr * h.weight_decay;
  else
    g += h.weight_decay * p;
  m = h.beta1 * m + (1 - h.beta1) * g;
  v = h.beta2 * v + (1 - h.beta2) * g * g;
  const double bc1 = 1 - std::pow(h.beta1, h.step), bc2 = 1 - std::pow(h.beta2, h.step);
  p -= h.lr / bc1 * m / (std::sqrt(v) / std::sqrt(bc2) + h.eps);
}

TEST(KernelMath, AdamUpdateMatchesDoubleReference) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> d(-1, 1);
  for (bool decoupled : {true, false}) {
    for (double wd : {0.0, 0.05}) {
      for (int64_t step : {1, 2, 10}) {
        const ops::AdamWHyper h{1e-3, 0.9, 0.999, 1e-8, wd, step, decoupled};
        const auto cf = kmath::adam_coeffs<float>(h);
        const auto cd = kmath::adam_coeffs<double>(h);
        EXPECT_EQ(cd.l2, !decoupled && wd != 0);
        for (int i = 0; i < 200; ++i) {
          const double p0 = d(gen), g = d(gen), m0 = 0.1 * d(gen), v0 = 0.01 * std::fabs(d(gen));
          double pr = p0, mr = m0, vr = v0;
          adam_reference(h, pr, g, mr, vr);
          double pd = p0, md = m0, vd = v0;
          kmath::adam_update(pd, g, md, vd, cd);
          EXPECT_NEAR(pd, pr, 1e-14);
          EXPECT_NEAR(md, mr, 1e-15);
          EXPECT_NEAR(vd, vr, 1e-16);
          // f32 from the f32-rounded inputs: within a few f32 ulps of the reference on those inputs.
          float pf = static_cast<float>(p0), mf = static_cast<float>(m0), vf = static_cast<float>(v0);
          const float gf = static_cast<float>(g);
          double pq = pf, mq = mf, vq = vf;
          adam_reference(h, pq, gf, mq, vq);
          kmath::adam_update(pf, gf, mf, vf, cf);
          EXPECT_NEAR(pf, pq, 4e-7 * (1 + std::fabs(pq)));
          EXPECT_NEAR(mf, mq, 4e-7 * std::fabs(mq) + 3e-8);
          EXPECT_NEAR(vf, vq, 4e-7 * std::fabs(vq) + 1e-10);
        }
      }
    }
  }
}

TEST(KernelMath, SgdUpdateMatchesDoubleReference) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<double> d(-1, 1);
  for (double mom : {0.0, 0.9}) {
    for (double wd : {0.0, 1e-2}) {
      for (bool first : {true, false}) {
        const auto c = kmath::sgd_coeffs<double>(0.1, mom, wd, first);
        for (int i = 0; i < 50; ++i) {
          const double p0 = d(gen), g = d(gen), b0 = d(gen);
          double dd = g + wd * p0, b_want = b0;
          if (mom != 0) {
            b_want = first ? dd : mom * b0 + dd;
            dd = b_want;
          }
          const double p_want = p0 - 0.1 * dd;
          double p = p0, b = b0;
          kmath::sgd_update(p, g, b, c);
          EXPECT_NEAR(p, p_want, 1e-15);
          EXPECT_EQ(b, mom != 0 ? b_want : b0);  // no momentum: the buffer is not touched
        }
      }
    }
  }
}

TEST(KernelMath, WordToValueMaps) {
  using philox::u24;
  using philox::u53;
  EXPECT_EQ(u24(0), 0.0);
  EXPECT_EQ(u24(0xFFu), 0.0);  // the low 8 bits are dropped
  EXPECT_EQ(u24(0x100u), 0x1p-24);
  EXPECT_EQ(u24(0xFFFFFFFFu), 1.0 - 0x1p-24);
  EXPECT_EQ(u53(0, 0), 0.0);
  EXPECT_EQ(u53(0x800u, 0), 0x1p-53);
  EXPECT_EQ(u53(0, 1), 0x1p-32);  // the high word is the top half
  EXPECT_EQ(u53(0xFFFFFFFFu, 0xFFFFFFFFu), 1.0 - 0x1p-53);

  const uint32_t w[4] = {0x00000000u, 0x80000000u, 0xFFFFFFFFu, 0x40000000u};
  double v[4];
  kmath::UniformLike<kmath::UniformValue>{{-2.0, 4.0}}.block4(w, v);
  EXPECT_EQ(v[0], -2.0);
  EXPECT_EQ(v[1], 0.0);
  EXPECT_EQ(v[2], -2.0 + 4.0 * (1.0 - 0x1p-24));
  EXPECT_EQ(v[3], -1.0);
  kmath::UniformLike<kmath::UniformValue>{{0.0, 1.0}}.block2(w, v);
  EXPECT_EQ(v[0], u53(w[0], w[1]));
  EXPECT_EQ(v[1], u53(w[2], w[3]));

  // Box-Muller: element pairs (w0, w1) and (w2, w3), u1 shifted into (0, 1].
  kmath::NormalBlock{1.0, 2.0}.block4(w, v);
  const double r0 = std::sqrt(-2 * std::log(0x1p-24)), r1 = std::sqrt(-2 * std::log(u24(w[2]) + 0x1p-24));
  EXPECT_NEAR(v[0], 1 + 2 * r0 * std::cos(2 * M_PI * 0.5), 1e-14);
  EXPECT_NEAR(v[1], 1 + 2 * r0 * std::sin(2 * M_PI * 0.5), 1e-14);
  EXPECT_NEAR(v[2], 1 + 2 * r1 * std::cos(2 * M_PI * 0.25), 1e-14);
  EXPECT_NEAR(v[3], 1 + 2 * r1 * std::sin(2 * M_PI * 0.25), 1e-14);
  kmath::NormalBlock{0.0, 1.0}.block2(w, v);
  const double r = std::sqrt(-2 * std::log(u53(w[0], w[1]) + 0x1p-53));
  EXPECT_NEAR(v[0], r * std::cos(2 * M_PI * u53(w[2], w[3])), 1e-14);

  // Dropout: keep iff u24 < 1 - p; p = 0.5 keeps words below 0x80000000 at value 2.
  kmath::dropout_block(0.5).block4(w, v);
  EXPECT_EQ(v[0], 2.0);
  EXPECT_EQ(v[1], 0.0);
  EXPECT_EQ(v[2], 0.0);
  EXPECT_EQ(v[3], 2.0);

  // Truncated normal: u = 0 and u -> 1 give the bounds, u = 1/2 the median of symmetric bounds.
  const auto tn = kmath::trunc_normal_value(0.5, 2.0, -1.5, 2.5);
  EXPECT_NEAR(tn(0.0), -1.5, 1e-12);
  EXPECT_NEAR(tn(1.0 - 0x1p-53), 2.5, 1e-6);
  EXPECT_NEAR(tn(0.5), 0.5, 1e-15);
  for (double u : {0.01, 0.3, 0.77, 0.999}) {  // Φ((x - mean)/std) = lo + (hi - lo)·u
    const double x = tn(u);
    const double lo = 0.5 * std::erfc(1.0 / std::sqrt(2.0)), hi = 0.5 * std::erfc(-1.0 / std::sqrt(2.0));
    EXPECT_NEAR(0.5 * std::erfc(-(x - 0.5) / 2.0 / std::sqrt(2.0)), lo + (hi - lo) * u, 1e-15);
  }
}

TEST(KernelMath, BlockValuesReadTheRightPhiloxBlock) {
  uint32_t w[4];
  philox4x32(42, 17 + 3, w);
  double v[4];
  kmath::block_values<4>(kmath::UniformLike<kmath::UniformValue>{{0.0, 1.0}}, 42, 17, 3, v);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(v[j], philox::u24(w[j]));
  double v2[2];
  kmath::block_values<2>(kmath::UniformLike<kmath::UniformValue>{{0.0, 1.0}}, 42, 17, 3, v2);
  EXPECT_EQ(v2[0], philox::u53(w[0], w[1]));
  EXPECT_EQ(v2[1], philox::u53(w[2], w[3]));
}

// ---------------------------------------------------------------- kernels on the device vs the CPU

class CudaMiscOps : public hipt::testing::OnDevice {};

template <class T> void expect_bitwise(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<T> g = ops::to_vector<T>(got), w = ops::to_vector<T>(want);
  int64_t bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::memcmp(&g[i], &w[i], sizeof(T)) != 0 && bad++ < 5)
      ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", want " << w[i];
  }
  EXPECT_EQ(bad, 0) << what;
}
void expect_bitwise(const Tensor& got, const Tensor& want, const std::string& what) {
  if (want.dtype() == DType::F64)
    expect_bitwise<double>(got, want, what);
  else
    expect_bitwise<float>(got, want, what);
}

TEST_P(CudaMiscOps, BicubicResizeMatchesCpuBitwise) {
  struct Case {
    Shape shape;
    double sh, sw;
  };
  const std::vector<Case> cases = {{{1, 1, 1, 1}, 2.0, 3.0},    {{2, 3, 5, 7}, 2.0, 0.5},
                                   {{1, 2, 9, 4}, 1.7, 3.3},    {{3, 1, 13, 11}, 0.3, 0.45},
                                   {{1, 1, 64, 300}, 4.0, 0.25}};
  for (DType dt : {DType::F32, DType::F64}) {
    for (const Case& c : cases) {
      const std::string what = c.shape.str() + " " + std::string(dtype_name(dt)) + " scale " + std::to_string(c.sh) + "x" +
                               std::to_string(c.sw);
      const Tensor x = hipt::testing::random_tensor(c.shape, dt, 5);
      const Tensor y_cpu = ops::bicubic_resize(x, c.sh, c.sw);
      const Tensor y = ops::bicubic_resize(x.to(device()), c.sh, c.sw);
      EXPECT_EQ(y.device(), device());
      expect_bitwise(y, y_cpu, "forward " + what);
      const Tensor g = hipt::testing::random_tensor(y_cpu.shape(), dt, 6);
      const Tensor dx_cpu = ops::bicubic_resize_backward(g, c.shape[2], c.shape[3], c.sh, c.sw);
      const Tensor dx = ops::bicubic_resize_backward(g.to(device()), c.shape[2], c.shape[3], c.sh, c.sw);
      expect_bitwise(dx, dx_cpu, "backward " + what);
    }
  }
  // A permuted view goes through the op's contiguous copy first.
  const Tensor x = ops::transpose(hipt::testing::random_tensor({2, 3, 6, 5}, DType::F32, 8), 2, 3);
  expect_bitwise(ops::bicubic_resize(x.to(device()), 1.5, 2.5), ops::bicubic_resize(x, 1.5, 2.5), "permuted");
}

TEST_P(CudaMiscOps, AdamAndSgdStepsMatchCpuBitwise) {
  for (DType dt : {DType::F32, DType::F64}) {
    for (int64_t n : {int64_t{1}, int64_t{1001}, int64_t{70000}}) {
      for (bool decoupled : {true, false}) {
        const Tensor p = hipt::testing::random_tensor({n}, dt, 1), g = hipt::testing::random_tensor({n}, dt, 2);
        const Tensor m = hipt::testing::random_tensor({n}, dt, 3, -0.1, 0.1);
        const Tensor v = hipt::testing::random_tensor({n}, dt, 4, 0, 0.01);
        // Fresh copies on both sides (.to of a tensor already there may share its storage).
        Tensor pc = ops::clone(p), mc = ops::clone(m), vc = ops::clone(v);
        Tensor pd = ops::clone(p).to(device()), md = ops::clone(m).to(device()), vd = ops::clone(v).to(device());
        const Tensor gd = g.to(device());
        for (int64_t step = 1; step <= 3; ++step) {
          const ops::AdamWHyper h{1e-2, 0.9, 0.999, 1e-8, 0.1, step, decoupled};
          ops::adamw_step(pc, g, mc, vc, h);
          ops::adamw_step(pd, gd, md, vd, h);
        }
        const std::string what = std::string(dtype_name(dt)) + " n " + std::to_string(n) +
                                 (decoupled ? " adamw" : " adam");
        expect_bitwise(pd, pc, what + " param");
        expect_bitwise(md, mc, what + " exp_avg");
        expect_bitwise(vd, vc, what + " exp_avg_sq");

        Tensor sc = ops::clone(p), bc = ops::zeros({n}, dt), sd = ops::clone(p).to(device()),
               bd = ops::zeros({n}, dt, device());
        for (int step = 0; step < 3; ++step) {
          ops::sgd_step(sc, g, bc, 0.1, decoupled ? 0.9 : 0.0, 1e-2, step == 0);
          ops::sgd_step(sd, gd, bd, 0.1, decoupled ? 0.9 : 0.0, 1e-2, step == 0);
        }
        expect_bitwise(sd, sc, what + " sgd param");
        expect_bitwise(bd, bc, what + " sgd buffer");
      }
    }
  }
}

// Each random op from the same generator state on the device and on the CPU.
TEST_P(CudaMiscOps, RandomStreamsMatchCpu) {
  for (DType dt : {DType::F32, DType::F64}) {
    for (int64_t n : {int64_t{1}, int64_t{5}, int64_t{4099}, int64_t{300001}}) {
      const std::string what = std::string(dtype_name(dt)) + " n " + std::to_string(n);
      Generator a(1234), b(1234);
      a.set_offset(77);
      b.set_offset(77);
      expect_bitwise(ops::uniform({n}, -3, 5, a, dt, device()), ops::uniform({n}, -3, 5, b, dt, kCpu),
                     "uniform " + what);
      expect_bitwise(ops::dropout_mask({n}, 0.3, a, dt, device()), ops::dropout_mask({n}, 0.3, b, dt, kCpu),
                     "dropout_mask " + what);
      // CUDA's log/cos/sin/erf/erfc are within an ulp or two of glibc's.
      const double rtol = dt == DType::F64 ? 1e-13 : 2.5e-7, atol = dt == DType::F64 ? 1e-13 : 1e-7;
      hipt::testing::expect_close(ops::normal({n}, 0.5, 2, a, dt, device()), ops::normal({n}, 0.5, 2, b, dt, kCpu),
                                  atol, rtol, "normal " + what);
      hipt::testing::expect_close(ops::trunc_normal({n}, 0, 1, -2, 2, a, dt, device()),
                                  ops::trunc_normal({n}, 0, 1, -2, 2, b, dt, kCpu), atol, rtol,
                                  "trunc_normal " + what);
      EXPECT_EQ(a.offset(), b.offset());
    }
  }
}

// bf16 masks exist on the GPU only (through the kernel table): the f32 mask rounded to bf16.
TEST_P(CudaMiscOps, Bf16DropoutMaskIsTheF32MaskRounded) {
  if (!on_gpu()) GTEST_SKIP() << "the CPU kernel takes f32 and f64 masks";
  const int64_t n = 1003;
  Tensor mask = ops::empty({n}, DType::BF16, device());
  backend(DeviceType::CUDA).dropout_mask(mask, 9, 4, 0.1);
  Tensor want = ops::empty({n}, DType::F32, kCpu);
  backend(DeviceType::CPU).dropout_mask(want, 9, 4, 0.1);
  const std::vector<float> got = ops::to_vector<float>(ops::cast(mask.to(kCpu), DType::F32));
  const std::vector<float> rounded = ops::to_vector<float>(ops::cast(ops::cast(want, DType::BF16), DType::F32));
  EXPECT_EQ(got, rounded);
}

HIPT_INSTANTIATE_ON_DEVICES(CudaMiscOps);

}  // namespace
