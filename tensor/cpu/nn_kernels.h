// CPU kernels behind tensor/nn_ops.h. Outputs first, then inputs; shapes in the comments. Each
// trusts that the op in tensor/nn_ops.cpp checked shapes and dtypes, made the inputs contiguous
// where stated, and allocated the outputs.
#pragma once
#include "tensor/tensor.h"

namespace hipt::cpu {

// y [rows, n] = softmax (log_softmax when `log`) of x [rows, n] along n. Contiguous.
void softmax(const Tensor& y, const Tensor& x, bool log);
// dx [rows, n] from the forward's output y [rows, n] and g = dL/dy [rows, n]. Contiguous.
void softmax_backward(const Tensor& dx, const Tensor& y, const Tensor& g, bool log);

// loss [] = mean over n of logsumexp(x[n]) - x[n, target[n]]. x [N, C] contiguous, target i64 or
// i32 [N] contiguous with every value in [0, C).
void cross_entropy(const Tensor& loss, const Tensor& x, const Tensor& target);
// dx [N, C] = g / N · (softmax(x) - onehot(target)).
void cross_entropy_backward(const Tensor& dx, const Tensor& x, const Tensor& target, double g);

// y [rows, D], mean [rows], rstd [rows] from x [rows, D]; weight, bias [D] or undefined. Contiguous.
void layer_norm(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                const Tensor& bias, double eps);
// dx [rows, D], dweight [D], dbias [D] (any may be undefined: not computed) from g [rows, D],
// x [rows, D], weight [D] or undefined, mean and rstd [rows]. Contiguous.
void layer_norm_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& g,
                         const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd);

// y [n] = gelu(x [n]) (exact erf form); dx [n] = g · gelu'(x). Contiguous, any shape.
void gelu(const Tensor& y, const Tensor& x);
void gelu_backward(const Tensor& dx, const Tensor& x, const Tensor& g);

// out [B, H, T, D] contiguous = softmax(q kᵀ · scale) v, with probs [B, H, T, T] contiguous or
// undefined (then a per-thread scratch holds P). q [B, H, Tq, D], k and v [B, H, Tk, D] may have
// any strides whose last is 1: the qkv projection's permuted views are read in place.
void attention(const Tensor& out, const Tensor& probs, const Tensor& q, const Tensor& k, const Tensor& v,
               double scale);
// dq [B, H, Tq, D], dk and dv [B, H, Tk, D] contiguous (undefined: not computed) from
// g = dL/dout [B, H, Tq, D] (last stride 1) and the forward's probs [B, H, Tq, Tk] contiguous.
void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& probs, double scale);

// The implementation named `fused`: attention that keeps no Tq×Tk matrix, only the log-sum-exp
// of each score row. out [B, H, Tq, D] contiguous = softmax(S) v with S = q kᵀ · scale, and
// lse [B, H, Tq] contiguous (f32 for f32 inputs, f64 for f64) = log Σ_j exp(S_ij) over the
// unmasked j. q [B, H, Tq, D], k and v [B, H, Tk, D] with any strides whose last is 1. `causal`:
// query i sees keys j <= i only (top-left aligned; every row keeps key 0).
void attention_lse(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                   double scale, bool causal);
// dq [B, H, Tq, D], dk and dv [B, H, Tk, D] contiguous, all three written, from g = dL/dout
// [B, H, Tq, D] (last stride 1) and the forward's out and lse. P is rebuilt row block by row block
// as exp(S - lse); with Δ_i = Σ_d g_id out_id: dS = P ⊙ (g vᵀ - Δ), dq = dS k · scale,
// dk = dSᵀ q · scale, dv = Pᵀ g. Deterministic: no thread ever adds into another's output.
void attention_lse_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                            const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, double scale,
                            bool causal);

// Row forms shared between kernels (attention runs them on its score matrix in place):
// s [rows, n] = softmax(s); dp [rows, n] = p ⊙ (dp - rowsum(dp ⊙ p)).
template <class T> void softmax_rows_inplace(T* s, int64_t rows, int64_t n);
template <class T> void softmax_backward_rows_inplace(T* dp, const T* p, int64_t rows, int64_t n);

}  // namespace hipt::cpu
