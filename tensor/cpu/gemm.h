// General matrix multiply on the CPU, row-major:
//   C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C
// op(A) is A (stored [M,K], row stride lda >= K) or Aᵀ (stored [K,M], lda >= M); likewise B.
// beta == 0 overwrites C without reading it (C may hold NaNs).
#pragma once
#include <cstdint>

namespace hipt::cpu {

// Threaded through parallel_for (serial when called inside a parallel region).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// Plain loops: f64 serves gradcheck and the double references, not speed.
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// The micro-kernel sgemm uses: "avx512", "avx2" or "scalar". Picked at run time from the CPU;
// HIPT_GEMM_KERNEL=avx512|avx2|scalar forces one. Forcing a kernel this CPU cannot run (or an
// unknown name) makes gemm_kernel_name and every sgemm call throw hipt::Error saying why.
const char* gemm_kernel_name();

// Whether this CPU can run the named kernel ("avx512", "avx2", "scalar").
bool gemm_kernel_supported(const char* name);
// Tests and benchmarks: use the named kernel from now on, over HIPT_GEMM_KERNEL (throws hipt::Error
// if this CPU cannot run it); nullptr restores the default choice. Not for use while another
// thread is inside sgemm.
void set_gemm_kernel_for_testing(const char* name);

}  // namespace hipt::cpu
