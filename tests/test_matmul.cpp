// ops::matmul vs a double-precision reference: batch broadcasting, transpose flags, views.
#include <thread>

#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {
// C = op(A)·op(B) with batch broadcasting, computed in double from the logical values.
std::vector<double> matmul_ref(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor A = ta ? ops::transpose(a, -1, -2) : a, B = tb ? ops::transpose(b, -1, -2) : b;
  int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  Shape ba(std::vector<int64_t>(A.shape().begin(), A.shape().end() - 2));
  Shape bb(std::vector<int64_t>(B.shape().begin(), B.shape().end() - 2));
  Shape batch = broadcast_shapes("ref", ba, bb);
  Shape fa = batch, fb = batch;
  fa.push_back(M); fa.push_back(K);
  fb.push_back(K); fb.push_back(N);
  std::vector<double> va = ops::to_vector<double>(ops::expand(A, fa)), vb = ops::to_vector<double>(ops::expand(B, fb));
  std::vector<double> out;
  for (int64_t n = 0; n < batch.numel(); ++n)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += va[(n * M + i) * K + k] * vb[(n * K + k) * N + j];
        out.push_back(s);
      }
  return out;
}
}  // namespace

// f32 tolerance: K·2^-24·max|a||b| bounds the rounding of a length-K dot product; inputs are in
// [-1, 1), so atol = 1e-6·K covers it with margin.
TEST(Matmul, MatchesDoubleReference) {
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  const std::vector<Case> cases = {
      {{5, 7}, {7, 3}, false, false},       {{5, 7}, {3, 7}, false, true},  {{7, 5}, {7, 3}, true, false},
      {{7, 5}, {3, 7}, true, true},         {{2, 3, 4, 6}, {6, 5}, false, false},   // x·W, batch folded
      {{2, 3, 4, 6}, {5, 6}, false, true},  {{2, 1, 4, 6}, {3, 6, 2}, false, false},  // batch broadcast
      {{3, 6, 4}, {3, 5, 6}, true, true},   {{1, 1}, {1, 1}, false, false},   {{17, 33}, {33, 65}, false, false},
  };
  for (DType dt : {DType::F32, DType::F64}) {
    for (const auto& c : cases) {
      Tensor a = random_tensor(c.a, dt, 1), b = random_tensor(c.b, dt, 2);
      int64_t K = c.ta ? c.a[c.a.size() - 2] : c.a[c.a.size() - 1];
      double atol = dt == DType::F32 ? 1e-6 * K : 1e-13;
      expect_close(ops::matmul(a, b, c.ta, c.tb), matmul_ref(a, b, c.ta, c.tb), atol, 0,
                   c.a.str() + (c.ta ? "T" : "") + " x " + c.b.str() + (c.tb ? "T" : ""));
    }
  }
}

TEST(Matmul, ViewsNeedNoCopy) {
  Tensor w = random_tensor({6, 4}, DType::F32, 3);
  Tensor x = random_tensor({5, 6}, DType::F32, 4);
  // a transposed view is read through the transpose flag
  expect_close(ops::matmul(x, ops::transpose(ops::transpose(w, 0, 1), 0, 1)), matmul_ref(x, w, false, false), 1e-5, 0);
  Tensor wt = ops::transpose(w, 0, 1);  // [4, 6] view
  expect_close(ops::matmul(x, wt, false, true), matmul_ref(x, w, false, false), 1e-5, 0);
  // a strided slice (row stride 2·cols) and an expanded row (row stride 0)
  Tensor big = random_tensor({10, 6}, DType::F32, 5);
  Tensor rows = ops::slice(big, 0, 0, 10, 2);
  expect_close(ops::matmul(rows, w), matmul_ref(rows, w, false, false), 1e-5, 0);
  Tensor rep = ops::expand(ops::slice(big, 0, 0, 1), {3, 6});
  expect_close(ops::matmul(rep, w), matmul_ref(rep, w, false, false), 1e-5, 0);
  // neither dim unit-stride: copied
  Tensor odd = ops::slice(ops::slice(big, 0, 0, 10, 2), 1, 0, 6, 2);  // [5, 3]
  Tensor w3 = random_tensor({3, 2}, DType::F32, 6);
  expect_close(ops::matmul(odd, w3), matmul_ref(odd, w3, false, false), 1e-5, 0);
}

TEST(Matmul, HeavyAttentionShapes) {
  // Many small products at once (per-batch threading path): B·H = 12 heads of 257×64·64×257.
  Tensor q = random_tensor({2, 6, 257, 64}, DType::F32, 7), k = random_tensor({2, 6, 257, 64}, DType::F32, 8);
  expect_close(ops::matmul(q, k, false, true), matmul_ref(q, k, false, true), 1e-6 * 64, 0);
}

TEST(Matmul, Errors) {
  Tensor a = ops::zeros({2, 3}), b = ops::zeros({4, 5});
  expect_error([&] { ops::matmul(a, b); }, {"matmul", "shape mismatch", "[2, 3]", "[4, 5]", "3 and 4"});
  expect_error([&] { ops::matmul(ops::zeros({3}), b); }, {"matmul", "at least 2 dims", "[3]"});
  expect_error([&] { ops::matmul(ops::zeros({2, 2, 3}), ops::zeros({3, 3, 4})); }, {"matmul", "do not broadcast"});
  expect_error([&] { ops::matmul(a, ops::zeros({3, 2}, DType::F64)); }, {"matmul", "dtype mismatch"});
}

TEST(Matmul, ConcurrentCallersGetTheirOwnResults) {
  // Several outside threads share the pool and the GEMM's packing machinery.
  Tensor a = random_tensor({300, 200}, DType::F32, 11), b = random_tensor({200, 150}, DType::F32, 12);
  std::vector<float> want = ops::to_vector<float>(ops::matmul(a, b));
  std::vector<std::thread> callers;
  std::vector<int> same(4, 0);
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      int ok = 1;
      for (int rep = 0; rep < 5; ++rep) ok &= ops::to_vector<float>(ops::matmul(a, b)) == want;
      same[t] = ok;
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(same, (std::vector<int>{1, 1, 1, 1}));
}
