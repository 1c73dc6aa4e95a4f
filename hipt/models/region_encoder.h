// The HIPT-4K region encoder (reference HIPT_4K.forward, hipt-model.md §5): an RGB region becomes
// one 192-d vector through both ViTs.
//
//   u8 [H, W, 3] -> x/255 -> (x - 0.5)/0.5 -> centre crop to multiples of 256 (torchvision offsets)
//   -> 256-px patches, row-major -> ViT-256 in minibatches -> [N, 384]
//   -> grid [1, 384, rows, cols] (G[c, i, j] = F[i·cols + j, c]) -> ViT-4K -> [192]
//
// The ViTs run where their parameters are (nn::Module::to) and in their dtype (f32, or bf16 on a
// GPU): the region is normalised on the CPU, each batch is copied to the device, and every result
// comes back as f32 on the CPU.
#pragma once
#include <functional>
#include <memory>

#include "hipt/models/vit.h"

namespace hipt {

enum class AttentionMaps {
  None,    // no maps kept
  ClsRow,  // ViT-256: the [CLS] query row over the patch tokens [N, heads, 256]; ViT-4K in full
  Full,    // ViT-256: [N, heads, 257, 257] (about 1.6 MB per patch); ViT-4K in full
};

struct RegionEncoderOptions {
  int64_t batch = 256;  // ViT-256 patches per forward (the reference runs a whole region at once)
  AttentionMaps attention = AttentionMaps::ClsRow;
  // Called after each ViT-256 minibatch with the number of patches encoded so far (for progress).
  std::function<void(int64_t patches_done)> on_patches_done;
};

struct RegionEmbedding {
  // All f32 on the CPU.
  Tensor patch_features;    // [N, 384], N = rows·cols, row-major patches
  Tensor region_feature;    // [192]
  Tensor patch_attention;   // ViT-256 last block: [N, 6, 256] (ClsRow) or [N, 6, 257, 257] (Full)
  Tensor region_attention;  // ViT-4K last block: [6, N+1, N+1]
  int64_t rows = 0, cols = 0;              // the patch grid
  int64_t crop_top = 0, crop_left = 0;     // where the cropped region starts in the input
  double seconds_vit256 = 0, seconds_vit4k = 0;  // wall time of each stage (benchmarks, summaries)
};

// torchvision CenterCrop's offset: int(round((size - crop) / 2.0)), Python's round (half to even).
int64_t center_crop_offset(int64_t size, int64_t crop);

class RegionEncoder {
 public:
  // Puts both models in eval mode (as the reference does).
  RegionEncoder(std::shared_ptr<VisionTransformer> vit256, std::shared_ptr<VisionTransformer4K> vit4k,
                RegionEncoderOptions options = {});
  // region u8 [H, W, 3], H and W >= 256. Runs without recording a graph.
  RegionEmbedding encode(const Tensor& region) const;

  const std::shared_ptr<VisionTransformer>& vit256() const { return vit256_; }
  const std::shared_ptr<VisionTransformer4K>& vit4k() const { return vit4k_; }

 private:
  std::shared_ptr<VisionTransformer> vit256_;
  std::shared_ptr<VisionTransformer4K> vit4k_;
  RegionEncoderOptions options_;
};

}  // namespace hipt
