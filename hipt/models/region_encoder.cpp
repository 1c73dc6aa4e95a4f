#include "hipt/models/region_encoder.h"

#include <array>
#include <chrono>
#include <cmath>
#include <vector>

#include "tensor/parallel.h"

namespace hipt {

namespace {
constexpr int64_t kPatch = 256;

// ToTensor then Normalize(0.5, 0.5), each step in float32 as torchvision computes it, as a table.
std::array<float, 256> normalise_table() {
  std::array<float, 256> t{};
  for (int v = 0; v < 256; ++v) t[static_cast<size_t>(v)] = (static_cast<float>(v) / 255.0f - 0.5f) / 0.5f;
  return t;
}

// Patches [first, first + count) of the cropped region as x [count, 3, 256, 256], normalised.
Tensor patch_batch(const uint8_t* rgb, int64_t width, int64_t top, int64_t left, int64_t cols, int64_t first,
                   int64_t count) {
  static const std::array<float, 256> lut = normalise_table();
  Tensor x = ops::empty({count, 3, kPatch, kPatch});
  float* out = x.data<float>();
  parallel_for(0, count * kPatch, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {  // r = one pixel row of one patch
      const int64_t n = r / kPatch, y = r % kPatch, k = first + n;
      const uint8_t* src = rgb + ((top + (k / cols) * kPatch + y) * width + left + (k % cols) * kPatch) * 3;
      for (int64_t c = 0; c < 3; ++c) {
        float* dst = out + ((n * 3 + c) * kPatch + y) * kPatch;
        for (int64_t x_ = 0; x_ < kPatch; ++x_) dst[x_] = lut[src[x_ * 3 + c]];
      }
    }
  });
  return x;
}

// A result as the caller gets it: f32 on the CPU, whatever device and dtype the models ran in.
Tensor to_host_f32(const Tensor& t) { return t.defined() ? ops::cast(t, DType::F32).to(Device{}) : t; }
}  // namespace

int64_t center_crop_offset(int64_t size, int64_t crop) {
  const double half = static_cast<double>(size - crop) / 2.0;
  return static_cast<int64_t>(std::nearbyint(half));  // default rounding mode: half to even, as Python
}

RegionEncoder::RegionEncoder(std::shared_ptr<VisionTransformer> vit256, std::shared_ptr<VisionTransformer4K> vit4k,
                             RegionEncoderOptions options)
    : vit256_(std::move(vit256)), vit4k_(std::move(vit4k)), options_(options) {
  HIPT_CHECK(vit256_ && vit4k_, "region encoder: both ViTs are needed");
  HIPT_CHECK(options_.batch > 0, "region encoder: batch must be positive, got {}", options_.batch);
  HIPT_CHECK(vit256_->config().in_chans == 3, "region encoder: ViT-256 must take RGB (3 channels), not {}",
             vit256_->config().in_chans);
  HIPT_CHECK(vit256_->embed_dim() == vit4k_->config().in_chans,
             "region encoder: ViT-256 gives {}-d features but ViT-4K takes {}", vit256_->embed_dim(),
             vit4k_->config().in_chans);
  vit256_->eval();
  vit4k_->eval();
}

RegionEmbedding RegionEncoder::encode(const Tensor& region) const {
  NoGradGuard no_grad;
  HIPT_CHECK(region.dtype() == DType::U8 && region.dim() == 3 && region.size(2) == 3,
             "region encoder: region must be u8 [H, W, 3] RGB, got {}", region.str());
  const int64_t H = region.size(0), W = region.size(1);
  HIPT_CHECK(H >= kPatch && W >= kPatch, "region encoder: region {}x{} is smaller than one {}-px patch", H, W, kPatch);
  Tensor rgb = ops::contiguous(region);

  RegionEmbedding e;
  e.rows = H / kPatch;
  e.cols = W / kPatch;
  e.crop_top = center_crop_offset(H, e.rows * kPatch);
  e.crop_left = center_crop_offset(W, e.cols * kPatch);
  const int64_t N = e.rows * e.cols;

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  // The models' device and dtype: each batch is normalised on the CPU, then copied there (and cast
  // to bf16 on the device for a bf16 model); features stay there until ViT-4K has run.
  const Device device = vit256_->cls_token.device();
  const DType dtype = vit256_->cls_token.dtype();
  HIPT_CHECK(vit4k_->cls_token.device() == device && vit4k_->cls_token.dtype() == dtype,
             "region encoder: ViT-256 {} and ViT-4K {} must share one device and dtype", vit256_->cls_token.str(),
             vit4k_->cls_token.str());
  std::vector<Tensor> features, maps;
  for (int64_t first = 0; first < N; first += options_.batch) {
    const int64_t count = std::min(options_.batch, N - first);
    Tensor x = patch_batch(rgb.data<uint8_t>(), W, e.crop_top, e.crop_left, e.cols, first, count);
    x = ops::cast(x.to(device), dtype);
    Tensor attn;
    features.push_back(vit256_->forward(x, options_.attention == AttentionMaps::None ? nullptr : &attn,
                                        options_.attention == AttentionMaps::ClsRow));
    if (options_.attention == AttentionMaps::ClsRow)  // [b, heads, 1, 257] -> the 256 patch tokens
      maps.push_back(ops::contiguous(ops::slice(ops::select(attn, 2, 0), 2, 1, attn.size(3))));
    else if (options_.attention == AttentionMaps::Full)
      maps.push_back(attn);
    if (options_.on_patches_done) options_.on_patches_done(first + count);
  }
  e.patch_features = features.size() == 1 ? features[0] : ops::cat(features, 0);
  if (!maps.empty()) e.patch_attention = maps.size() == 1 ? maps[0] : ops::cat(maps, 0);

  const Clock::time_point vit256_done = Clock::now();
  e.seconds_vit256 = std::chrono::duration<double>(vit256_done - start).count();

  // G[c, i, j] = F[i·cols + j, c]
  Tensor grid = ops::reshape(ops::transpose(e.patch_features, 0, 1), {1, e.patch_features.size(1), e.rows, e.cols});
  Tensor attn4k;
  e.region_feature = ops::select(vit4k_->forward(grid, options_.attention == AttentionMaps::None ? nullptr : &attn4k),
                                 0, 0);
  if (attn4k.defined()) e.region_attention = ops::select(attn4k, 0, 0);
  for (Tensor* t : {&e.patch_features, &e.region_feature, &e.patch_attention, &e.region_attention})
    *t = to_host_f32(*t);
  e.seconds_vit4k = std::chrono::duration<double>(Clock::now() - vit256_done).count();
  return e;
}

}  // namespace hipt
