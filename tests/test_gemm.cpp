// sgemm against a double-precision reference, for every micro-kernel this CPU can run, serial and
// threaded; then through ops::matmul with transposed views and broadcast batches.
//
// Tolerance, per element: |got - want| <= (K + 2) * eps_f32 * (|alpha| * Σ_k |a_ik b_kj| + |beta c_ij|) + 1e-30.
// That is the classic forward-error bound γ_K·|A||B| for a K-term float dot product, plus the two
// roundings of the alpha/beta update; any blocking order or FMA use stays inside it, while a
// wrong index or a dropped K block is off by O(|a||b|), orders of magnitude more.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

using namespace hipt;

namespace {

std::vector<float> random_vector(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

struct Case {
  bool ta, tb;
  int64_t M, N, K;
  float alpha = 1.f, beta = 0.f;
  int64_t pad = 0;  // extra columns in every leading dimension
};

std::string describe(const Case& c) {
  return fmt::format("{}{} M={} N={} K={} alpha={} beta={} pad={}", c.ta ? "T" : "N", c.tb ? "T" : "N", c.M, c.N,
                     c.K, c.alpha, c.beta, c.pad);
}

// Runs one sgemm and checks every element of C, and that C's padding columns were left alone.
void check_sgemm(const Case& c, std::mt19937& rng) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.N + c.pad;
  std::vector<float> A = random_vector(a_rows * lda, rng), B = random_vector(b_rows * ldb, rng);
  std::vector<float> C = c.beta == 0.f ? std::vector<float>(size_t(c.M * ldc), std::nanf(""))
                                       : random_vector(c.M * ldc, rng);
  const float sentinel = 12345.f;
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = c.N; j < ldc; ++j) C[i * ldc + j] = sentinel;
  const std::vector<float> C0 = C;
  cpu::sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);

  const double eps = std::numeric_limits<float>::epsilon();
  int64_t bad = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double dot = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        double a = c.ta ? A[k * lda + i] : A[i * lda + k];
        double b = c.tb ? B[j * ldb + k] : B[k * ldb + j];
        dot += a * b;
        mag += std::fabs(a * b);
      }
      double want = c.alpha * dot, scale = std::fabs(c.alpha) * mag;
      if (c.beta != 0.f) want += double(c.beta) * C0[i * ldc + j], scale += std::fabs(c.beta * C0[i * ldc + j]);
      const double tol = double(c.K + 2) * eps * scale + 1e-30;
      const double got = C[i * ldc + j];
      if (!(std::fabs(got - want) <= tol) && bad++ < 3)
        ADD_FAILURE() << describe(c) << " kernel=" << cpu::gemm_kernel_name() << ": C[" << i << "," << j
                      << "] = " << got << ", want " << want << " (tol " << tol << ")";
    }
    for (int64_t j = c.N; j < ldc; ++j)
      if (C[i * ldc + j] != sentinel && bad++ < 3) ADD_FAILURE() << describe(c) << ": wrote padding at " << i << "," << j;
  }
  ASSERT_EQ(bad, 0) << describe(c) << ": " << bad << " wrong elements";
}

const int64_t kSizes[] = {1, 2, 5, 6, 7, 15, 16, 17, 31, 33, 64, 100, 257, 300};
constexpr int kNumSizes = sizeof(kSizes) / sizeof(kSizes[0]);

// Parameter: (kernel name, threads).
class SgemmKernels : public ::testing::TestWithParam<std::tuple<const char*, int>> {
 protected:
  void SetUp() override {
    const char* kernel = std::get<0>(GetParam());
    if (!cpu::gemm_kernel_supported(kernel)) {
      if (std::string(kernel) == "avx512")
        GTEST_SKIP() << "this CPU lacks AVX-512 (F/DQ/BW/VL): the avx512 GEMM kernel cannot run here";
      GTEST_SKIP() << "this CPU cannot run the " << kernel << " GEMM kernel";
    }
    threads_before_ = num_threads();
    cpu::set_gemm_kernel_for_testing(kernel);
    ASSERT_STREQ(cpu::gemm_kernel_name(), kernel);
    set_num_threads(std::get<1>(GetParam()));
  }
  void TearDown() override {
    cpu::set_gemm_kernel_for_testing(nullptr);
    if (threads_before_) set_num_threads(threads_before_);
  }
  int threads_before_ = 0;
  std::mt19937 rng_{1234};
};

// Every (M, N) pair of edge sizes with a K from the same list, in all four transpose cases.
TEST_P(SgemmKernels, EdgeSizesAllTransposes) {
  for (int im = 0; im < kNumSizes; ++im)
    for (int in = 0; in < kNumSizes; ++in) {
      const int64_t K = kSizes[(im * 5 + in * 3) % kNumSizes];
      for (int t = 0; t < 4; ++t) check_sgemm({bool(t & 1), bool(t & 2), kSizes[im], kSizes[in], K}, rng_);
      if (HasFatalFailure()) return;
    }
}

// Every K (including ones that need several K blocks: 300 > KC = 256) at edge-tile M, N.
TEST_P(SgemmKernels, EveryK) {
  for (int64_t K : kSizes)
    for (auto [M, N] : {std::pair<int64_t, int64_t>{7, 17}, {33, 31}, {100, 257}})
      for (int t = 0; t < 4; ++t) {
        check_sgemm({bool(t & 1), bool(t & 2), M, N, K}, rng_);
        if (HasFatalFailure()) return;
      }
  check_sgemm({false, true, 64, 48, 1100}, rng_);  // five K blocks
}

// Leading dimensions wider than the matrices, and alpha/beta including beta = 0 over NaNs.
TEST_P(SgemmKernels, AlphaBetaAndLeadingDims) {
  for (float alpha : {1.f, -0.5f, 2.f})
    for (float beta : {0.f, 1.f, -1.5f})
      for (int t = 0; t < 4; ++t)
        for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{33, 47, 65}, {257, 300, 64}, {300, 100, 257}}) {
          check_sgemm({bool(t & 1), bool(t & 2), M, N, K, alpha, beta, 5}, rng_);
          if (HasFatalFailure()) return;
        }
}

// K = 0 or alpha = 0: C = beta * C, and beta = 0 still clears NaNs.
TEST_P(SgemmKernels, DegenerateK) {
  std::vector<float> C(6, std::nanf(""));
  cpu::sgemm(false, false, 2, 3, 0, 1.f, nullptr, 1, nullptr, 3, 0.f, C.data(), 3);
  for (float x : C) EXPECT_EQ(x, 0.f);
  std::vector<float> D(6, 2.f), A(4, 1.f), B(6, 1.f);
  cpu::sgemm(false, false, 2, 3, 2, 0.f, A.data(), 2, B.data(), 3, 3.f, D.data(), 3);
  for (float x : D) EXPECT_EQ(x, 6.f);
}

// The ViT linear-layer layout (x·Wᵀ) at a size that is threaded and spans several MC blocks.
TEST_P(SgemmKernels, LargeNT) { check_sgemm({false, true, 771, 200, 384, 1.f, 0.f, 3}, rng_); }

INSTANTIATE_TEST_SUITE_P(Gemm, SgemmKernels,
                         ::testing::Combine(::testing::Values("scalar", "avx2", "avx512"), ::testing::Values(1, 2, 3)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param)) + "_threads" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(GemmKernelChoice, NamesAndErrors) {
  const std::string name = cpu::gemm_kernel_name();
  EXPECT_TRUE(name == "avx512" || name == "avx2" || name == "scalar") << name;
  EXPECT_TRUE(cpu::gemm_kernel_supported("scalar"));
  EXPECT_THROW(cpu::set_gemm_kernel_for_testing("sse9"), Error);
  if (!cpu::gemm_kernel_supported("avx512")) {
    try {
      cpu::set_gemm_kernel_for_testing("avx512");
      ADD_FAILURE() << "forcing avx512 on a CPU without it should throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("lacks AVX-512"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(cpu::gemm_kernel_name(), name);  // a failed force changes nothing
}

// ------------------------------------------------------------------ through ops::matmul

// out [batch..., M, N] from matmul against a double loop over the same (float) values.
void check_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor out = ops::matmul(a, b, ta, tb);
  const int na = a.dim(), nb = b.dim(), no = out.dim();
  const int64_t M = out.shape()[no - 2], N = out.shape()[no - 1];
  const int64_t K = ta ? a.shape()[na - 2] : a.shape()[na - 1];
  const int64_t batch = out.numel() / (M * N);
  Tensor ae = ops::contiguous(ops::expand(a, [&] {
    Shape s(std::vector<int64_t>(out.shape().begin(), out.shape().end() - 2));
    s.push_back(a.shape()[na - 2]);
    s.push_back(a.shape()[na - 1]);
    return s;
  }()));
  Tensor be = ops::contiguous(ops::expand(b, [&] {
    Shape s(std::vector<int64_t>(out.shape().begin(), out.shape().end() - 2));
    s.push_back(b.shape()[nb - 2]);
    s.push_back(b.shape()[nb - 1]);
    return s;
  }()));
  std::vector<float> av = ops::to_vector<float>(ae), bv = ops::to_vector<float>(be), ov = ops::to_vector<float>(out);
  const double eps = std::numeric_limits<float>::epsilon();
  int bad = 0;
  for (int64_t z = 0; z < batch; ++z)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double dot = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          double x = ta ? av[z * K * M + k * M + i] : av[z * M * K + i * K + k];
          double y = tb ? bv[z * N * K + j * K + k] : bv[z * K * N + k * N + j];
          dot += x * y;
          mag += std::fabs(x * y);
        }
        const double got = ov[z * M * N + i * N + j];
        if (!(std::fabs(got - dot) <= double(K + 2) * eps * mag + 1e-30) && bad++ < 3)
          ADD_FAILURE() << "matmul a" << a.shape().str() << (ta ? "ᵀ" : "") << " b" << b.shape().str()
                        << (tb ? "ᵀ" : "") << " [" << z << "," << i << "," << j << "] = " << got << ", want " << dot;
      }
  EXPECT_EQ(bad, 0);
}

Tensor random_tensor(const Shape& s, std::mt19937& rng) { return ops::from_vector(random_vector(s.numel(), rng), s); }

TEST(GemmThroughMatmul, TransposedViewsAndBroadcast) {
  std::mt19937 rng(7);
  const int before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    // 2-D weight, batched activations: the single big GEMM path, with W as a transposed view.
    Tensor x = random_tensor({3, 70, 96}, rng), w = random_tensor({130, 96}, rng);
    check_matmul(x, ops::transpose(w, 0, 1), false, false);
    check_matmul(x, w, false, true);
    // Attention-like per-head products: [B, H, T, d] · [B, H, T, d]ᵀ, and a transposed-view A.
    Tensor q = random_tensor({2, 3, 257, 64}, rng), k = random_tensor({2, 3, 257, 64}, rng);
    check_matmul(q, k, false, true);
    check_matmul(ops::transpose(q, 2, 3), k, true, true);
    check_matmul(ops::transpose(q, 2, 3), ops::transpose(k, 2, 3), true, false);
    // Batch broadcasting: [4, 1, M, K] with [3, K, N] -> [4, 3, M, N], and a 2-D operand on the left.
    check_matmul(random_tensor({4, 1, 17, 33}, rng), random_tensor({3, 33, 15}, rng), false, false);
    check_matmul(random_tensor({31, 20}, rng), random_tensor({5, 20, 9}, rng), false, false);
    check_matmul(random_tensor({2, 20, 31}, rng), random_tensor({1, 9, 20}, rng), true, true);
  }
  set_num_threads(before);
}

}  // namespace
