// The fused neural-network ops, raw (no autograd): forward kernels and the backward kernels that
// autograd/nn_functions.cpp calls. Each has an unfused composition of primitives as its test
// oracle (tests/test_nn_ops.cpp).
#pragma once
#include "tensor/tensor.h"

namespace hipt::ops {

// softmax / log_softmax along `dim` (max-subtracted, so large logits do not overflow).
Tensor softmax(const Tensor& x, int dim = -1);
Tensor log_softmax(const Tensor& x, int dim = -1);
// dL/dx from y = softmax(x) (or y = log_softmax(x)) and g = dL/dy.
Tensor softmax_backward(const Tensor& y, const Tensor& g, int dim = -1);
Tensor log_softmax_backward(const Tensor& y, const Tensor& g, int dim = -1);

// Mean over N of -log_softmax(logits)[n, target[n]]. logits [N, C], target i64 [N]. 0-dim result.
Tensor cross_entropy(const Tensor& logits, const Tensor& target);
// dL/dlogits [N, C] = g / N · (softmax(logits) - onehot(target)), g the 0-dim dL/dloss.
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& g);

// LayerNorm over the last dim: y = (x - mean) * rstd * weight + bias. weight/bias [D] may be
// undefined (no affine). mean/rstd [rows] are returned for the backward.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* mean = nullptr,
                  Tensor* rstd = nullptr);
// Gradients for x, weight, bias (the latter two undefined when weight/bias are undefined).
void layer_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, Tensor* dx, Tensor* dweight, Tensor* dbias);

// GELU, exact erf form: x * 0.5 * (1 + erf(x / sqrt 2)), as torch.nn.GELU().
Tensor gelu(const Tensor& x);
Tensor gelu_backward(const Tensor& x, const Tensor& g);

// Scaled dot-product attention, no mask: softmax(q kᵀ * scale) v, q/k/v [B, H, T, D] -> [B, H, T, D].
// With `probs` given, the attention matrix [B, H, T, T] is returned (heatmaps and the backward).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, Tensor* probs = nullptr);
void attention_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& probs,
                        double scale, Tensor* dq, Tensor* dk, Tensor* dv);

}  // namespace hipt::ops
