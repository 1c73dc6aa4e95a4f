// The batched matrix product on the CPU: one sgemm/dgemm per batch element.
#include "tensor/backend.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/kernels.h"
#include "tensor/parallel.h"

namespace hipt::cpu {

void matmul(const Tensor& out, const MatrixOperand& a, const MatrixOperand& b) {
  const int n = out.dim(), nbatch = n - 2;
  const int64_t M = out.shape()[n - 2], N = out.shape()[n - 1];
  const int64_t K = a.trans ? a.t.shape()[n - 2] : a.t.shape()[n - 1];
  const int64_t count = out.numel() / (M * N);
  auto offset_of = [&](const Tensor& t, int64_t i) {
    int64_t off = 0;
    for (int d = nbatch - 1; d >= 0; --d) {
      off += (i % out.shape()[d]) * t.strides()[d];
      i /= out.shape()[d];
    }
    return off;
  };
  // Many small products (attention heads): one thread per product. Few large ones: threads
  // inside each GEMM.
  const bool per_batch_threads = count >= num_threads() && M * N * K < (1 << 23);
  parallel_for(0, count, per_batch_threads ? 1 : count, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t oa = offset_of(a.t, i), ob = offset_of(b.t, i);
      if (out.dtype() == DType::F32)
        sgemm(a.trans, b.trans, M, N, K, 1.f, a.t.data<float>() + oa, a.ld, b.t.data<float>() + ob, b.ld, 0.f,
              out.data<float>() + i * M * N, N);
      else
        dgemm(a.trans, b.trans, M, N, K, 1.0, a.t.data<double>() + oa, a.ld, b.t.data<double>() + ob, b.ld, 0.0,
              out.data<double>() + i * M * N, N);
    }
  });
}

}  // namespace hipt::cpu
