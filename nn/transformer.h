// The transformer layers: timm/DINO's vision-transformer layers and PyTorch's own
// TransformerEncoderLayer, with PyTorch's parameter names ("attn.qkv.weight", "mlp.fc1.bias",
// "self_attn.in_proj_weight"), so models built from them load the reference state dicts key for
// key. Every layer behaves as its PyTorch namesake in train() and eval() mode.
//
// Every layer takes the parameters' dtype (f32 for models, f64 for gradcheck).
// Randomness (dropout, drop path) comes from one Generator shared by the whole model
// (`std::shared_ptr<Generator>`), so a model's stream depends only on its seed.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "tensor/random.h"

namespace hipt::nn {

using GeneratorPtr = std::shared_ptr<Generator>;

// Children named "0", "1", ... in order (torch.nn.ModuleList / Sequential naming).
template <class M> class ModuleList : public Module {
 public:
  std::shared_ptr<M> append(std::shared_ptr<M> m) {
    items_.push_back(m);
    return register_module(std::to_string(items_.size() - 1), m);
  }
  const std::shared_ptr<M>& operator[](size_t i) const { return items_.at(i); }
  size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

// A container whose children the owner names itself (nn.Sequential with parameter-free members
// left out, e.g. Linear "0", Tanh "1", Dropout "2").
class Sequential : public Module {
 public:
  using Module::register_module;
};

// Drop path (stochastic depth), per sample: x [B, ...] times a mask [B, 1, ...] of 0 or 1/keep.
// Identity when !training or p == 0. Differentiable in x (through the multiply).
Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen);

class Dropout : public Module {
 public:
  Dropout(double p, GeneratorPtr gen);
  Tensor forward(const Tensor& x) const;  // any shape
  double p;

 private:
  GeneratorPtr gen_;
};

class DropPath : public Module {
 public:
  DropPath(double p, GeneratorPtr gen);
  Tensor forward(const Tensor& x) const;  // x [B, ...]
  double p;

 private:
  GeneratorPtr gen_;
};

// Exact-erf GELU (torch.nn.GELU()).
class GELU : public Module {
 public:
  Tensor forward(const Tensor& x) const;  // any shape
};

// fc1 -> GELU -> drop -> fc2 -> drop (timm Mlp).
class Mlp : public Module {
 public:
  Mlp(int64_t dim, int64_t hidden, double drop, Generator& init, GeneratorPtr gen, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;  // x [B, T, dim] -> [B, T, dim]

  std::shared_ptr<Linear> fc1, fc2;
  std::shared_ptr<GELU> act;
  std::shared_ptr<Dropout> drop;
};

// The attention of a fused q|k|v projection: qkv [B, T, 3·H·D], features ordered (q|k|v, head,
// head_dim) -> [B, Tq, H·D], heads joined head-major; scores scaled by `scale`. The fused attention
// op runs unless `attn_drop` is active (training, p > 0), when the plain composition does
// (dropout sits between softmax and ·v). With `probs`, also the attention matrix [B, H, Tq, T]
// (before attention dropout). cls_only: only token 0 queries (Tq = 1); keys and values still come
// from every token.
Tensor multihead_attention(const Tensor& qkv, int64_t heads, double scale, const Dropout& attn_drop,
                           Tensor* probs = nullptr, bool cls_only = false);

// Multi-head self-attention: qkv Linear(dim, 3·dim) with bias, output features ordered
// (q|k|v, head, head_dim); scale head_dim^-0.5; heads joined head-major; proj Linear(dim, dim).
class Attention : public Module {
 public:
  Attention(int64_t dim, int64_t heads, double attn_drop, double proj_drop, Generator& init, GeneratorPtr gen,
            DType dtype = DType::F32);
  // x [B, T, dim] -> [B, T, dim]. With `probs`, also the attention matrix [B, heads, T, T]
  // (before attention dropout). cls_only: only token 0 queries, -> [B, 1, dim] and probs
  // [B, heads, 1, T] (keys and values still come from every token).
  Tensor forward(const Tensor& x, Tensor* probs = nullptr, bool cls_only = false) const;

  int64_t heads;
  double scale;
  std::shared_ptr<Linear> qkv, proj;
  std::shared_ptr<Dropout> attn_drop, proj_drop;
};

// Pre-norm transformer block: x + drop_path(attn(norm1(x))), then + drop_path(mlp(norm2(x))).
// LayerNorm eps 1e-6 as in DINO.
class Block : public Module {
 public:
  Block(int64_t dim, int64_t heads, double mlp_ratio, double drop, double attn_drop, double drop_path,
        Generator& init, GeneratorPtr gen, DType dtype = DType::F32);
  // [B, T, dim] -> [B, T, dim]; cls_only: token 0's output alone, [B, 1, dim] (for the last block,
  // whose other outputs a [CLS] model never reads).
  Tensor forward(const Tensor& x, Tensor* probs = nullptr, bool cls_only = false) const;

  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
  std::shared_ptr<DropPath> drop_path;
};

// torch.nn.MultiheadAttention used as self-attention: in_proj_weight [3E, E] rows q|k|v (each
// split head-major), in_proj_bias [3E], out_proj (Linear E->E), scale head_dim^-0.5, dropout on
// the attention weights. Init as PyTorch: xavier_uniform in_proj, zero biases.
class MultiheadSelfAttention : public Module {
 public:
  MultiheadSelfAttention(int64_t dim, int64_t heads, double dropout, Generator& init, GeneratorPtr gen,
                         DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;  // x [B, T, E] -> [B, T, E]

  int64_t heads;
  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;
  std::shared_ptr<Dropout> attn_drop;
};

// torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation='relu')
// as PyTorch 1.13 runs it by default: post-norm, LayerNorm eps 1e-5.
//   x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(linear2(dropout(relu(linear1(x))))))
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t dim, int64_t heads, int64_t ff, double dropout, Generator& init, GeneratorPtr gen,
                          DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;  // x [B, T, E] -> [B, T, E]

  std::shared_ptr<MultiheadSelfAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
};

// The parameters of a Conv2d(in_chans, dim, kernel = stride = patch): weight [dim, in_chans, p, p],
// bias [dim], initialised as PyTorch's Conv2d (U(±1/√fan_in) for both).
class PatchConv : public Module {
 public:
  PatchConv(int64_t patch, int64_t in_chans, int64_t dim, Generator& init, DType dtype = DType::F32);
  Tensor weight, bias;
};

// The strided convolution as patchify + one GEMM against the kernel reshaped to [dim, C·p·p].
class PatchEmbed : public Module {
 public:
  PatchEmbed(int64_t patch, int64_t in_chans, int64_t dim, Generator& init, DType dtype = DType::F32);
  // x [B, C, H, W] (H, W multiples of patch) -> [B, (H/p)(W/p), dim], patches row-major.
  Tensor forward(const Tensor& x) const;

  int64_t patch;
  std::shared_ptr<PatchConv> proj;
};

}  // namespace hipt::nn
