// Batched matmul on top of the GEMM kernels. Transposed views cost nothing: a matrix whose last
// dim is not unit-stride but whose second-to-last is gets passed to GEMM with the transpose flag
// flipped instead of being copied.
#include "tensor/cpu/gemm.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace hipt::ops {
namespace {

// How GEMM reads the last two dims of t: row stride, and whether it sees the stored transpose.
struct MatrixView {
  Tensor t;
  bool trans;
  int64_t ld;
};

MatrixView as_gemm_operand(const Tensor& t, bool trans) {
  const int n = t.dim();
  const int64_t rows = t.shape()[n - 2], cols = t.shape()[n - 1];
  const int64_t s_row = t.strides()[n - 2], s_col = t.strides()[n - 1];
  if (s_col == 1 || cols == 1) return {t, trans, s_row};  // row-major (s_row may be 0: an expanded row)
  if (s_row == 1 || rows == 1) return {t, !trans, s_col};  // a transposed view: read it as the transpose
  Tensor c = contiguous(t);  // neither dim is unit-stride
  return {c, trans, cols};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_cpu("matmul", a);
  check_cpu("matmul", b);
  check_same_dtype("matmul", a, b);
  check_floating("matmul", a);
  HIPT_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: both operands need at least 2 dims, got a {} and b {}",
             a.shape().str(), b.shape().str());
  const int na = a.dim(), nb = b.dim();
  const int64_t M = trans_a ? a.shape()[na - 1] : a.shape()[na - 2];
  const int64_t K = trans_a ? a.shape()[na - 2] : a.shape()[na - 1];
  const int64_t Kb = trans_b ? b.shape()[nb - 1] : b.shape()[nb - 2];
  const int64_t N = trans_b ? b.shape()[nb - 2] : b.shape()[nb - 1];
  HIPT_CHECK(K == Kb, "matmul: shape mismatch: a {}{} and b {}{}: inner dims {} and {} differ", a.shape().str(),
             trans_a ? "ᵀ" : "", b.shape().str(), trans_b ? "ᵀ" : "", K, Kb);

  Shape batch_a(std::vector<int64_t>(a.shape().begin(), a.shape().end() - 2));
  Shape batch_b(std::vector<int64_t>(b.shape().begin(), b.shape().end() - 2));
  Shape batch = broadcast_shapes("matmul", batch_a, batch_b);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  if (K == 0) {  // an empty sum
    fill_(out, 0.0);
    return out;
  }

  // x [..., M, K] · W [K, N] with x row-major is one GEMM with M' = batch * M.
  if (nb == 2 && !trans_a && a.is_contiguous()) {
    int64_t rows = a.numel() / K;
    MatrixView B = as_gemm_operand(b, trans_b);
    if (a.dtype() == DType::F32)
      cpu::sgemm(false, B.trans, rows, N, K, 1.f, a.data<float>(), K, B.t.data<float>(), B.ld, 0.f,
                 out.data<float>(), N);
    else
      cpu::dgemm(false, B.trans, rows, N, K, 1.0, a.data<double>(), K, B.t.data<double>(), B.ld, 0.0,
                 out.data<double>(), N);
    return out;
  }

  // General case: one GEMM per batch element; batch strides of 0 broadcast.
  Shape full_a = batch, full_b = batch;
  full_a.push_back(a.shape()[na - 2]);
  full_a.push_back(a.shape()[na - 1]);
  full_b.push_back(b.shape()[nb - 2]);
  full_b.push_back(b.shape()[nb - 1]);
  MatrixView A = as_gemm_operand(expand(a, full_a), trans_a);
  MatrixView B = as_gemm_operand(expand(b, full_b), trans_b);
  const int nbatch = batch.size();
  const int64_t count = batch.numel();
  auto offset_of = [&](const Tensor& t, int64_t i) {
    int64_t off = 0;
    for (int d = nbatch - 1; d >= 0; --d) {
      off += (i % batch[d]) * t.strides()[d];
      i /= batch[d];
    }
    return off;
  };
  // Many small products (attention heads): one thread per product. Few large ones: threads
  // inside each GEMM.
  const bool per_batch_threads = count >= num_threads() && M * N * K < (1 << 23);
  parallel_for(0, count, per_batch_threads ? 1 : count, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      int64_t oa = offset_of(A.t, i), ob = offset_of(B.t, i);
      if (a.dtype() == DType::F32)
        cpu::sgemm(A.trans, B.trans, M, N, K, 1.f, A.t.data<float>() + oa, A.ld, B.t.data<float>() + ob, B.ld, 0.f,
                   out.data<float>() + i * M * N, N);
      else
        cpu::dgemm(A.trans, B.trans, M, N, K, 1.0, A.t.data<double>() + oa, A.ld, B.t.data<double>() + ob, B.ld, 0.0,
                   out.data<double>() + i * M * N, N);
    }
  });
  return out;
}

}  // namespace hipt::ops
