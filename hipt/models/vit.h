// The two HIPT vision transformers (DINO's VisionTransformer and HIPT's VisionTransformer4K),
// parameter for parameter as the reference state dicts (docs: shared/reference/hipt-model.md §3-4):
// named_parameters() yields the reference keys in the reference order, so a checkpoint loads by name.
//
//   ViT-256 (vit256_small):  x [B, 3, H, W] -> patch tokens -> [CLS] after 12 blocks -> [B, 384]
//   ViT-4K  (vit4k_xs):      x [B, 384, Hg, Wg] (grid of ViT-256 [CLS]) -> phi -> 6 blocks -> [B, 192]
//
// Positional embeddings are stored for a 14×14 grid (img_size 224) and resized to the input grid as
// the reference does on every forward (bicubic, scale (n + 0.1)/14); in eval or no-grad mode the
// resized table is cached per grid size.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "nn/transformer.h"

namespace hipt {

struct VitConfig {
  int64_t embed_dim = 384, depth = 12, heads = 6;
  double mlp_ratio = 4;
  int64_t patch = 16;     // ViT-256 token size in pixels; ViT-4K ignores it (one grid cell per token)
  int64_t img_size = 224; // the stored pos_embed covers (img_size / 16)^2 tokens, as in the reference
  int64_t in_chans = 3;   // ViT-256: image channels; ViT-4K: input_embed_dim (384)
  double drop = 0, attn_drop = 0, drop_path = 0;  // drop_path rises linearly over the blocks to this
  uint64_t seed = 0;      // init and dropout streams
  DType dtype = DType::F32;  // f64 for gradcheck, bf16 for a bf16 forward on a GPU
  bool init = true;  // false skips DINO's trunc-normal init (seconds for ViT-256) when a checkpoint overwrites it all
};

// What the two ViTs share: cls_token, pos_embed, blocks, norm, and the forward from tokens.
class VitBackbone : public nn::Module {
 public:
  int64_t embed_dim() const { return config_.embed_dim; }
  const VitConfig& config() const { return config_; }
  // The stream the dropout and drop-path masks are drawn from (saved with training state to resume).
  const nn::GeneratorPtr& dropout_generator() const { return gen_; }

  // pos_embed resized to a rows × cols grid: [1, 1 + rows·cols, E]. The stored table as is when
  // rows·cols equals its token count and rows == cols (the reference's rule).
  Tensor interpolated_pos_embed(int64_t rows, int64_t cols) const;

  Tensor cls_token, pos_embed;  // [1, 1, E], [1, 1 + N, E]
  std::shared_ptr<nn::Dropout> pos_drop;
  std::shared_ptr<nn::ModuleList<nn::Block>> blocks;
  std::shared_ptr<nn::LayerNorm> norm;

 protected:
  VitBackbone(const VitConfig& config, int64_t pos_grid);
  // Registers blocks and norm (after the subclass registered its embedding, for the reference order)
  // and re-initialises every Linear and the tokens as DINO does (trunc normal std 0.02, zero biases).
  void add_blocks_and_init();
  // tokens [B, L, E] on a rows × cols grid -> [CLS] after the final norm [B, E]; with `last_attention`,
  // the last block's attention [B, heads, L+1, L+1], or its [CLS] row [B, heads, 1, L+1] if cls_row.
  // Only [CLS] is computed through the last block's projection and MLP unless the full map is asked.
  Tensor encode(const Tensor& tokens, int64_t rows, int64_t cols, Tensor* last_attention, bool cls_row) const;

  VitConfig config_;
  int64_t pos_grid_;  // side of the stored pos_embed grid (14)
  Generator init_gen_;
  nn::GeneratorPtr gen_;

 private:
  struct CachedPos {
    Tensor source;   // the pos_embed values it was computed from (a copy), to notice reloaded weights
    Tensor resized;
  };
  mutable std::mutex cache_mutex_;
  mutable std::map<std::pair<int64_t, int64_t>, CachedPos> pos_cache_;
};

// DINO's VisionTransformer (HIPT_4K/vision_transformer.py): ViT-256 when configured as vit256_small().
class VisionTransformer : public VitBackbone {
 public:
  explicit VisionTransformer(const VitConfig& config);
  // x [B, C, H, W], H and W multiples of the patch -> [B, E] ([CLS] after the final norm).
  // With `last_attention`: also the last block's attention [B, heads, T, T], T = 1 + (H/p)(W/p),
  // or only its [CLS] query row [B, heads, 1, T] when cls_row (cheaper: see encode).
  Tensor forward(const Tensor& x, Tensor* last_attention = nullptr, bool cls_row = false) const;
  Tensor last_selfattention(const Tensor& x) const;  // [B, heads, T, T]

  std::shared_ptr<nn::PatchEmbed> patch_embed;
};

// phi: Linear(in, E) -> GELU -> Dropout, registered as "phi.0" / "phi.1" / "phi.2".
class Phi : public nn::Module {
 public:
  Phi(int64_t in, int64_t out, double drop, Generator& init, nn::GeneratorPtr gen, DType dtype);
  Tensor forward(const Tensor& x) const;  // [B, L, in] -> [B, L, out]
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::GELU> act;
  std::shared_ptr<nn::Dropout> drop;
};

// HIPT's VisionTransformer4K (HIPT_4K/vision_transformer4k.py): tokens are the cells of a feature grid.
class VisionTransformer4K : public VitBackbone {
 public:
  explicit VisionTransformer4K(const VitConfig& config);
  // x [B, in_chans, Hg, Wg] -> [B, E]; with `last_attention`, [B, heads, L+1, L+1], L = Hg·Wg
  // ([B, heads, 1, L+1] when cls_row).
  Tensor forward(const Tensor& x, Tensor* last_attention = nullptr, bool cls_row = false) const;
  Tensor last_selfattention(const Tensor& x) const;

  std::shared_ptr<Phi> phi;
};

// The released configurations (reference `vit_small(patch_size=16)` and `vit4k_xs()`).
VitConfig vit256_small_config();  // 384 / 12 blocks / 6 heads, patch 16
VitConfig vit4k_xs_config();      // 384 -> 192 / 6 blocks / 6 heads
VitConfig vit_tiny_config();      // 192 / 12 / 3 (DINO vit_tiny)
VitConfig vit_base_config();      // 768 / 12 / 12 (DINO vit_base)
// `dtype` bf16 makes a model for a bf16 forward on a GPU (initialised in f32, stored in bf16; load
// a checkpoint into it, then move it with to()).
std::shared_ptr<VisionTransformer> vit256_small(uint64_t seed = 0, bool init = true, DType dtype = DType::F32);
std::shared_ptr<VisionTransformer4K> vit4k_xs(uint64_t seed = 0, bool init = true, DType dtype = DType::F32);

}  // namespace hipt
