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
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale);  // [B, H, T, D]

}  // namespace hipt
