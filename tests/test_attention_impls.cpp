// Every attention implementation (tensor/nn_ops.h: composite, fused, flash) on every usable device
// against one plain double reference of out, log-sum-exp, dq, dk and dv: T in {17, 257, 1025}
// (the last in the *Heavy tests), D in {32, 64}, causal and not, Tq != Tk, f32 everywhere, bf16
// on CUDA, f64 at the small sizes. An implementation the device does not have is checked to be
// refused in one line instead. composite in bf16 is checked forward only (its backward would run
// softmax_backward, which takes f32 and f64).
//
// Tolerances (|got - want| <= atol + rtol·|want|, inputs uniform in [-1, 1), scale 1/sqrt(D)):
//   f64   out, lse, grads  1e-10, 1e-10
//   f32   out, lse         2e-5,  1e-4    grads 1e-4, 1e-3
//   bf16  out              2e-2,  2e-2    grads 5e-2, 5e-2   (reference from the bf16-rounded inputs;
//                                          lse is f32 for bf16 inputs: 1e-3, 1e-3)
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "autograd/nn_functions.h"
#include "devices.h"
#include "tensor/nn_ops.h"
#include "testing.h"

namespace hipt {
namespace {

using ops::AttentionImpl;
using testing::expect_close;
using testing::random_tensor;

struct Tolerance {
  double atol, rtol;
};
struct Tolerances {
  Tolerance out, lse, grad;
};
Tolerances tolerances(DType t) {
  if (t == DType::F64) return {{1e-10, 1e-10}, {1e-10, 1e-10}, {1e-10, 1e-10}};
  if (t == DType::BF16) return {{2e-2, 2e-2}, {1e-3, 1e-3}, {5e-2, 5e-2}};
  return {{2e-5, 1e-4}, {2e-5, 1e-4}, {1e-4, 1e-3}};
}

// The plain double reference: q [BH, Tq, D], k, v [BH, Tk, D], g [BH, Tq, D], all contiguous.
struct Reference {
  std::vector<double> out, lse, dq, dk, dv;
};
Reference reference(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                    const std::vector<double>& g, int64_t BH, int64_t Tq, int64_t Tk, int64_t D, double scale,
                    bool causal) {
  Reference r;
  r.out.assign(static_cast<size_t>(BH * Tq * D), 0.0);
  r.lse.assign(static_cast<size_t>(BH * Tq), 0.0);
  r.dq.assign(static_cast<size_t>(BH * Tq * D), 0.0);
  r.dk.assign(static_cast<size_t>(BH * Tk * D), 0.0);
  r.dv.assign(static_cast<size_t>(BH * Tk * D), 0.0);
  std::vector<double> p(static_cast<size_t>(Tk)), dp(static_cast<size_t>(Tk));
  for (int64_t h = 0; h < BH; ++h) {
    const double* qh = q.data() + h * Tq * D;
    const double* kh = k.data() + h * Tk * D;
    const double* vh = v.data() + h * Tk * D;
    const double* gh = g.data() + h * Tq * D;
    for (int64_t i = 0; i < Tq; ++i) {
      const int64_t seen = causal ? std::min(Tk, i + 1) : Tk;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < seen; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += qh[i * D + d] * kh[j * D + d];
        p[j] = s * scale;
        m = std::max(m, p[j]);
      }
      double l = 0;
      for (int64_t j = 0; j < seen; ++j) l += p[j] = std::exp(p[j] - m);
      for (int64_t j = 0; j < seen; ++j) p[j] /= l;
      r.lse[h * Tq + i] = m + std::log(l);
      double* o = r.out.data() + (h * Tq + i) * D;
      for (int64_t j = 0; j < seen; ++j)
        for (int64_t d = 0; d < D; ++d) o[d] += p[j] * vh[j * D + d];
      // dP_ij = g_i · v_j; dS = P ⊙ (dP - Σ_j P_ij dP_ij)
      double delta = 0;
      for (int64_t j = 0; j < seen; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += gh[i * D + d] * vh[j * D + d];
        dp[j] = s;
        delta += p[j] * s;
      }
      for (int64_t j = 0; j < seen; ++j) {
        const double ds = p[j] * (dp[j] - delta) * scale;
        for (int64_t d = 0; d < D; ++d) {
          r.dq[(h * Tq + i) * D + d] += ds * kh[j * D + d];
          r.dk[(h * Tk + j) * D + d] += ds * qh[i * D + d];
          r.dv[(h * Tk + j) * D + d] += p[j] * gh[i * D + d];
        }
      }
    }
  }
  return r;
}

// The implementations this device runs for this dtype and D; the test checks the others refuse.
bool available(AttentionImpl impl, const Device& dev, DType dtype, int64_t D) {
  const bool cuda = dev.type == DeviceType::CUDA;
  if (dtype == DType::BF16 && !cuda) return false;
  switch (impl) {
    case AttentionImpl::Composite: return true;
    case AttentionImpl::Fused: return !cuda;
    case AttentionImpl::Flash: return cuda && (D == 32 || D == 64 || D == 128);
    case AttentionImpl::Auto: return true;
  }
  return false;
}

class AttentionImpls : public testing::OnDevice {
 protected:
  // Every implementation × D × causal × dtype at B = 1, H = 2, Tq × Tk, against the reference.
  // `permuted`: q, k, v are strided [B, H, T, D] views of [B, T, H, D] tensors, as the models pass.
  void check_all(int64_t Tq, int64_t Tk, const std::vector<int64_t>& dims, bool with_f64, bool permuted = false) {
    const int64_t B = 1, H = 2;
    std::vector<DType> dtypes{DType::F32};
    if (with_f64) dtypes.push_back(DType::F64);
    if (on_gpu()) dtypes.push_back(DType::BF16);
    for (int64_t D : dims)
      for (bool causal : {false, true}) {
        const double scale = 1.0 / std::sqrt(static_cast<double>(D));
        // Master inputs in f64 on the CPU; each dtype's reference starts from the values it sees.
        const Tensor q64 = random_tensor({B, H, Tq, D}, DType::F64, 1);
        const Tensor k64 = random_tensor({B, H, Tk, D}, DType::F64, 2);
        const Tensor v64 = random_tensor({B, H, Tk, D}, DType::F64, 3);
        const Tensor g64 = random_tensor({B, H, Tq, D}, DType::F64, 4);
        for (DType dtype : dtypes) {
          const Tensor q = ops::cast(q64, dtype), k = ops::cast(k64, dtype), v = ops::cast(v64, dtype);
          const Tensor g = ops::cast(g64, dtype);
          const Reference ref = reference(ops::to_vector<double>(q), ops::to_vector<double>(k),
                                          ops::to_vector<double>(v), ops::to_vector<double>(g), B * H, Tq, Tk, D,
                                          scale, causal);
          for (AttentionImpl impl : {AttentionImpl::Composite, AttentionImpl::Fused, AttentionImpl::Flash,
                                     AttentionImpl::Auto}) {
            const std::string what = fmt::format("{} {} Tq={} Tk={} D={}{}{}", ops::attention_impl_name(impl),
                                                 dtype_name(dtype), Tq, Tk, D, causal ? " causal" : "",
                                                 permuted ? " permuted" : "");
            SCOPED_TRACE(what);
            check_one(impl, q, k, v, g, ref, scale, causal, permuted);
          }
        }
      }
  }

 private:
  Tensor on_device(const Tensor& t, bool permuted) const {
    if (!permuted) return t.to(device());
    // [B, H, T, D] -> a [B, T, H, D] buffer on the device, viewed back as [B, H, T, D]
    return ops::permute(ops::contiguous(ops::permute(t, {0, 2, 1, 3})).to(device()), {0, 2, 1, 3});
  }

  void check_one(AttentionImpl impl, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g,
                 const Reference& ref, double scale, bool causal, bool permuted) {
    const int64_t D = q.size(3);
    Tensor qd = on_device(q, permuted), kd = on_device(k, permuted), vd = on_device(v, permuted);
    const ops::AttentionOptions options{causal, impl};
    if (!available(impl, device(), q.dtype(), D)) {
      testing::expect_error([&] { ops::attention(qd, kd, vd, scale, options); },
                            {"attention: ", device().str()});
      return;
    }
    const Tolerances tol = tolerances(q.dtype());
    // Forward and lse through the raw op.
    Tensor lse;
    Tensor out = ops::attention(qd, kd, vd, scale, options, &lse);
    ASSERT_EQ(out.shape(), q.shape());
    expect_close(out.to(Device{}), ref.out, tol.out.atol, tol.out.rtol, "out");
    if (ops::resolve_attention_impl(impl, qd) != AttentionImpl::Composite) {
      ASSERT_TRUE(lse.defined());
      EXPECT_EQ(lse.dtype(), q.dtype() == DType::F64 ? DType::F64 : DType::F32);
      expect_close(lse.to(Device{}), ref.lse, tol.lse.atol, tol.lse.rtol, "lse");
    }
    // Gradients through autograd's attention. composite's in bf16 would run the primitive ops'
    // backward kernels, which take f32 and f64 only (softmax_backward): forward only there.
    if (impl == AttentionImpl::Composite && q.dtype() == DType::BF16) return;
    qd.requires_grad_();
    kd.requires_grad_();
    vd.requires_grad_();
    Tensor y = hipt::attention(qd, kd, vd, scale, options);
    expect_close(y.detach().to(Device{}), ref.out, tol.out.atol, tol.out.rtol, "autograd out");
    backward(y, g.to(device()));
    expect_close(qd.grad().to(Device{}), ref.dq, tol.grad.atol, tol.grad.rtol, "dq");
    expect_close(kd.grad().to(Device{}), ref.dk, tol.grad.atol, tol.grad.rtol, "dk");
    expect_close(vd.grad().to(Device{}), ref.dv, tol.grad.atol, tol.grad.rtol, "dv");
  }
};

TEST_P(AttentionImpls, T17) { check_all(17, 17, {32, 64}, true); }
TEST_P(AttentionImpls, T257) { check_all(257, 257, {32, 64}, true); }
TEST_P(AttentionImpls, T1025Heavy) { check_all(1025, 1025, {32, 64}, false); }
// Fewer queries than keys (the ViT's [CLS]-only last block) and more; strided views read in place.
TEST_P(AttentionImpls, UnequalLengthsAndPermutedViews) {
  check_all(1, 257, {32}, true, true);
  check_all(40, 17, {64}, true, true);
  check_all(17, 40, {32}, true);
}
HIPT_INSTANTIATE_ON_DEVICES(AttentionImpls);

// cuda::elapsed_ms (what bench-attention times with): the work runs once and takes time.
class ElapsedMs : public testing::OnDevice {};
TEST_P(ElapsedMs, RunsTheWorkOnceAndMeasuresIt) {
  int calls = 0;
  const Tensor q = random_tensor({2, 2, 257, 64}).to(device());
  Tensor out;
  const double ms = cuda::elapsed_ms(device(), [&] {
    ++calls;
    out = ops::attention(q, q, q, 0.125, ops::AttentionOptions{});
    if (!on_gpu()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  EXPECT_EQ(calls, 1);
  EXPECT_GT(ms, on_gpu() ? 0.0 : 5.0);
  EXPECT_LT(ms, 60e3);
  EXPECT_EQ(out.shape(), q.shape());
}
HIPT_INSTANTIATE_ON_DEVICES(ElapsedMs);

TEST(ElapsedMsWithoutCuda, RefusesACudaDeviceInOneLine) {
  if (cuda::compiled()) GTEST_SKIP() << "this build has CUDA";
  testing::expect_error([] { cuda::elapsed_ms(Device{DeviceType::CUDA, 0}, [] {}); },
                        {"elapsed_ms: cuda:0: this build has no CUDA backend"});
}

// ---------------------------------------------------------------- device-independent checks

TEST(AttentionImplNames, ParseAndPrintRoundTripAndUnknownNamesAreRefused) {
  for (AttentionImpl i : {AttentionImpl::Auto, AttentionImpl::Composite, AttentionImpl::Fused, AttentionImpl::Flash})
    EXPECT_EQ(ops::parse_attention_impl(ops::attention_impl_name(i)), i);
  testing::expect_error([] { ops::parse_attention_impl("flashy"); },
                        {"attention: unknown implementation 'flashy'", "composite"});
}

// `t`'s bytes labelled cuda:0: enough for resolve_attention_impl, which reads only the device type,
// dtype and shape.
Tensor labelled_cuda(const Tensor& t) {
  auto keep = t.storage();
  auto s = std::make_shared<Storage>(keep->data(), keep->nbytes(), Device{DeviceType::CUDA, 0}, [keep](void*) {});
  return Tensor(s, t.shape(), t.strides(), t.offset(), t.dtype());
}

TEST(AttentionImplNames, AutoIsFusedOnTheCpuAndFlashOrCompositeOnCuda) {
  const Tensor q64 = random_tensor({1, 1, 2, 64}), q48 = random_tensor({1, 1, 2, 48});
  EXPECT_EQ(ops::resolve_attention_impl(AttentionImpl::Auto, q64), AttentionImpl::Fused);
  EXPECT_EQ(ops::resolve_attention_impl(AttentionImpl::Auto, labelled_cuda(q64)), AttentionImpl::Flash);
  EXPECT_EQ(ops::resolve_attention_impl(AttentionImpl::Auto, labelled_cuda(q48)), AttentionImpl::Composite);
  EXPECT_EQ(ops::resolve_attention_impl(AttentionImpl::Composite, labelled_cuda(q48)), AttentionImpl::Composite);
}

TEST(AttentionImplNames, ImpossibleCombinationsAreOneLineErrors) {
  const Tensor q = random_tensor({1, 1, 2, 64}), q48 = random_tensor({1, 1, 2, 48});
  const std::vector<std::pair<std::function<void()>, std::vector<std::string>>> cases = {
      {[&] { ops::attention(q, q, q, 0.5, {false, AttentionImpl::Flash}); },
       {"attention: the flash implementation runs on CUDA, not on cpu"}},
      {[&] { hipt::attention(q, q, q, 0.5, {true, AttentionImpl::Flash}); },
       {"attention: the flash implementation runs on CUDA, not on cpu"}},
      {[&] { ops::resolve_attention_impl(AttentionImpl::Fused, labelled_cuda(q)); },
       {"attention: the fused implementation runs on the CPU, not on cuda:0"}},
      {[&] { ops::resolve_attention_impl(AttentionImpl::Flash, labelled_cuda(q48)); },
       {"attention: the flash implementation on cuda:0 takes head dim D 32, 64 or 128", "[1, 1, 2, 48]"}},
      {[&] {
         const Tensor b = ops::cast(q, DType::BF16);
         ops::attention(b, b, b, 0.5, {false, AttentionImpl::Composite});
       },
       {"attention: bf16 inputs run on CUDA only; the composite implementation on cpu"}},
      {[&] {
         const Tensor b = ops::cast(q, DType::BF16);
         hipt::attention(b, b, b, 0.5);
       },
       {"attention: bf16 inputs run on CUDA only; the auto implementation on cpu"}},
  };
  for (const auto& [run, parts] : cases) {
    try {
      run();
      ADD_FAILURE() << "no error; wanted " << parts[0];
    } catch (const Error& e) {
      for (const auto& p : parts) EXPECT_THAT(e.what(), ::testing::HasSubstr(p));
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

TEST(AttentionImplNames, MismatchedShapesAreRefusedByEveryCpuImplementation) {
  const Tensor q = random_tensor({1, 2, 5, 4}), k = random_tensor({1, 2, 6, 3});
  for (AttentionImpl impl : {AttentionImpl::Composite, AttentionImpl::Fused}) {
    testing::expect_error([&] { hipt::attention(q, k, k, 0.5, {false, impl}); },
                          {"attention: q [1, 2, 5, 4] does not match k [1, 2, 6, 3]"});
    testing::expect_error([&] { ops::attention(q, k, k, 0.5, {true, impl}); }, {"does not match k [1, 2, 6, 3]"});
  }
}

TEST(AttentionImplNames, LseBackwardRefusesAMismatchedLse) {
  const Tensor q = random_tensor({1, 2, 5, 4});
  Tensor lse;
  const Tensor out = ops::attention_lse(q, q, q, 0.5, false, &lse);
  testing::expect_error([&] { ops::attention_lse_backward(q, q, q, q, out, ops::slice(lse, 2, 0, 4), 0.5, false,
                                                          nullptr, nullptr, nullptr); },
                        {"attention_lse_backward: lse", "does not match q"});
  testing::expect_error([&] { ops::attention_lse_backward(q, q, q, q, ops::slice(out, 2, 0, 4), lse, 0.5, false,
                                                          nullptr, nullptr, nullptr); },
                        {"attention_lse_backward: gradient", "must match q"});
}

// The fused backward rules by finite differences in f64, causal, with Tq < Tk and Tq > Tk.
TEST(AttentionImplNames, FusedCausalPassesGradcheck) {
  for (auto [Tq, Tk] : {std::pair<int64_t, int64_t>{5, 7}, {7, 5}}) {
    SCOPED_TRACE(fmt::format("Tq={} Tk={}", Tq, Tk));
    testing::expect_gradcheck(
        [](const std::vector<Tensor>& x) {
          return hipt::attention(x[0], x[1], x[2], 0.45, {true, AttentionImpl::Fused});
        },
        {random_tensor({1, 2, Tq, 3}, DType::F64, 5), random_tensor({1, 2, Tk, 3}, DType::F64, 6),
         random_tensor({1, 2, Tk, 3}, DType::F64, 7)});
  }
}

// A causal row sees only keys j <= i: changing a later key leaves earlier rows' outputs unchanged.
TEST(AttentionImplNames, CausalRowsIgnoreLaterKeys) {
  for (AttentionImpl impl : {AttentionImpl::Composite, AttentionImpl::Fused}) {
    const Tensor q = random_tensor({1, 1, 6, 4}), k = random_tensor({1, 1, 6, 4}, DType::F32, 2);
    Tensor v = random_tensor({1, 1, 6, 4}, DType::F32, 3);
    const Tensor a = ops::attention(q, k, v, 0.5, {true, impl});
    ops::fill_(ops::slice(v, 2, 4, 6), 100.0);
    const Tensor b = ops::attention(q, k, v, 0.5, {true, impl});
    expect_close(ops::slice(b, 2, 0, 4), ops::slice(a, 2, 0, 4), 0, 0, ops::attention_impl_name(impl));
    const auto at_last = [](const Tensor& t) { return ops::slice(ops::reshape(t, {24}), 0, 20, 21).item(); };
    EXPECT_GT(std::abs(at_last(b) - at_last(a)), 1.0);
  }
}

}  // namespace
}  // namespace hipt
