// Differentiable fused nn ops: forward through tensor/nn_ops.h, backward rule right below each.
// Every rule computes only the gradients whose input requires grad, and saves only what its
// backward kernel reads (the output for softmax, mean/rstd for layernorm, out and log-sum-exp for attention).
#include "autograd/nn_functions.h"

namespace hipt {

Tensor softmax(const Tensor& x, int dim) {
  Tensor y = ops::softmax(x, dim);
  if (!needs_graph(x)) return y;
  return record("softmax", y, {&x}, [dim, y = y.detach()](const Tensor& g) -> Grads {
    return {ops::softmax_backward(y, g, dim)};
  });
}

Tensor log_softmax(const Tensor& x, int dim) {
  Tensor y = ops::log_softmax(x, dim);
  if (!needs_graph(x)) return y;
  return record("log_softmax", y, {&x}, [dim, y = y.detach()](const Tensor& g) -> Grads {
    return {ops::log_softmax_backward(y, g, dim)};
  });
}

// Recomputes softmax(logits) in the backward rather than saving an [N, C] tensor: the forward
// never materialises one, and N·C is small next to the network that produced the logits.
Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  Tensor loss = ops::cross_entropy(logits, target);
  if (!needs_graph(logits)) return loss;
  return record("cross_entropy", loss, {&logits, &target},
                [x = logits.detach(), t = target.detach()](const Tensor& g) -> Grads {
                  return {ops::cross_entropy_backward(x, t, g), Tensor()};
                });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  Tensor mean, rstd;
  Tensor y = ops::layer_norm(x, weight, bias, eps, &mean, &rstd);
  if (!needs_graph({&x, &weight, &bias})) return y;
  const bool gx = x.requires_grad();
  const bool gw = weight.defined() && weight.requires_grad();
  const bool gb = bias.defined() && bias.requires_grad();
  return record("layer_norm", y, {&x, &weight, &bias},
                [=, x = x.detach(), w = weight.defined() ? weight.detach() : Tensor()](const Tensor& g) -> Grads {
                  Tensor dx, dw, db;
                  ops::layer_norm_backward(g, x, w, mean, rstd, gx ? &dx : nullptr, gw ? &dw : nullptr,
                                           gb ? &db : nullptr);
                  return {dx, dw, db};
                });
}

Tensor gelu(const Tensor& x) {
  Tensor y = ops::gelu(x);
  if (!needs_graph(x)) return y;
  return record("gelu", y, {&x}, [x = x.detach()](const Tensor& g) -> Grads { return {ops::gelu_backward(x, g)}; });
}

// fused / flash: the forward keeps out and lse [B, H, Tq] only when a gradient will be asked for;
// the backward rebuilds P from them. composite: the primitives record their own graph.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, const ops::AttentionOptions& options) {
  const ops::AttentionImpl impl = ops::resolve_attention_impl(options.impl, q);
  ops::check_attention("attention", q, k, v, true);
  const bool causal = options.causal;
  if (impl == ops::AttentionImpl::Composite) {
    Tensor s = mul(matmul(q, k, false, true), scale);
    if (causal) s = add(s, ops::causal_mask(q.size(2), k.size(2), q.dtype(), q.device()));
    return matmul(softmax(s, -1), v);
  }
  if (!needs_graph({&q, &k, &v})) return ops::attention_lse(q, k, v, scale, causal, nullptr);
  Tensor lse;
  Tensor out = ops::attention_lse(q, k, v, scale, causal, &lse);
  const bool gq = q.requires_grad(), gk = k.requires_grad(), gv = v.requires_grad();
  return record("attention", out, {&q, &k, &v},
                [=, q = q.detach(), k = k.detach(), v = v.detach(), o = out.detach()](const Tensor& g) -> Grads {
                  Tensor dq, dk, dv;
                  ops::attention_lse_backward(g, q, k, v, o, lse, scale, causal, &dq, &dk, &dv);
                  return {gq ? dq : Tensor(), gk ? dk : Tensor(), gv ? dv : Tensor()};
                });
}

}  // namespace hipt
