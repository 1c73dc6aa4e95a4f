// Differentiable fused neural-network ops (forward and backward kernels in tensor/nn_ops.h).
#pragma once
#include "autograd/functions.h"
#include "tensor/nn_ops.h"

namespace hipt {

Tensor softmax(const Tensor& x, int dim = -1);
Tensor log_softmax(const Tensor& x, int dim = -1);
Tensor cross_entropy(const Tensor& logits, const Tensor& target);  // [N, C], i64 [N] -> mean loss
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
Tensor gelu(const Tensor& x);
// q [B, H, Tq, D], k and v [B, H, Tk, D] -> softmax(q kᵀ · scale) v, by the implementation of
// `options` (tensor/nn_ops.h; docs/attention.md). fused and flash save out and the log-sum-exp
// for the backward (O(T) per row); composite is differentiated through its primitive ops.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                 const ops::AttentionOptions& options = {});

}  // namespace hipt
