#include "nn/transformer.h"

#include <cmath>

#include "autograd/image_functions.h"
#include "autograd/nn_functions.h"

namespace hipt::nn {

// timm's drop_path: keep_prob + U[0,1) floored, i.e. Bernoulli(keep) per sample, then x / keep.
// dropout_mask already gives 0 or 1/keep; broadcasting it over [B, 1, ...] keeps whole samples.
Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen) {
  HIPT_CHECK(p >= 0 && p < 1, "drop_path: p must be in [0, 1), got {} for {}", p, x.str());
  if (!training || p == 0) return x;
  HIPT_CHECK(x.dim() >= 1, "drop_path: x must have a batch dim, got {}", x.str());
  Shape mask_shape = x.shape();
  for (int d = 1; d < mask_shape.size(); ++d) mask_shape[d] = 1;
  return mul(x, ops::dropout_mask(mask_shape, p, gen, x.dtype(), x.device()));
}

Dropout::Dropout(double p_, GeneratorPtr gen) : p(p_), gen_(std::move(gen)) {
  HIPT_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got {}", p);
}
Tensor Dropout::forward(const Tensor& x) const { return dropout(x, p, training(), *gen_); }

DropPath::DropPath(double p_, GeneratorPtr gen) : p(p_), gen_(std::move(gen)) {
  HIPT_CHECK(p >= 0 && p < 1, "DropPath: p must be in [0, 1), got {}", p);
}
Tensor DropPath::forward(const Tensor& x) const { return drop_path(x, p, training(), *gen_); }

Tensor GELU::forward(const Tensor& x) const { return gelu(x); }

Mlp::Mlp(int64_t dim, int64_t hidden, double drop_p, Generator& init, GeneratorPtr gen, DType dtype) {
  fc1 = register_module("fc1", std::make_shared<Linear>(dim, hidden, true, init, dtype));
  act = register_module("act", std::make_shared<GELU>());
  fc2 = register_module("fc2", std::make_shared<Linear>(hidden, dim, true, init, dtype));
  drop = register_module("drop", std::make_shared<Dropout>(drop_p, std::move(gen)));
}

Tensor Mlp::forward(const Tensor& x) const {
  return drop->forward(fc2->forward(drop->forward(act->forward(fc1->forward(x)))));
}

Attention::Attention(int64_t dim, int64_t heads_, double attn_drop_p, double proj_drop_p, Generator& init,
                     GeneratorPtr gen, DType dtype)
    : heads(heads_) {
  HIPT_CHECK(heads > 0 && dim % heads == 0, "Attention: dim {} is not a multiple of heads {}", dim, heads);
  scale = 1.0 / std::sqrt(static_cast<double>(dim / heads));
  qkv = register_module("qkv", std::make_shared<Linear>(dim, 3 * dim, true, init, dtype));
  attn_drop = register_module("attn_drop", std::make_shared<Dropout>(attn_drop_p, gen));
  proj = register_module("proj", std::make_shared<Linear>(dim, dim, true, init, dtype));
  proj_drop = register_module("proj_drop", std::make_shared<Dropout>(proj_drop_p, gen));
}

Tensor multihead_attention(const Tensor& qkv, int64_t heads, double scale, const Dropout& attn_drop, Tensor* probs,
                           bool cls_only) {
  HIPT_CHECK(qkv.dim() == 3 && heads > 0 && qkv.size(2) % (3 * heads) == 0,
             "multihead_attention: qkv must be [B, T, 3·heads·head_dim] with heads {}, got {}", heads, qkv.str());
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, D = C / heads;
  // [B, T, 3C] viewed as [B, T, 3, H, D]; q, k, v are strided [B, H, T, D] views (row stride 3C),
  // which the fused attention reads in place.
  Tensor qkv5 = reshape(qkv, {B, T, 3, heads, D});
  Tensor q = permute(select(qkv5, 2, 0), {0, 2, 1, 3});
  Tensor k = permute(select(qkv5, 2, 1), {0, 2, 1, 3});
  Tensor v = permute(select(qkv5, 2, 2), {0, 2, 1, 3});
  if (cls_only) q = slice(q, 2, 0, 1);
  const int64_t Tq = q.size(2);
  Tensor o;
  if (attn_drop.training() && attn_drop.p > 0) {
    // Dropout sits between softmax and ·v, so the fused op cannot run: the plain composition.
    Tensor a = softmax(mul(matmul(q, k, false, true), scale), -1);
    if (probs) *probs = a.detach();
    o = matmul(attn_drop.forward(a), v);
  } else if (probs) {
    Tensor p;
    o = ops::attention(q.detach(), k.detach(), v.detach(), scale, &p);
    *probs = p;
    if (needs_graph({&q, &k, &v})) o = attention(q, k, v, scale);  // the heatmap path rarely trains
  } else {
    o = attention(q, k, v, scale);
  }
  return reshape(permute(o, {0, 2, 1, 3}), {B, Tq, C});
}

Tensor Attention::forward(const Tensor& x, Tensor* probs, bool cls_only) const {
  HIPT_CHECK(x.dim() == 3, "Attention: x must be [B, T, C], got {}", x.str());
  Tensor o = multihead_attention(qkv->forward(x), heads, scale, *attn_drop, probs, cls_only);
  return proj_drop->forward(proj->forward(o));
}

Block::Block(int64_t dim, int64_t heads, double mlp_ratio, double drop, double attn_drop, double drop_path_p,
             Generator& init, GeneratorPtr gen, DType dtype) {
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(dim, 1e-6, dtype));
  attn = register_module("attn", std::make_shared<Attention>(dim, heads, attn_drop, drop, init, gen, dtype));
  drop_path = register_module("drop_path", std::make_shared<DropPath>(drop_path_p, gen));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(dim, 1e-6, dtype));
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
  mlp = register_module("mlp", std::make_shared<Mlp>(dim, hidden, drop, init, gen, dtype));
}

Tensor Block::forward(const Tensor& x, Tensor* probs, bool cls_only) const {
  // Each branch ends in a fresh Linear output (dropout and drop path return it or a fresh product).
  Tensor y = add_into(drop_path->forward(attn->forward(norm1->forward(x), probs, cls_only)),
                      cls_only ? slice(x, 1, 0, 1) : x);
  return add_into(drop_path->forward(mlp->forward(norm2->forward(y))), y);
}

MultiheadSelfAttention::MultiheadSelfAttention(int64_t dim, int64_t heads_, double dropout, Generator& init,
                                               GeneratorPtr gen, DType dtype)
    : heads(heads_) {
  HIPT_CHECK(heads > 0 && dim % heads == 0, "MultiheadSelfAttention: dim {} is not a multiple of heads {}", dim,
             heads);
  const double bound = std::sqrt(6.0 / static_cast<double>(dim + 3 * dim));  // xavier_uniform_ on [3E, E]
  in_proj_weight = register_parameter("in_proj_weight", init_uniform({3 * dim, dim}, -bound, bound, init, dtype));
  in_proj_bias = register_parameter("in_proj_bias", ops::zeros({3 * dim}, dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(dim, dim, true, init, dtype));
  ops::fill_(out_proj->bias, 0);
  // A float in PyTorch, a parameter-free child here so that train()/eval() reach it.
  attn_drop = register_module("attn_drop", std::make_shared<Dropout>(dropout, std::move(gen)));
}

Tensor MultiheadSelfAttention::forward(const Tensor& x) const {
  const int64_t E = in_proj_weight.size(1);
  HIPT_CHECK(x.dim() == 3 && x.size(2) == E, "MultiheadSelfAttention: x must be [B, T, {}], got {}", E, x.str());
  const double scale = 1.0 / std::sqrt(static_cast<double>(E / heads));
  Tensor qkv = add(matmul(x, in_proj_weight, false, true), in_proj_bias);
  return out_proj->forward(multihead_attention(qkv, heads, scale, *attn_drop));
}

TransformerEncoderLayer::TransformerEncoderLayer(int64_t dim, int64_t heads, int64_t ff, double p, Generator& init,
                                                 GeneratorPtr gen, DType dtype) {
  // PyTorch's registration order, which is the state dict's order.
  self_attn = register_module("self_attn", std::make_shared<MultiheadSelfAttention>(dim, heads, p, init, gen, dtype));
  linear1 = register_module("linear1", std::make_shared<Linear>(dim, ff, true, init, dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(p, gen));
  linear2 = register_module("linear2", std::make_shared<Linear>(ff, dim, true, init, dtype));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(dim, 1e-5, dtype));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(dim, 1e-5, dtype));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(p, gen));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(p, gen));
}

Tensor TransformerEncoderLayer::forward(const Tensor& x) const {
  Tensor y = norm1->forward(add(x, dropout1->forward(self_attn->forward(x))));
  Tensor ff = linear2->forward(dropout->forward(relu(linear1->forward(y))));
  return norm2->forward(add(y, dropout2->forward(ff)));
}

PatchConv::PatchConv(int64_t patch, int64_t in_chans, int64_t dim, Generator& init, DType dtype) {
  HIPT_CHECK(patch > 0 && in_chans > 0 && dim > 0, "PatchEmbed: sizes must be positive, got patch={} in_chans={} "
             "dim={}", patch, in_chans, dim);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_chans * patch * patch));
  weight = register_parameter("weight", init_uniform({dim, in_chans, patch, patch}, -bound, bound, init, dtype));
  bias = register_parameter("bias", init_uniform({dim}, -bound, bound, init, dtype));
}

PatchEmbed::PatchEmbed(int64_t patch_, int64_t in_chans, int64_t dim, Generator& init, DType dtype) : patch(patch_) {
  proj = register_module("proj", std::make_shared<PatchConv>(patch, in_chans, dim, init, dtype));
}

Tensor PatchEmbed::forward(const Tensor& x) const {
  const Tensor& w = proj->weight;
  HIPT_CHECK(x.dim() == 4 && x.size(1) == w.size(1), "PatchEmbed: x must be [B, {}, H, W], got {}", w.size(1),
             x.str());
  HIPT_CHECK(x.size(2) % patch == 0 && x.size(3) % patch == 0,
             "PatchEmbed: image {}x{} is not a multiple of the patch size {}", x.size(2), x.size(3), patch);
  Tensor tokens = matmul(patchify(x, patch), reshape(w, {w.size(0), -1}), false, true);
  return add_into(tokens, proj->bias);
}

}  // namespace hipt::nn
