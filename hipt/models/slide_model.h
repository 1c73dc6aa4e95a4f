// The slide-level HIPT models (2-Weakly-Supervised-Subtyping/models/model_hierarchical_mil.py;
// shared/reference/hipt-model.md §6): a slide is a bag of M regions, each 256 ViT-256 [CLS]
// vectors. HIPT_LGP_FC runs ViT-4K over each region's 16×16 grid, then the global path: an MLP, a
// 2-layer PyTorch TransformerEncoder over the regions, gated-attention pooling, an MLP and a
// classifier. Parameter names and order are the reference's, so its state dicts load by name.
// The MCAT survival head (§6.5) reads the same logits as discrete-time hazards.
#pragma once
#include <memory>

#include "hipt/models/vit.h"
#include "nn/transformer.h"

namespace hipt {

// Attn_Net_Gated (CLAM): a = tanh(W_a h + b_a), b = sigmoid(W_b h + b_b) (each then Dropout(0.25)
// when `dropout`), A = W_c (a ⊙ b) + b_c. Names attention_a.0.*, attention_b.0.*, attention_c.*.
class GatedAttention : public nn::Module {
 public:
  GatedAttention(int64_t L, int64_t D, bool dropout, int64_t n_classes, Generator& init, nn::GeneratorPtr gen,
                 DType dtype = DType::F32);
  Tensor forward(const Tensor& h) const;  // h [M, L] -> A [M, n_classes] (unnormalised scores)

  std::shared_ptr<nn::Linear> fc_a, fc_b, fc_c;
  std::shared_ptr<nn::Dropout> drop_a, drop_b;  // null without dropout
};

// nn.Sequential(Linear(in, out), ReLU(), Dropout(p)): the parameters are "0.weight", "0.bias".
class LinearReluDropout : public nn::Module {
 public:
  LinearReluDropout(int64_t in, int64_t out, double p, Generator& init, nn::GeneratorPtr gen, DType dtype);
  Tensor forward(const Tensor& x) const;  // [..., in] -> [..., out]
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::Dropout> drop;
};

struct SlideModelConfig {
  int64_t n_classes = 2;     // 4 for the survival head
  int64_t dim = 192;         // ViT-4K output
  int64_t heads = 3, feedforward = 192, layers = 2;
  double dropout = 0.25;     // global_phi, the transformer, the attention pool, global_rho
  uint64_t seed = 0;
  DType dtype = DType::F32;
  bool init_local_vit = true;  // false skips ViT-4K's init when a checkpoint overwrites it
};

struct SlideOutput {
  Tensor logits;     // [1, n_classes]
  Tensor probs;      // softmax(logits) [1, n_classes]
  Tensor y_hat;      // argmax, i64 [1, 1]
  Tensor attention;  // the pooling weights over regions, softmaxed [1, M]
};

// The global path on ViT-4K region features, with the reference's top-level names (global_phi.0,
// global_transformer.layers.N, global_attn_pool, global_rho.0, classifier): HIPT_GP_FC.
class HiptGlobalModel : public nn::Module {
 public:
  explicit HiptGlobalModel(const SlideModelConfig& config);
  // h [M, dim] region features -> logits, probabilities, argmax, attention over the M regions.
  SlideOutput forward(const Tensor& h) const;

  std::shared_ptr<LinearReluDropout> global_phi, global_rho;
  std::shared_ptr<nn::ModuleList<nn::TransformerEncoderLayer>> global_layers;  // "global_transformer.layers"
  std::shared_ptr<GatedAttention> global_attn_pool;
  std::shared_ptr<nn::Linear> classifier;

 protected:
  HiptGlobalModel(const SlideModelConfig& config, bool defer);  // a subclass registers its modules first
  void add_global_path();
  SlideModelConfig config_;
  Generator init_gen_;
  nn::GeneratorPtr gen_;
};

// HIPT_LGP_FC: local_vit (vit4k_xs) over each region, then the global path.
class HiptLgpFc : public HiptGlobalModel {
 public:
  explicit HiptLgpFc(const SlideModelConfig& config);
  // x_256 [M, 256, 384]: per region, its 16×16 ViT-256 [CLS] features in row-major order.
  SlideOutput forward(const Tensor& x_256) const;
  // The ViT-4K features of each region: [M, 256, 384] -> [M, 192] (x_256.unfold(1,16,16).transpose(1,2)).
  Tensor region_features(const Tensor& x_256) const;

  std::shared_ptr<VisionTransformer4K> local_vit;
};

// MCAT's discrete-time survival head on logits [B, K] (K = 4 bins).
struct SurvivalOutput {
  Tensor hazards;   // sigmoid(logits) [B, K]: P(event in bin k | survived to k)
  Tensor survival;  // S = cumprod(1 - hazards) [B, K]
  Tensor risk;      // -sum_k S_k [B]
};
SurvivalOutput survival_head(const Tensor& logits);

// MCAT's nll_loss, averaged over the batch. With S_pad = [1, S], bin y (i64 [B]) and censorship c
// ([B], 1 = censored): L = -(1-c)(log S_pad[y] + log h[y]) - c log S_pad[y+1], every log of a
// value clamped to >= eps; returns mean((1-alpha) L + alpha * uncensored term). Scalar [].
Tensor nll_survival_loss(const Tensor& hazards, const Tensor& survival, const Tensor& bin, const Tensor& censored,
                         double alpha = 0.0, double eps = 1e-7);

}  // namespace hipt
