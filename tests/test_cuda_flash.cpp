// The CUDA flash-attention kernels (cuda/flash_attention.cu), called directly on device tensors,
// against a plain double reference computed on the CPU from the same (dtype-rounded) inputs.
//
// CudaFlash (OnDevice): the CPU instance skips (the kernel runs on CUDA only) and the CUDA instance
// skips where there is no GPU. Shapes: T of 1, 17, 64, 257 (1025 in the *Heavy tests), Tq != Tk
// both ways, D of 32, 64 and 128, causal and not, q/k/v (and g) as permuted views of a packed qkv
// tensor and as rows that are not 16-byte aligned. Tolerance: max |got - want| <= tol · max(1, max |want|) per output: f32 1e-5, bf16 2e-2
// (outputs rounded to bf16; arithmetic in f32), f64 1e-10. (The floor of 1: with a single visible
// key the gradients dq, dk are exactly 0 and the kernel's are rounding noise of dP - Δ.) Outputs start as NaN, so an element the kernel
// leaves unwritten fails. The backward must give the same bits twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda/kernels.h"
#include "devices.h"
#include "testing.h"

using namespace hipt;

namespace {

using Vec = std::vector<double>;

// The kernels, reached only in a build with CUDA (the CUDA instances skip in any other).
void flash_forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                   double scale, bool causal) {
#if defined(HIPT_HAVE_CUDA)
  cuda::flash_attention_forward(out, lse, q, k, v, scale, causal);
#else
  (void)out, (void)lse, (void)q, (void)k, (void)v, (void)scale, (void)causal;
  throw Error("flash_attention_forward: built without CUDA");
#endif
}
void flash_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                    const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, double scale, bool causal) {
#if defined(HIPT_HAVE_CUDA)
  cuda::flash_attention_backward(dq, dk, dv, g, q, k, v, out, lse, scale, causal);
#else
  (void)dq, (void)dk, (void)dv, (void)g, (void)q, (void)k, (void)v, (void)out, (void)lse, (void)scale, (void)causal;
  throw Error("flash_attention_backward: built without CUDA");
#endif
}

class CudaFlash : public hipt::testing::OnDevice {
 protected:
  void SetUp() override {
    OnDevice::SetUp();
    if (IsSkipped()) return;
    if (!on_gpu()) GTEST_SKIP() << "the flash kernel runs on CUDA only";
  }
};

Vec normal(int64_t n, uint32_t seed, double sd = 1) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0, sd);
  Vec v(static_cast<size_t>(n));
  for (double& x : v) x = dist(gen);
  return v;
}
Vec vals(const Tensor& t) { return ops::to_vector<double>(t); }
Tensor make(const Vec& v, const Shape& s, DType dtype, Device device) {
  return ops::cast(ops::from_vector(v, s), dtype).to(device);
}
DType lse_dtype(DType dt) { return dt == DType::F64 ? DType::F64 : DType::F32; }

double tolerance(DType dt) { return dt == DType::F32 ? 1e-5 : dt == DType::BF16 ? 2e-2 : 1e-10; }

// max |got - want| <= tol · max(1, max |want|) (NaN anywhere in got fails).
void expect_close_rel(const Vec& got, const Vec& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1, worst = 0;
  size_t at = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::isnan(got[i]) ? std::numeric_limits<double>::infinity() : std::abs(got[i] - want[i]);
    if (e > worst) worst = e, at = i;
  }
  EXPECT_LE(worst, tol * scale) << what << ": element " << at << " of " << got.size() << " got "
                                                 << (got.empty() ? 0 : got[at]) << " want "
                                                 << (want.empty() ? 0 : want[at]) << ", max |want| " << scale;
}

struct Case {
  int64_t B, H, Tq, Tk, D;
  bool causal;
  DType dtype;
  std::string str() const {
    return "B" + std::to_string(B) + " H" + std::to_string(H) + " Tq" + std::to_string(Tq) + " Tk" +
           std::to_string(Tk) + " D" + std::to_string(D) + (causal ? " causal " : " full ") + std::string(dtype_name(dtype));
  }
};

// Attention in double over contiguous [B·H, T, D] values; the backward for the upstream gradient g.
struct Reference {
  Vec out, lse, dq, dk, dv;
};
Reference reference(const Case& c, const Vec& q, const Vec& k, const Vec& v, const Vec& g, double scale) {
  const int64_t BH = c.B * c.H, Tq = c.Tq, Tk = c.Tk, D = c.D;
  Reference r{Vec(static_cast<size_t>(BH * Tq * D)), Vec(static_cast<size_t>(BH * Tq)),
              Vec(static_cast<size_t>(BH * Tq * D)), Vec(static_cast<size_t>(BH * Tk * D)),
              Vec(static_cast<size_t>(BH * Tk * D))};
  Vec p(static_cast<size_t>(Tk)), dp(static_cast<size_t>(Tk));
  for (int64_t bh = 0; bh < BH; ++bh) {
    const double* qb = &q[static_cast<size_t>(bh * Tq * D)];
    const double* kb = &k[static_cast<size_t>(bh * Tk * D)];
    const double* vb = &v[static_cast<size_t>(bh * Tk * D)];
    const double* gb = &g[static_cast<size_t>(bh * Tq * D)];
    for (int64_t i = 0; i < Tq; ++i) {
      const int64_t n = c.causal ? std::min(Tk, i + 1) : Tk;  // the visible keys are [0, n)
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += qb[i * D + d] * kb[j * D + d];
        p[j] = s * scale;
        m = std::max(m, p[j]);
      }
      double l = 0;
      for (int64_t j = 0; j < n; ++j) l += std::exp(p[j] - m);
      const double lse = m + std::log(l);
      r.lse[static_cast<size_t>(bh * Tq + i)] = lse;
      double delta = 0;
      for (int64_t j = 0; j < n; ++j) {
        p[j] = std::exp(p[j] - lse);
        dp[j] = 0;
        for (int64_t d = 0; d < D; ++d) {
          r.out[static_cast<size_t>((bh * Tq + i) * D + d)] += p[j] * vb[j * D + d];
          dp[j] += gb[i * D + d] * vb[j * D + d];
        }
        delta += p[j] * dp[j];
      }
      for (int64_t j = 0; j < n; ++j) {
        const double ds = p[j] * (dp[j] - delta);
        for (int64_t d = 0; d < D; ++d) {
          r.dq[static_cast<size_t>((bh * Tq + i) * D + d)] += ds * kb[j * D + d] * scale;
          r.dk[static_cast<size_t>((bh * Tk + j) * D + d)] += ds * qb[i * D + d] * scale;
          r.dv[static_cast<size_t>((bh * Tk + j) * D + d)] += p[j] * gb[i * D + d];
        }
      }
    }
  }
  return r;
}

struct Inputs {
  Tensor q, k, v, g;
};
// Contiguous inputs on `device`, normal with sd 1 (q with sd 1.5 so some rows are peaked).
Inputs contiguous_inputs(const Case& c, Device device, uint32_t seed) {
  const Shape sq{c.B, c.H, c.Tq, c.D}, sk{c.B, c.H, c.Tk, c.D};
  return {make(normal(sq.numel(), seed, 1.5), sq, c.dtype, device), make(normal(sk.numel(), seed + 1), sk, c.dtype, device),
          make(normal(sk.numel(), seed + 2), sk, c.dtype, device), make(normal(sq.numel(), seed + 3), sq, c.dtype, device)};
}

struct Outputs {
  Tensor out, lse, dq, dk, dv;
};
Outputs run(const Case& c, const Inputs& in, bool backward) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), scale = 1 / std::sqrt(double(c.D));
  const Device dev = in.q.device();
  const Shape sq{c.B, c.H, c.Tq, c.D}, sk{c.B, c.H, c.Tk, c.D};
  Outputs o{ops::full(sq, nan, c.dtype, dev), ops::full({c.B, c.H, c.Tq}, nan, lse_dtype(c.dtype), dev), {}, {}, {}};
  flash_forward(o.out, o.lse, in.q, in.k, in.v, scale, c.causal);
  if (!backward) return o;
  o.dq = ops::full(sq, nan, c.dtype, dev);
  o.dk = ops::full(sk, nan, c.dtype, dev);
  o.dv = ops::full(sk, nan, c.dtype, dev);
  flash_backward(o.dq, o.dk, o.dv, in.g, in.q, in.k, in.v, o.out, o.lse, scale, c.causal);
  return o;
}

// The kernels on `in` against the double reference on the same (rounded) values.
void check(const Case& c, const Inputs& in, bool backward) {
  SCOPED_TRACE(c.str());
  const Reference want =
      reference(c, vals(in.q), vals(in.k), vals(in.v), vals(in.g), 1 / std::sqrt(double(c.D)));
  const Outputs got = run(c, in, backward);
  const double tol = tolerance(c.dtype);
  expect_close_rel(vals(got.out), want.out, tol, "out");
  // lse is computed in f32 even for bf16 inputs: only the f32 score arithmetic separates it.
  expect_close_rel(vals(got.lse), want.lse, c.dtype == DType::F64 ? 1e-12 : 1e-5, "lse");
  if (!backward) return;
  expect_close_rel(vals(got.dq), want.dq, tol, "dq");
  expect_close_rel(vals(got.dk), want.dk, tol, "dk");
  expect_close_rel(vals(got.dv), want.dv, tol, "dv");
}

void sweep(DType dtype, Device device, bool backward) {
  uint32_t seed = 1;
  for (int64_t T : {1, 17, 64, 257})
    for (int64_t D : {32, 64, 128})
      for (bool causal : {false, true}) {
        const Case c{2, 3, T, T, D, causal, dtype};
        check(c, contiguous_inputs(c, device, seed += 10), backward);
      }
}

}  // namespace

TEST_P(CudaFlash, ForwardF32) { sweep(DType::F32, device(), false); }
TEST_P(CudaFlash, ForwardBf16) { sweep(DType::BF16, device(), false); }
TEST_P(CudaFlash, ForwardF64) { sweep(DType::F64, device(), false); }
TEST_P(CudaFlash, BackwardF32) { sweep(DType::F32, device(), true); }
TEST_P(CudaFlash, BackwardBf16) { sweep(DType::BF16, device(), true); }
TEST_P(CudaFlash, BackwardF64) { sweep(DType::F64, device(), true); }

// Tq != Tk both ways (the causal diagonal stays top-left aligned), and a single query or key.
TEST_P(CudaFlash, QueryAndKeyLengthsDiffer) {
  uint32_t seed = 500;
  for (DType dtype : {DType::F32, DType::BF16, DType::F64})
    for (auto [Tq, Tk] : std::vector<std::pair<int64_t, int64_t>>{{17, 100}, {100, 17}, {1, 65}, {65, 1}, {70, 130}})
      for (bool causal : {false, true}) {
        const Case c{1, 2, Tq, Tk, 64, causal, dtype};
        check(c, contiguous_inputs(c, device(), seed += 10), true);
      }
}

// q, k, v as the qkv projection leaves them: [B, T, 3, H, D] viewed as three [B, H, T, D] tensors
// (strides T·3HD, D, 3HD, 1), read in place; g as a transposed view of a [B, T, H, D] tensor.
TEST_P(CudaFlash, PermutedViews) {
  for (DType dtype : {DType::F32, DType::BF16})
    for (bool causal : {false, true}) {
      const Case c{2, 3, 77, 77, 64, causal, dtype};
      const Tensor qkv = make(normal(c.B * c.Tq * 3 * c.H * c.D, 900), {c.B, c.Tq, 3, c.H, c.D}, dtype, device());
      const Tensor g = make(normal(c.B * c.Tq * c.H * c.D, 901), {c.B, c.Tq, c.H, c.D}, dtype, device());
      const auto head_view = [&](int part) { return ops::permute(ops::select(qkv, 2, part), {0, 2, 1, 3}); };
      const Inputs in{head_view(0), head_view(1), head_view(2), ops::permute(g, {0, 2, 1, 3})};
      ASSERT_FALSE(in.q.is_contiguous());
      ASSERT_EQ(in.q.strides()[2], 3 * c.H * c.D);
      check(c, in, true);
    }
}

// Rows that are not 16-byte aligned (q, k, v, g cut from [.., D + 1] rows, row stride D + 1): the
// kernels' element-wise loads instead of their 16-byte ones.
TEST_P(CudaFlash, UnalignedRows) {
  for (DType dtype : {DType::F32, DType::BF16, DType::F64})
    for (bool causal : {false, true}) {
      const Case c{1, 2, 70, 90, 32, causal, dtype};
      const auto cut = [&](int64_t T, uint32_t seed) {
        const Tensor wide = make(normal(c.B * c.H * T * (c.D + 1), seed), {c.B, c.H, T, c.D + 1}, dtype, device());
        return ops::slice(wide, 3, 1, c.D + 1);
      };
      const Inputs in{cut(c.Tq, 40), cut(c.Tk, 41), cut(c.Tk, 42), cut(c.Tq, 43)};
      ASSERT_EQ(in.q.strides()[2], c.D + 1);
      check(c, in, true);
    }
}

// Two backward runs give the same bits (no atomics, a fixed summation order).
TEST_P(CudaFlash, BackwardIsDeterministic) {
  for (DType dtype : {DType::F32, DType::BF16}) {
    const Case c{2, 4, 257, 257, 64, true, dtype};
    const Inputs in = contiguous_inputs(c, device(), 77);
    const Outputs a = run(c, in, true), b = run(c, in, true);
    for (const auto& [x, y] : std::vector<std::pair<Tensor, Tensor>>{{a.dq, b.dq}, {a.dk, b.dk}, {a.dv, b.dv}, {a.out, b.out}}) {
      const Tensor xc = ops::cast(x.to(hipt::testing::kCpu), DType::F32), yc = ops::cast(y.to(hipt::testing::kCpu), DType::F32);
      ASSERT_EQ(xc.numel(), yc.numel());
      EXPECT_EQ(std::memcmp(xc.raw_data(), yc.raw_data(), static_cast<size_t>(xc.numel()) * sizeof(float)), 0)
          << dtype_name(dtype);
    }
  }
}

// T = 1025: many key tiles, the last one nearly empty.
TEST_P(CudaFlash, ForwardHeavy) {
  uint32_t seed = 1000;
  for (DType dtype : {DType::F32, DType::BF16})
    for (int64_t D : {64, 128})
      for (bool causal : {false, true}) {
        const Case c{1, 2, 1025, 1025, D, causal, dtype};
        check(c, contiguous_inputs(c, device(), seed += 10), false);
      }
}
TEST_P(CudaFlash, BackwardHeavy) {
  uint32_t seed = 2000;
  for (DType dtype : {DType::F32, DType::BF16})
    for (bool causal : {false, true}) {
      const Case c{1, 2, 1025, 1025, 64, causal, dtype};
      check(c, contiguous_inputs(c, device(), seed += 10), true);
    }
}

// D outside {32, 64, 128}: an error naming the op and D (the ops layer routes such D elsewhere).
TEST_P(CudaFlash, RefusesOtherHeadDims) {
  const Case c{1, 1, 8, 8, 48, false, DType::F32};
  const Inputs in = contiguous_inputs(c, device(), 3);
  const Tensor out = ops::empty({1, 1, 8, 48}, DType::F32, device()), lse = ops::empty({1, 1, 8}, DType::F32, device());
  hipt::testing::expect_error([&] { flash_forward(out, lse, in.q, in.k, in.v, 1.0, false); }, {"attention_lse", "D = 48"});
  hipt::testing::expect_error([&] { flash_backward(out, out, out, in.g, in.q, in.k, in.v, out, lse, 1.0, false); },
                        {"attention_lse_backward", "D = 48"});
}

HIPT_INSTANTIATE_ON_DEVICES(CudaFlash);
