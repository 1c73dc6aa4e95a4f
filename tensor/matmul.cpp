// Batched matmul: shapes, broadcasting and the operands' layouts, then the device's GEMM kernel.
// Transposed views cost nothing: a matrix whose last dim is not unit-stride but whose
// second-to-last is gets passed to GEMM as the transpose of its memory instead of being copied.
#include <atomic>

#include "tensor/backend.h"
#include "tensor/checks.h"
#include "tensor/ops.h"

namespace hipt::ops {
namespace {

std::atomic<MatmulPrecision> g_precision{MatmulPrecision::F32};

// The operand op(t) (t itself, or tᵀ when `trans`) as GEMM reads it (tensor/backend.h).
MatrixOperand as_gemm_operand(const Tensor& t, bool trans) {
  const int n = t.dim();
  const int64_t rows = t.shape()[n - 2], cols = t.shape()[n - 1];
  const int64_t s_row = t.strides()[n - 2], s_col = t.strides()[n - 1];
  if (s_col == 1 || cols == 1) return {t, trans, s_row};  // row-major (s_row may be 0: an expanded row)
  if (s_row == 1 || rows == 1) return {transpose(t, n - 2, n - 1), !trans, s_col};  // a transposed view
  Tensor c = contiguous(t);  // neither dim is unit-stride
  return {c, trans, cols};
}

}  // namespace

void set_matmul_precision(MatmulPrecision p) { g_precision.store(p, std::memory_order_relaxed); }
MatmulPrecision matmul_precision() { return g_precision.load(std::memory_order_relaxed); }

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  auto k = kernel("matmul", a, &Backend::matmul);
  check_defined("matmul", b);
  check_same_device("matmul", a, b);
  check_same_dtype("matmul", a, b);
  if (a.dtype() == DType::BF16)
    HIPT_CHECK(a.device().type == DeviceType::CUDA, "matmul: bf16 operands are supported on CUDA only, got {} on {}",
               a.str(), a.device().str());
  else
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
    const int64_t rows = a.numel() / K;
    k(reshape(out, {rows, N}), {reshape(a, {rows, K}), false, K}, as_gemm_operand(b, trans_b));
    return out;
  }

  // General case: one GEMM per batch element; batch strides of 0 broadcast.
  Shape full_a = batch, full_b = batch;
  full_a.push_back(a.shape()[na - 2]);
  full_a.push_back(a.shape()[na - 1]);
  full_b.push_back(b.shape()[nb - 2]);
  full_b.push_back(b.shape()[nb - 1]);
  k(out, as_gemm_operand(expand(a, full_a), trans_a), as_gemm_operand(expand(b, full_b), trans_b));
  return out;
}

}  // namespace hipt::ops
