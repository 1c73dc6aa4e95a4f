// Row-major batched GEMM on cuBLAS, shared by matmul.cu and attention.cu (defined in matmul.cu).
// Included by .cu files only.
#pragma once
#include <cublas_v2.h>

#include "cuda/common.cuh"

namespace hipt::cuda {

// The cuBLAS handle of `device`: created on first use, bound to stream_for(device) with a
// workspace of its own, default math (f32 stays exact unless a call asks for TF32) and f32
// reductions for bf16 outputs. Makes `device` current. Lives as long as the process.
cublasHandle_t cublas_handle(Device device);

// One matrix of a GEMM in row-major terms, as MatrixOperand: the memory at `ptr` has unit stride
// along its rows and row stride `ld`; it is read transposed when `trans`.
struct GemmMatrix {
  const void* ptr;
  bool trans;
  int64_t ld;
};

// The batch of a GEMM: dims outermost first, each with its size and the element strides of A, B
// and C along it (0 in A or B broadcasts that operand).
struct GemmBatch {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[3][kMaxDims] = {};  // [0] A, [1] B, [2] C
  void add(int64_t n, int64_t sa, int64_t sb, int64_t sc) {
    size[ndim] = n;
    stride[0][ndim] = sa;
    stride[1][ndim] = sb;
    stride[2][ndim] = sc;
    ++ndim;
  }
};

// For every batch index: C [M, N] (row stride ldc) = alpha · op(A) · op(B) + beta · C, with
// op(A) [M, K] and op(B) [K, N]. A and B hold dtype `in`, C dtype `out`: f32 -> f32 (exact, or
// TF32 when ops::matmul_precision() says so), f64 -> f64, bf16 -> bf16 or f32 (f32 accumulation).
// Batch dims whose strides are uniform for A, B and C go to cuBLAS as one strided-batched call;
// the rest loop on the host. `op` names the caller in errors.
void gemm(const char* op, Device device, DType in, DType out, int64_t M, int64_t N, int64_t K, double alpha,
          const GemmMatrix& a, const GemmMatrix& b, double beta, void* c, int64_t ldc, const GemmBatch& batch);

}  // namespace hipt::cuda
