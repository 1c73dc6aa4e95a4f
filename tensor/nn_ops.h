// The fused neural-network ops, raw (no autograd): forward kernels and the backward kernels that
// autograd/nn_functions.cpp calls. Each has an unfused composition of primitives as its test
// oracle (tests/test_nn_ops.cpp).
#pragma once
#include <string>

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

// ---------------------------------------------------------------- attention (docs/attention.md)
// q [B, H, Tq, D], k and v [B, H, Tk, D] -> softmax(q kᵀ · scale) v [B, H, Tq, D]; Tq != Tk allowed.

// The implementations, selectable by name:
//   composite  matmul, scale, (causal mask), softmax, matmul: primitive ops, any device and dtype;
//   fused      the CPU kernel: query rows in blocks, O(Tk) scratch per row, log-sum-exp kept;
//   flash      the CUDA kernel: tiled, online softmax, D in {32, 64, 128}, f32 and bf16;
//   auto       fused on the CPU, flash on CUDA (composite there when D is not 32, 64 or 128).
enum class AttentionImpl { Auto, Composite, Fused, Flash };
const char* attention_impl_name(AttentionImpl impl);  // "auto", "composite", "fused", "flash"
// The implementation called `name`, or hipt::Error listing the names.
AttentionImpl parse_attention_impl(const std::string& name);

struct AttentionOptions {
  bool causal = false;  // query i sees keys j <= i only (top-left aligned, as PyTorch's is_causal)
  AttentionImpl impl = AttentionImpl::Auto;
};

// The implementation `impl` runs as for q [B, H, Tq, D] on q's device (never Auto), or one
// hipt::Error line naming the op, the implementation and the device: flash on the CPU, fused on
// CUDA, bf16 on the CPU, flash with another D.
AttentionImpl resolve_attention_impl(AttentionImpl impl, const Tensor& q);

// Attention by the chosen implementation. With `lse`, also log Σ_j exp(S_ij) [B, H, Tq] (f32 for
// bf16 inputs) from fused or flash; undefined from composite.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, const AttentionOptions& options,
                 Tensor* lse = nullptr);
// q, k, v as attention takes them (dims, dtypes, devices, shapes; bf16 only on CUDA when
// `cuda_bf16`), or hipt::Error naming `op`.
void check_attention(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, bool cuda_bf16);
// The additive causal mask [Tq, Tk]: 0 where j <= i, -inf elsewhere.
Tensor causal_mask(int64_t Tq, int64_t Tk, DType dtype, Device device);

// The kernel behind fused (CPU) and flash (CUDA): out and lse [B, H, Tq], nothing Tq×Tk kept.
Tensor attention_lse(const Tensor& q, const Tensor& k, const Tensor& v, double scale, bool causal, Tensor* lse);
// Its backward from the forward's out and lse: dq, dk, dv (each written where asked).
void attention_lse_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                            const Tensor& lse, double scale, bool causal, Tensor* dq, Tensor* dk, Tensor* dv);

// The attention with its matrix: no mask, and with `probs` given, the attention matrix
// [B, H, Tq, Tk] is returned (heatmaps). Its backward works from probs.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, Tensor* probs = nullptr);
void attention_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& probs,
                        double scale, Tensor* dq, Tensor* dk, Tensor* dv);

}  // namespace hipt::ops
