// Fused scaled-dot-product attention on the CPU, forward and backward. One (batch, head) pair is
// one task: S = q kᵀ · scale (GEMM, scale folded into alpha), row softmax in place, O = P v (GEMM).
// The T×T matrix never leaves the task: it is either the caller's probs slice or a per-thread
// scratch that stays in L2 (257² floats = 258 KB). With at least as many pairs as threads, the
// GEMMs run serially inside the task; with fewer, the pairs run in turn and each GEMM threads.
//
// attention_lse / attention_lse_backward (the implementation named `fused`) keep no T×T matrix:
// they walk the query rows in blocks of a few thousand scores' worth, so their scratch is O(Tk)
// per row, and keep only each row's log-sum-exp for the backward, which rebuilds P from it.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/nn_kernels.h"
#include "tensor/cpu/vec_rows.h"

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

// Runs f(i) for i in [0, n) ((batch, head) pairs, or pairs × row blocks): threaded over i when there
// are at least as many as threads (the GEMMs inside then run serially), else in turn, each GEMM
// threading.
template <class F> void for_each_head(int64_t n, F&& f) {
  if (n >= num_threads())
    parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) f(i);
    });
  else
    for (int64_t i = 0; i < n; ++i) f(i);
}

// Query rows per block of the lse kernels: about kBlockScores scores per block, balanced so the
// last block is not a sliver. Returns {rows per block, blocks}.
constexpr int64_t kBlockScores = int64_t{1} << 16;
std::pair<int64_t, int64_t> row_blocks(int64_t Tq, int64_t Tk) {
  const int64_t most = std::max<int64_t>(16, kBlockScores / std::max<int64_t>(Tk, 1));
  const int64_t blocks = (Tq + most - 1) / most;
  return {(Tq + blocks - 1) / blocks, blocks};
}

// Keys a query row sees: all Tk, or with `causal` those j <= i.
int64_t keys_seen(int64_t i, int64_t Tk, bool causal) { return causal ? std::min(Tk, i + 1) : Tk; }

template <class T> std::vector<T>& scratch(int which) {
  thread_local std::vector<T> buffers[2];
  return buffers[which];
}
template <class T> T* scratch_of(int which, int64_t n) {
  std::vector<T>& b = scratch<T>(which);
  if (b.size() < static_cast<size_t>(n)) b.resize(static_cast<size_t>(n));
  return b.data();
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

// Per row block [i0, i0 + rows): S = q kᵀ · scale over the n keys any row of the block sees; each
// row i becomes exp(S - m_i) over its own keys (0 past them), l_i its sum, lse_i = m_i + log l_i;
// then out = P v. Blocks are independent: tasks are (head, block) pairs, threaded as heads are.
void attention_lse(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                   double scale, bool causal) {
  HIPT_DISPATCH_FLOAT("attention_lse", q.dtype(), T, {
    const int64_t H = q.shape()[1], Tq = q.shape()[2], Tk = k.shape()[2], D = q.shape()[3];
    const int64_t BH = q.shape()[0] * H;
    const int64_t ldq = q.strides()[2], ldk = k.strides()[2], ldv = v.strides()[2];
    const std::pair<int64_t, int64_t> blocking = row_blocks(Tq, Tk);
    const int64_t rb = blocking.first, blocks = blocking.second;
    const T* pq = q.data<T>();
    const T* pk = k.data<T>();
    const T* pv = v.data<T>();
    T* po = out.data<T>();
    T* pl = lse.data<T>();
    for_each_head(BH * blocks, [&](int64_t task) {
      const int64_t bh = task / blocks, i0 = (task % blocks) * rb, rows = std::min(rb, Tq - i0);
      const int64_t n = causal ? std::min(Tk, i0 + rows) : Tk;
      T* s = scratch_of<T>(0, rows * n);
      gemm(false, true, rows, n, D, static_cast<T>(scale), pq + head_offset(q, bh, H) + i0 * ldq, ldq,
           pk + head_offset(k, bh, H), ldk, T(0), s, n);
      T* o = po + (bh * Tq + i0) * D;
      T* l = pl + bh * Tq + i0;
      for (int64_t r = 0; r < rows; ++r) {
        T* row = s + r * n;
        const int64_t seen = keys_seen(i0 + r, Tk, causal);
        const T m = vec::max(row, seen);
        const T sum = vec::exp_sum(row, row, m, seen);
        std::fill(row + seen, row + n, T(0));
        l[r] = m + std::log(sum);
        const T inv = T(1) / sum;
        for (int64_t j = 0; j < seen; ++j) row[j] *= inv;
      }
      gemm(false, false, rows, D, n, T(1), s, n, pv + head_offset(v, bh, H), ldv, T(0), o, D);
    });
  });
}

// Per head, row blocks in order (dk and dv sum over them, so a head is one task and the sums have
// one order): P = exp(q kᵀ · scale - lse), dP = g vᵀ, dS = P ⊙ (dP - Δ), then dq for the block and
// dk += dSᵀ q · scale, dv += Pᵀ g over the keys the block sees.
void attention_lse_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                            const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, double scale,
                            bool causal) {
  HIPT_DISPATCH_FLOAT("attention_lse_backward", q.dtype(), T, {
    const int64_t H = q.shape()[1], Tq = q.shape()[2], Tk = k.shape()[2], D = q.shape()[3];
    const int64_t BH = q.shape()[0] * H;
    const int64_t ldq = q.strides()[2], ldk = k.strides()[2], ldv = v.strides()[2], ldg = g.strides()[2];
    const int64_t rb = row_blocks(Tq, Tk).first;
    const T* pq = q.data<T>();
    const T* pk = k.data<T>();
    const T* pv = v.data<T>();
    const T* pg = g.data<T>();
    const T* po = out.data<T>();
    const T* pl = lse.data<T>();
    T* pdq = dq.data<T>();
    T* pdk = dk.data<T>();
    T* pdv = dv.data<T>();
    const T sc = static_cast<T>(scale);
    for_each_head(BH, [&](int64_t bh) {
      const T* qh = pq + head_offset(q, bh, H);
      const T* kh = pk + head_offset(k, bh, H);
      const T* vh = pv + head_offset(v, bh, H);
      const T* gh = pg + head_offset(g, bh, H);
      T* dkh = pdk + bh * Tk * D;
      T* dvh = pdv + bh * Tk * D;
      std::fill(dkh, dkh + Tk * D, T(0));
      std::fill(dvh, dvh + Tk * D, T(0));
      for (int64_t i0 = 0; i0 < Tq; i0 += rb) {
        const int64_t rows = std::min(rb, Tq - i0);
        const int64_t n = causal ? std::min(Tk, i0 + rows) : Tk;
        T* p = scratch_of<T>(0, rows * n);
        T* ds = scratch_of<T>(1, rows * n);
        gemm(false, true, rows, n, D, sc, qh + i0 * ldq, ldq, kh, ldk, T(0), p, n);
        gemm(false, true, rows, n, D, T(1), gh + i0 * ldg, ldg, vh, ldv, T(0), ds, n);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = i0 + r, seen = keys_seen(i, Tk, causal);
          T* prow = p + r * n;
          T* drow = ds + r * n;
          vec::exp_sum(prow, prow, pl[bh * Tq + i], seen);
          std::fill(prow + seen, prow + n, T(0));
          const T delta = vec::dot(gh + i * ldg, po + (bh * Tq + i) * D, D);
          for (int64_t j = 0; j < n; ++j) drow[j] = prow[j] * (drow[j] - delta);
        }
        gemm(false, false, rows, D, n, sc, ds, n, kh, ldk, T(0), pdq + (bh * Tq + i0) * D, D);
        gemm(true, false, n, D, rows, sc, ds, n, qh + i0 * ldq, ldq, T(1), dkh, D);
        gemm(true, false, n, D, rows, T(1), p, n, gh + i0 * ldg, ldg, T(1), dvh, D);
      }
    });
  });
}

}  // namespace hipt::cpu
