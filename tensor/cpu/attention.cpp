// Fused scaled-dot-product attention on the CPU, forward and backward. One (batch, head) pair is
// one task: S = q kᵀ · scale (GEMM, scale folded into alpha), row softmax in place, O = P v (GEMM).
// The T×T matrix never leaves the task: it is either the caller's probs slice or a per-thread
// scratch that stays in L2 (257² floats = 258 KB). With at least as many pairs as threads, the
// GEMMs run serially inside the task; with fewer, the pairs run in turn and each GEMM threads.
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/nn_kernels.h"

namespace hipt::cpu {
namespace {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Element offset of [b, h, 0, 0] in t [B, H, T, D].
int64_t head_offset(const Tensor& t, int64_t bh, int64_t H) {
  return (bh / H) * t.strides()[0] + (bh % H) * t.strides()[1];
}

// Runs f(bh) for every (batch, head) pair, threaded over pairs when there are enough of them.
template <class F> void for_each_head(int64_t BH, F&& f) {
  if (BH >= num_threads())
    parallel_for(0, BH, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) f(i);
    });
  else
    for (int64_t i = 0; i < BH; ++i) f(i);
}

}  // namespace

void attention(const Tensor& out, const Tensor& probs, const Tensor& q, const Tensor& k, const Tensor& v,
               double scale) {
  HIPT_DISPATCH_FLOAT("attention", q.dtype(), T, {
    const int64_t H = q.shape()[1], Tq = q.shape()[2], Tk = k.shape()[2], D = q.shape()[3];
    const int64_t BH = q.shape()[0] * H;
    const int64_t ldq = q.strides()[2], ldk = k.strides()[2], ldv = v.strides()[2];
    const T* pq = q.data<T>();
    const T* pk = k.data<T>();
    const T* pv = v.data<T>();
    T* po = out.data<T>();
    T* pp = probs.defined() ? probs.data<T>() : nullptr;
    for_each_head(BH, [&](int64_t bh) {
      thread_local std::vector<T> scratch;
      T* s = pp ? pp + bh * Tq * Tk : nullptr;
      if (!s) {
        if (scratch.size() < static_cast<size_t>(Tq * Tk)) scratch.resize(static_cast<size_t>(Tq * Tk));
        s = scratch.data();
      }
      gemm(false, true, Tq, Tk, D, static_cast<T>(scale), pq + head_offset(q, bh, H), ldq, pk + head_offset(k, bh, H),
           ldk, T(0), s, Tk);
      softmax_rows_inplace(s, Tq, Tk);
      gemm(false, false, Tq, D, Tk, T(1), s, Tk, pv + head_offset(v, bh, H), ldv, T(0), po + bh * Tq * D, D);
    });
  });
}

// With P the probs, dO = g:  dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP - rowsum(dP ⊙ P)),
// dQ = dS K · scale,  dK = dSᵀ Q · scale.
void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& probs, double scale) {
  HIPT_DISPATCH_FLOAT("attention_backward", q.dtype(), T, {
    const int64_t H = q.shape()[1], Tq = q.shape()[2], Tk = k.shape()[2], D = q.shape()[3];
    const int64_t BH = q.shape()[0] * H;
    const int64_t ldq = q.strides()[2], ldk = k.strides()[2], ldv = v.strides()[2], ldg = g.strides()[2];
    const T* pq = q.data<T>();
    const T* pk = k.data<T>();
    const T* pv = v.data<T>();
    const T* pg = g.data<T>();
    const T* pp = probs.data<T>();
    T* pdq = dq.defined() ? dq.data<T>() : nullptr;
    T* pdk = dk.defined() ? dk.data<T>() : nullptr;
    T* pdv = dv.defined() ? dv.data<T>() : nullptr;
    const T sc = static_cast<T>(scale);
    for_each_head(BH, [&](int64_t bh) {
      const T* p = pp + bh * Tq * Tk;
      const T* gh = pg + head_offset(g, bh, H);
      if (pdv) gemm(true, false, Tk, D, Tq, T(1), p, Tk, gh, ldg, T(0), pdv + bh * Tk * D, D);
      if (!pdq && !pdk) return;
      thread_local std::vector<T> scratch;
      if (scratch.size() < static_cast<size_t>(Tq * Tk)) scratch.resize(static_cast<size_t>(Tq * Tk));
      T* ds = scratch.data();
      gemm(false, true, Tq, Tk, D, T(1), gh, ldg, pv + head_offset(v, bh, H), ldv, T(0), ds, Tk);
      softmax_backward_rows_inplace(ds, p, Tq, Tk);
      if (pdq) gemm(false, false, Tq, D, Tk, sc, ds, Tk, pk + head_offset(k, bh, H), ldk, T(0), pdq + bh * Tq * D, D);
      if (pdk) gemm(true, false, Tk, D, Tq, sc, ds, Tk, pq + head_offset(q, bh, H), ldq, T(0), pdk + bh * Tk * D, D);
    });
  });
}

}  // namespace hipt::cpu
