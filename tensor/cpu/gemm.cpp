// Placeholder GEMM: correct, simple, slow. Replaced by the packed kernels.
#include "tensor/cpu/gemm.h"

#include <vector>

#include "tensor/parallel.h"

namespace hipt::cpu {
namespace {
template <class T>
void gemm_plain(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc) {
  parallel_for(0, M, 16, [&](int64_t lo, int64_t hi) {
    std::vector<T> row(static_cast<size_t>(N));
    for (int64_t i = lo; i < hi; ++i) {
      std::fill(row.begin(), row.end(), T(0));
      for (int64_t k = 0; k < K; ++k) {
        T a = ta ? A[k * lda + i] : A[i * lda + k];
        if (tb)
          for (int64_t j = 0; j < N; ++j) row[j] += a * B[j * ldb + k];
        else
          for (int64_t j = 0; j < N; ++j) row[j] += a * B[k * ldb + j];
      }
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = alpha * row[j] + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
  });
}
}  // namespace

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_plain<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_plain<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* gemm_kernel_name() { return "scalar"; }

}  // namespace hipt::cpu
