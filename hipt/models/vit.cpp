#include "hipt/models/vit.h"

#include <cstring>

#include "autograd/image_functions.h"
#include "autograd/nn_functions.h"

namespace hipt {

VitBackbone::VitBackbone(const VitConfig& config, int64_t pos_grid)
    : config_(config), pos_grid_(pos_grid), init_gen_(config.seed), gen_(std::make_shared<Generator>(config.seed + 1)) {
  const int64_t E = config.embed_dim;
  HIPT_CHECK(E > 0 && config.depth > 0 && config.heads > 0 && E % config.heads == 0,
             "VisionTransformer: embed_dim {} must be a positive multiple of heads {} (depth {})", E, config.heads,
             config.depth);
  HIPT_CHECK(pos_grid > 0, "VisionTransformer: img_size {} gives an empty positional grid", config.img_size);
  cls_token = register_parameter("cls_token", ops::zeros({1, 1, E}, config.dtype));
  pos_embed = register_parameter("pos_embed", ops::zeros({1, 1 + pos_grid * pos_grid, E}, config.dtype));
  pos_drop = register_module("pos_drop", std::make_shared<nn::Dropout>(config.drop, gen_));
}

void VitBackbone::add_blocks_and_init() {
  const VitConfig& c = config_;
  blocks = register_module("blocks", std::make_shared<nn::ModuleList<nn::Block>>());
  for (int64_t i = 0; i < c.depth; ++i) {
    // torch.linspace(0, drop_path, depth)[i]
    const double dp = c.depth > 1 ? c.drop_path * static_cast<double>(i) / static_cast<double>(c.depth - 1) : 0.0;
    blocks->append(std::make_shared<nn::Block>(c.embed_dim, c.heads, c.mlp_ratio, c.drop, c.attn_drop, dp, init_gen_,
                                               gen_, c.dtype));
  }
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(c.embed_dim, 1e-6, c.dtype));
  if (!c.init) return;
  // DINO: trunc_normal_(std .02) on pos_embed, cls_token and every Linear weight (the 2-d
  // parameters), zero Linear biases; LayerNorm keeps 1 / 0; the patch conv keeps Conv2d's init.
  for (const nn::Parameter& p : named_parameters()) {
    if (p.name.rfind("patch_embed.", 0) == 0) continue;
    if (p.name == "cls_token" || p.name == "pos_embed" || p.tensor.dim() == 2)
      ops::copy_(p.tensor, ops::trunc_normal(p.tensor.shape(), 0, 0.02, -2, 2, init_gen_, nn::init_dtype(p.tensor.dtype()),
                                             p.tensor.device()));
    else if (p.name.size() > 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0)
      ops::fill_(p.tensor, 0);
  }
}

// The reference (DINO interpolate_pos_encoding): bicubic, align_corners=False, scale_factor
// ((rows + 0.1)/g, (cols + 0.1)/g) — the +0.1 keeps floor(g·scale) at rows despite rounding,
// and PyTorch's kernel uses the given scale, not rows/g, for the source coordinates.
Tensor VitBackbone::interpolated_pos_embed(int64_t rows, int64_t cols) const {
  const int64_t N = pos_embed.size(1) - 1, E = pos_embed.size(2), g = pos_grid_;
  HIPT_CHECK(rows > 0 && cols > 0, "VisionTransformer: empty token grid {}x{}", rows, cols);
  if (rows * cols == N && rows == cols) return pos_embed;

  auto resize = [&]() {
    Tensor grid = permute(reshape(slice(pos_embed, 1, 1, 1 + N), {1, g, g, E}), {0, 3, 1, 2});
    const double sh = (static_cast<double>(rows) + 0.1) / static_cast<double>(g);
    const double sw = (static_cast<double>(cols) + 0.1) / static_cast<double>(g);
    // A bf16 table is resized in f32 (bicubic has no bf16 kernel) and cast back.
    const bool bf16 = grid.dtype() == DType::BF16;
    Tensor r = bicubic_resize(contiguous(bf16 ? ops::cast(grid, DType::F32) : grid), sh, sw);
    if (bf16) r = ops::cast(r, DType::BF16);
    HIPT_CHECK(r.size(2) == rows && r.size(3) == cols, "VisionTransformer: pos_embed resized to {}x{}, want {}x{}",
               r.size(2), r.size(3), rows, cols);
    r = reshape(permute(r, {0, 2, 3, 1}), {1, rows * cols, E});
    return cat({slice(pos_embed, 1, 0, 1), r}, 1);
  };
  if (needs_graph(pos_embed)) return resize();  // training: the gradient flows back to the 14×14 table

  std::lock_guard<std::mutex> lock(cache_mutex_);
  const size_t bytes = static_cast<size_t>(pos_embed.numel()) * dtype_size(pos_embed.dtype());
  // The cache key is the table's bytes, compared on the host: a GPU table is copied back (it is
  // small next to one forward pass); a CPU table is read in place.
  Tensor current = ops::contiguous(pos_embed).to(Device{});
  auto it = pos_cache_.find({rows, cols});
  if (it != pos_cache_.end() && std::memcmp(it->second.source.raw_data(), current.raw_data(), bytes) == 0)
    return it->second.resized;
  Tensor resized = resize();
  pos_cache_[{rows, cols}] = CachedPos{ops::clone(current), resized};
  return resized;
}

Tensor VitBackbone::encode(const Tensor& tokens, int64_t rows, int64_t cols, Tensor* last_attention,
                           bool cls_row) const {
  const int64_t B = tokens.size(0), E = embed_dim();
  Tensor x = cat({expand(cls_token, {B, 1, E}), tokens}, 1);
  x = pos_drop->forward(add(x, interpolated_pos_embed(rows, cols)));
  const size_t last = blocks->size() - 1;
  for (size_t i = 0; i < last; ++i) x = (*blocks)[i]->forward(x);
  // Attention, projection, MLP and LayerNorm act per query token, and only [CLS] is returned, so the
  // last block runs its other tokens only as keys and values (unless their attention rows are asked).
  const bool cls_only = last_attention == nullptr || cls_row;
  x = (*blocks)[last]->forward(x, last_attention, cls_only);
  return norm->forward(select(x, 1, 0));
}

// ---------------------------------------------------------------- ViT-256

VisionTransformer::VisionTransformer(const VitConfig& c) : VitBackbone(c, c.patch > 0 ? c.img_size / c.patch : 0) {
  patch_embed = register_module("patch_embed", std::make_shared<nn::PatchEmbed>(c.patch, c.in_chans, c.embed_dim,
                                                                                init_gen_, c.dtype));
  add_blocks_and_init();
}

Tensor VisionTransformer::forward(const Tensor& x, Tensor* last_attention, bool cls_row) const {
  HIPT_CHECK(x.dim() == 4 && x.size(1) == config_.in_chans && x.size(2) > 0 && x.size(3) > 0,
             "VisionTransformer: x must be [B, {}, H, W], got {}", config_.in_chans, x.str());
  Tensor tokens = patch_embed->forward(x);
  return encode(tokens, x.size(2) / config_.patch, x.size(3) / config_.patch, last_attention, cls_row);
}

Tensor VisionTransformer::last_selfattention(const Tensor& x) const {
  Tensor attn;
  forward(x, &attn);
  return attn;
}

// ---------------------------------------------------------------- ViT-4K

Phi::Phi(int64_t in, int64_t out, double drop_p, Generator& init, nn::GeneratorPtr gen, DType dtype) {
  fc = register_module("0", std::make_shared<nn::Linear>(in, out, true, init, dtype));
  act = register_module("1", std::make_shared<nn::GELU>());
  drop = register_module("2", std::make_shared<nn::Dropout>(drop_p, std::move(gen)));
}

Tensor Phi::forward(const Tensor& x) const { return drop->forward(act->forward(fc->forward(x))); }

// The reference builds num_patches = (img_size // 16)^2 whatever patch_size it is given.
VisionTransformer4K::VisionTransformer4K(const VitConfig& c) : VitBackbone(c, c.img_size / 16) {
  phi = register_module("phi", std::make_shared<Phi>(c.in_chans, c.embed_dim, c.drop, init_gen_, gen_, c.dtype));
  add_blocks_and_init();
}

Tensor VisionTransformer4K::forward(const Tensor& x, Tensor* last_attention, bool cls_row) const {
  HIPT_CHECK(x.dim() == 4 && x.size(1) == config_.in_chans && x.size(2) > 0 && x.size(3) > 0,
             "VisionTransformer4K: x must be [B, {}, Hg, Wg], got {}", config_.in_chans, x.str());
  const int64_t B = x.size(0), rows = x.size(2), cols = x.size(3);
  // flatten(2, 3).transpose(1, 2): a transposed view, which the GEMM in phi reads without a copy.
  Tensor tokens = transpose(reshape(x, {B, config_.in_chans, rows * cols}), 1, 2);
  return encode(phi->forward(tokens), rows, cols, last_attention, cls_row);
}

Tensor VisionTransformer4K::last_selfattention(const Tensor& x) const {
  Tensor attn;
  forward(x, &attn);
  return attn;
}

// ---------------------------------------------------------------- configurations

VitConfig vit256_small_config() { return VitConfig{}; }

VitConfig vit4k_xs_config() {
  VitConfig c;
  c.embed_dim = 192;
  c.depth = 6;
  c.heads = 6;
  c.in_chans = 384;
  return c;
}

VitConfig vit_tiny_config() {
  VitConfig c;
  c.embed_dim = 192;
  c.heads = 3;
  return c;
}

VitConfig vit_base_config() {
  VitConfig c;
  c.embed_dim = 768;
  c.heads = 12;
  return c;
}

std::shared_ptr<VisionTransformer> vit256_small(uint64_t seed, bool init, DType dtype) {
  VitConfig c = vit256_small_config();
  c.seed = seed;
  c.init = init;
  c.dtype = dtype;
  return std::make_shared<VisionTransformer>(c);
}

std::shared_ptr<VisionTransformer4K> vit4k_xs(uint64_t seed, bool init, DType dtype) {
  VitConfig c = vit4k_xs_config();
  c.seed = seed;
  c.init = init;
  c.dtype = dtype;
  return std::make_shared<VisionTransformer4K>(c);
}

}  // namespace hipt
