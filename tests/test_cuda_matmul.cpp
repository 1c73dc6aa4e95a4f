// Matrix products and attention on each device against double references (cuda/matmul.cu,
// cuda/attention.cu), and the process-wide f32 matmul precision (tensor/ops.h).
//
// Tolerances, for inputs in [-1, 1) and a K-term dot product:
//   f32 exact: 1e-6·K, as tests/test_matmul.cpp; TF32 would miss it by an order of magnitude.
//   TF32: inputs keep 11 significant bits (relative 2^-11), so a product errs by about
//         1.3e-4·sqrt(K) (one sigma); allowed 3e-3·sqrt(K).
//   bf16: the reference multiplies the bf16-rounded inputs in double; the f32 sum is then rounded
//         to bf16 (relative 2^-9): rtol 2^-8 plus atol 1e-5·K.
//   f64: 1e-12·K.
#include <cmath>

#include "devices.h"
#include "tensor/backend.h"
#include "tensor/nn_ops.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {

// op(a)·op(b) in double from the logical values of CPU or device tensors, batch dims broadcast.
std::vector<double> matmul_ref(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor A = ta ? ops::transpose(a, -1, -2) : a, B = tb ? ops::transpose(b, -1, -2) : b;
  const int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  Shape ba(std::vector<int64_t>(A.shape().begin(), A.shape().end() - 2));
  Shape bb(std::vector<int64_t>(B.shape().begin(), B.shape().end() - 2));
  Shape batch = broadcast_shapes("ref", ba, bb), fa = batch, fb = batch;
  fa.push_back(M);
  fa.push_back(K);
  fb.push_back(K);
  fb.push_back(N);
  const std::vector<double> va = ops::to_vector<double>(ops::expand(A, fa)), vb = ops::to_vector<double>(ops::expand(B, fb));
  std::vector<double> out(static_cast<size_t>(batch.numel() * M * N), 0.0);
  for (int64_t n = 0; n < batch.numel(); ++n)
    for (int64_t i = 0; i < M; ++i) {
      double* row = &out[static_cast<size_t>((n * M + i) * N)];
      for (int64_t k = 0; k < K; ++k) {
        const double x = va[static_cast<size_t>((n * M + i) * K + k)];
        const double* brow = &vb[static_cast<size_t>((n * K + k) * N)];
        for (int64_t j = 0; j < N; ++j) row[j] += x * brow[j];
      }
    }
  return out;
}

struct Tol {
  double atol, rtol;
};
Tol tolerance(DType dt, ops::MatmulPrecision p, int64_t K) {
  const double k = static_cast<double>(K);
  if (dt == DType::F64) return {1e-12 * k, 0};
  if (dt == DType::BF16) return {1e-5 * k, 1.0 / 256};
  if (p == ops::MatmulPrecision::TF32) return {3e-3 * std::sqrt(k), 0};
  return {1e-6 * k, 0};
}

struct Case {
  Shape a, b;
  bool ta, tb;
};
std::string name(const Case& c) {
  return c.a.str() + (c.ta ? "T" : "") + " x " + c.b.str() + (c.tb ? "T" : "");
}

// Every case on `device` in dtype `dt` (inputs made on the CPU, rounded to dt, then moved).
void check_cases(const std::vector<Case>& cases, DType dt, Device device, ops::MatmulPrecision p) {
  ops::MatmulPrecisionGuard guard(p);
  uint32_t seed = 10;
  for (const Case& c : cases) {
    const Tensor a = random_tensor(c.a, dt, seed++), b = random_tensor(c.b, dt, seed++);
    const int64_t K = c.ta ? c.a[c.a.size() - 2] : c.a[c.a.size() - 1];
    const Tol tol = tolerance(dt, p, K);
    const Tensor got = ops::matmul(a.to(device), b.to(device), c.ta, c.tb);
    EXPECT_EQ(got.device(), device);
    EXPECT_EQ(got.dtype(), dt);
    expect_close(got, matmul_ref(a, b, c.ta, c.tb), tol.atol, tol.rtol, name(c) + " " + std::string(dtype_name(dt)));
  }
}

// Every transpose pair, odd sizes, degenerate sizes, batch folding and batch broadcasting.
const std::vector<Case>& general_cases() {
  static const std::vector<Case> cases = {
      {{37, 53}, {53, 29}, false, false},   {{37, 53}, {29, 53}, false, true},
      {{53, 37}, {53, 29}, true, false},    {{53, 37}, {29, 53}, true, true},
      {{1, 1}, {1, 1}, false, false},       {{1, 7}, {7, 1}, false, false},
      {{5, 1}, {1, 6}, false, false},       {{1, 9}, {4, 9}, false, true},
      {{2, 3, 4, 6}, {6, 5}, false, false},   // x·W, the batch folded into the rows
      {{2, 3, 6, 4}, {5, 6}, true, true},     // batched, both transposed, b broadcast
      {{2, 1, 4, 6}, {3, 6, 2}, false, false},  // broadcast on both sides: stride 0 in a and in b
      {{3, 6, 4}, {1, 5, 6}, true, true},     {{7, 1, 3, 5}, {1, 4, 5, 2}, false, false},
      {{65, 129}, {129, 33}, false, false},
  };
  return cases;
}

}  // namespace

// ---------------------------------------------------------------- the precision switch

TEST(MatmulPrecision, DefaultsToExactF32AndSwitches) {
  EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::F32);
  ops::set_matmul_precision(ops::MatmulPrecision::TF32);
  EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::TF32);
  ops::set_matmul_precision(ops::MatmulPrecision::F32);
  EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::F32);
}

TEST(MatmulPrecision, GuardRestoresThePreviousSettingAlsoOnError) {
  {
    ops::MatmulPrecisionGuard outer(ops::MatmulPrecision::TF32);
    EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::TF32);
    {
      ops::MatmulPrecisionGuard inner(ops::MatmulPrecision::F32);
      EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::F32);
    }
    EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::TF32);
  }
  EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::F32);
  try {
    ops::MatmulPrecisionGuard g(ops::MatmulPrecision::TF32);
    ops::matmul(ops::zeros({2, 3}), ops::zeros({4, 5}));  // throws: inner dims differ
  } catch (const Error&) {
  }
  EXPECT_EQ(ops::matmul_precision(), ops::MatmulPrecision::F32);
}

TEST(MatmulPrecision, TheCpuIgnoresIt) {
  const Tensor a = random_tensor({33, 70}, DType::F32, 1), b = random_tensor({70, 17}, DType::F32, 2);
  const std::vector<float> exact = ops::to_vector<float>(ops::matmul(a, b));
  ops::MatmulPrecisionGuard g(ops::MatmulPrecision::TF32);
  EXPECT_EQ(ops::to_vector<float>(ops::matmul(a, b)), exact);
}

TEST(MatmulPrecision, Bf16OperandsAreRefusedOnTheCpu) {
  const Tensor a = ops::cast(ops::ones({2, 3}), DType::BF16), b = ops::cast(ops::ones({3, 4}), DType::BF16);
  expect_error([&] { ops::matmul(a, b); }, {"matmul", "bf16", "CUDA only"});
}

// ---------------------------------------------------------------- matmul on each device

class DeviceMatmul : public OnDevice {};

TEST_P(DeviceMatmul, F32IsExactByDefault) {
  check_cases(general_cases(), DType::F32, device(), ops::MatmulPrecision::F32);
}

TEST_P(DeviceMatmul, F64) { check_cases(general_cases(), DType::F64, device(), ops::MatmulPrecision::F32); }

TEST_P(DeviceMatmul, Tf32WithinItsTolerance) {
  check_cases(general_cases(), DType::F32, device(), ops::MatmulPrecision::TF32);
}

TEST_P(DeviceMatmul, Bf16WithF32Accumulation) {
  if (!on_gpu()) {
    expect_error([] { ops::matmul(ops::cast(ops::ones({2, 2}), DType::BF16), ops::cast(ops::ones({2, 2}), DType::BF16)); },
                 {"matmul", "CUDA only"});
    return;
  }
  check_cases(general_cases(), DType::BF16, device(), ops::MatmulPrecision::F32);
}

// The ViT products: ViT-256 (384 wide, 6 heads of 64) and ViT-4K (192 wide, 6 heads of 32) on 257
// tokens, one image (the benchmark runs 64).
TEST_P(DeviceMatmul, VitShapes) {
  const std::vector<Case> cases = {
      {{1, 257, 384}, {1152, 384}, false, true},  // qkv projection, x·Wᵀ
      {{1, 257, 384}, {1536, 384}, false, true},  // fc1
      {{1, 257, 1536}, {384, 1536}, false, true},  // fc2
      {{6, 257, 64}, {6, 257, 64}, false, true},  // q·kᵀ
      {{6, 257, 257}, {6, 257, 64}, false, false},  // P·v
      {{1, 257, 192}, {576, 192}, false, true},   // ViT-4K qkv
      {{6, 257, 32}, {6, 257, 32}, false, true},  // ViT-4K q·kᵀ
  };
  check_cases(cases, DType::F32, device(), ops::MatmulPrecision::F32);
  check_cases(cases, DType::F32, device(), ops::MatmulPrecision::TF32);
  if (on_gpu()) check_cases(cases, DType::BF16, device(), ops::MatmulPrecision::F32);
}

// Views the GEMM reads in place or must copy: transposed views, heads permuted out of a
// [B, T, H, D] tensor (batch strides that are not uniform across B and H), an expanded row
// (row stride 0) and a column slice (row stride larger than the row).
TEST_P(DeviceMatmul, StridedAndExpandedViews) {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = random_tensor({3, 11, 4, 8}, dt, 5).to(device());  // [B, T, H, D]
    const Tensor y = random_tensor({3, 13, 4, 8}, dt, 6).to(device());
    const Tensor xh = ops::permute(x, {0, 2, 1, 3}), yh = ops::permute(y, {0, 2, 1, 3});  // [B, H, T, D]
    expect_close(ops::matmul(xh, yh, false, true), matmul_ref(xh, yh, false, true), 1e-5, 0, "heads x·yᵀ");
    expect_close(ops::matmul(ops::transpose(xh, 2, 3), yh, true, true),
                 matmul_ref(ops::transpose(xh, 2, 3), yh, true, true), 1e-5, 0, "transposed view");

    const Tensor row = random_tensor({1, 9}, dt, 7).to(device());
    const Tensor rows = ops::expand(row, {5, 9});  // five copies of one row: row stride 0
    const Tensor w = random_tensor({9, 4}, dt, 8).to(device());
    expect_close(ops::matmul(rows, w), matmul_ref(rows, w, false, false), 1e-5, 0, "expanded row");

    const Tensor wide = random_tensor({6, 20}, dt, 9).to(device());
    const Tensor cols = ops::slice(wide, 1, 3, 10);  // [6, 7] with row stride 20
    const Tensor z = random_tensor({2, 7, 5}, dt, 10).to(device());
    expect_close(ops::matmul(cols, z), matmul_ref(cols, z, false, false), 1e-5, 0, "column slice, broadcast");
  }
}

TEST_P(DeviceMatmul, ManyBatchesAndEmptyOperands) {
  const Tensor a = random_tensor({300, 3, 5}, DType::F32, 11).to(device());
  const Tensor b = random_tensor({300, 5, 2}, DType::F32, 12).to(device());
  expect_close(ops::matmul(a, b), matmul_ref(a, b, false, false), 1e-5, 0, "300 batches");
  const Tensor k0 = ops::matmul(ops::zeros({4, 0}, DType::F32, device()), ops::zeros({0, 3}, DType::F32, device()));
  expect_close(k0, std::vector<double>(12, 0.0), 0, 0, "K = 0");
  EXPECT_EQ(ops::matmul(ops::zeros({0, 4}, DType::F32, device()), ops::zeros({4, 3}, DType::F32, device())).numel(), 0);
}

HIPT_INSTANTIATE_ON_DEVICES(DeviceMatmul);

// ---------------------------------------------------------------- attention on each device

namespace {

struct AttentionRef {
  std::vector<double> out, probs, dq, dk, dv;
};

// softmax(q kᵀ · scale) v and its gradients for g, in double, from the logical values.
AttentionRef attention_ref(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g, double scale) {
  const int64_t BH = q.size(0) * q.size(1), Tq = q.size(2), Tk = k.size(2), D = q.size(3);
  const auto Q = ops::to_vector<double>(q), K = ops::to_vector<double>(k), V = ops::to_vector<double>(v),
             G = ops::to_vector<double>(g);
  AttentionRef r;
  r.out.assign(static_cast<size_t>(BH * Tq * D), 0.0);
  r.probs.assign(static_cast<size_t>(BH * Tq * Tk), 0.0);
  r.dq.assign(r.out.size(), 0.0);
  r.dk.assign(static_cast<size_t>(BH * Tk * D), 0.0);
  r.dv.assign(r.dk.size(), 0.0);
  auto at = [](std::vector<double>& x, int64_t i) -> double& { return x[static_cast<size_t>(i)]; };
  auto cat = [](const std::vector<double>& x, int64_t i) { return x[static_cast<size_t>(i)]; };
  std::vector<double> dp(static_cast<size_t>(Tk));
  for (int64_t h = 0; h < BH; ++h) {
    const int64_t qo = h * Tq * D, ko = h * Tk * D, po = h * Tq * Tk;
    for (int64_t i = 0; i < Tq; ++i) {
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < Tk; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += cat(Q, qo + i * D + d) * cat(K, ko + j * D + d);
        at(r.probs, po + i * Tk + j) = s * scale;
        m = std::max(m, s * scale);
      }
      for (int64_t j = 0; j < Tk; ++j) sum += std::exp(at(r.probs, po + i * Tk + j) - m);
      for (int64_t j = 0; j < Tk; ++j) at(r.probs, po + i * Tk + j) = std::exp(at(r.probs, po + i * Tk + j) - m) / sum;
      for (int64_t j = 0; j < Tk; ++j) {
        const double p = at(r.probs, po + i * Tk + j);
        for (int64_t d = 0; d < D; ++d) {
          at(r.out, qo + i * D + d) += p * cat(V, ko + j * D + d);
          at(r.dv, ko + j * D + d) += p * cat(G, qo + i * D + d);
        }
      }
      double dot = 0;
      for (int64_t j = 0; j < Tk; ++j) {
        dp[static_cast<size_t>(j)] = 0;
        for (int64_t d = 0; d < D; ++d) dp[static_cast<size_t>(j)] += cat(G, qo + i * D + d) * cat(V, ko + j * D + d);
        dot += dp[static_cast<size_t>(j)] * at(r.probs, po + i * Tk + j);
      }
      for (int64_t j = 0; j < Tk; ++j) {
        const double ds = at(r.probs, po + i * Tk + j) * (dp[static_cast<size_t>(j)] - dot) * scale;
        for (int64_t d = 0; d < D; ++d) {
          at(r.dq, qo + i * D + d) += ds * cat(K, ko + j * D + d);
          at(r.dk, ko + j * D + d) += ds * cat(Q, qo + i * D + d);
        }
      }
    }
  }
  return r;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// q [B, H, Tq, D] and k, v [B, H, Tk, D] as the permuted views a ViT's qkv projection makes:
// q from [B, Tq, H, D], k and v from one [B, Tk, 2, H, D].
struct Qkv {
  Tensor q, k, v, g;
};
Qkv permuted_qkv(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, DType dt, Device device) {
  const Tensor q = random_tensor({B, Tq, H, D}, dt, 21).to(device);
  const Tensor kv = random_tensor({B, Tk, 2, H, D}, dt, 22).to(device);
  const Tensor kvp = ops::permute(kv, {2, 0, 3, 1, 4});  // [2, B, H, Tk, D]
  return {ops::permute(q, {0, 2, 1, 3}), ops::select(kvp, 0, 0), ops::select(kvp, 0, 1),
          random_tensor({B, H, Tq, D}, dt, 23).to(device)};
}

void check_attention(const Qkv& in, double tol, const std::string& what) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(in.q.size(3)));
  const AttentionRef ref = attention_ref(in.q, in.k, in.v, in.g, scale);
  Tensor probs;
  const Tensor out = ops::attention(in.q, in.k, in.v, scale, &probs);
  expect_close(out, ref.out, tol * max_abs(ref.out), 0, what + " out");
  expect_close(probs, ref.probs, tol, 0, what + " probs");
  expect_close(ops::attention(in.q, in.k, in.v, scale), ref.out, tol * max_abs(ref.out), 0, what + " out, no probs");
  Tensor dq, dk, dv;
  ops::attention_backward(in.g, in.q, in.k, in.v, probs, scale, &dq, &dk, &dv);
  expect_close(dq, ref.dq, tol * max_abs(ref.dq), 0, what + " dq");
  expect_close(dk, ref.dk, tol * max_abs(ref.dk), 0, what + " dk");
  expect_close(dv, ref.dv, tol * max_abs(ref.dv), 0, what + " dv");
  Tensor dv_only;
  ops::attention_backward(in.g, in.q, in.k, in.v, probs, scale, nullptr, nullptr, &dv_only);
  expect_close(dv_only, ref.dv, tol * max_abs(ref.dv), 0, what + " dv alone");
}

}  // namespace

class DeviceAttention : public OnDevice {};

// Tolerances relative to the largest reference value: f32 1e-5, f64 1e-12.
TEST_P(DeviceAttention, PermutedViewsAndUnequalLengths) {
  for (DType dt : {DType::F32, DType::F64}) {
    const double tol = dt == DType::F32 ? 1e-5 : 1e-12;
    const std::string n(dtype_name(dt));
    check_attention(permuted_qkv(2, 3, 17, 17, 8, dt, device()), tol, n + " self");
    check_attention(permuted_qkv(2, 3, 5, 33, 16, dt, device()), tol, n + " Tq < Tk");
    check_attention(permuted_qkv(1, 2, 40, 3, 4, dt, device()), tol, n + " Tq > Tk");
    check_attention(permuted_qkv(1, 1, 1, 1, 1, dt, device()), tol, n + " 1x1");
    check_attention(permuted_qkv(2, 6, 257, 257, 32, dt, device()), tol, n + " ViT-4K heads");
    Qkv c = permuted_qkv(2, 2, 9, 300, 8, dt, device());  // more keys than a block has threads
    c.q = ops::contiguous(c.q);
    check_attention(c, tol, n + " 300 keys");
  }
}

// More rows than the softmax kernels launch blocks for (2^20): the row loop wraps.
TEST_P(DeviceAttention, MoreRowsThanBlocks) {
  const Tensor q = random_tensor({1, 1, (1 << 20) + 37, 2}, DType::F32, 31).to(device());
  const Tensor k = random_tensor({1, 1, 3, 2}, DType::F32, 32).to(device());
  const Tensor v = random_tensor({1, 1, 3, 2}, DType::F32, 33).to(device());
  const AttentionRef ref = attention_ref(q, k, v, q, 0.7);
  expect_close(ops::attention(q, k, v, 0.7), ref.out, 1e-5, 0, "out");
}

// bf16 through the CUDA kernels directly (ops::attention takes f32 and f64): inputs rounded to
// bf16 and the reference computed from the rounded values; P is stored in bf16 (relative 2^-9)
// and so are dS and the results: 2e-2 of the largest reference value.
TEST_P(DeviceAttention, Bf16Kernels) {
  if (!on_gpu()) GTEST_SKIP() << "bf16 attention runs on CUDA only";
  const Backend& table = backend(DeviceType::CUDA);
  const Qkv in = permuted_qkv(2, 3, 19, 45, 16, DType::BF16, device());
  const double scale = 0.25;
  const AttentionRef ref = attention_ref(in.q, in.k, in.v, in.g, scale);
  const Tensor out = ops::empty(in.q.shape(), DType::BF16, device());
  const Tensor probs = ops::empty({2, 3, 19, 45}, DType::BF16, device());
  table.attention(out, probs, in.q, in.k, in.v, scale);
  expect_close(out, ref.out, 2e-2 * max_abs(ref.out), 0, "bf16 out");
  expect_close(probs, ref.probs, 1e-2, 0, "bf16 probs");
  const Tensor out2 = ops::empty(in.q.shape(), DType::BF16, device());
  table.attention(out2, Tensor(), in.q, in.k, in.v, scale);
  expect_close(out2, ref.out, 2e-2 * max_abs(ref.out), 0, "bf16 out, no probs");
  const Tensor dq = ops::empty(in.q.shape(), DType::BF16, device());
  const Tensor dk = ops::empty(in.k.shape(), DType::BF16, device());
  const Tensor dv = ops::empty(in.k.shape(), DType::BF16, device());
  table.attention_backward(dq, dk, dv, in.g, in.q, in.k, in.v, probs, scale);
  expect_close(dq, ref.dq, 2e-2 * max_abs(ref.dq), 0, "bf16 dq");
  expect_close(dk, ref.dk, 2e-2 * max_abs(ref.dk), 0, "bf16 dk");
  expect_close(dv, ref.dv, 2e-2 * max_abs(ref.dv), 0, "bf16 dv");
}

HIPT_INSTANTIATE_ON_DEVICES(DeviceAttention);
