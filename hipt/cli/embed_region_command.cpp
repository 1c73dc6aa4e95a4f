// hipt embed-region: one region image -> HIPT-4K features (patch_features [N, 384], region_feature
// [192]) in a .safetensors file, with both ViTs loaded from the released checkpoints.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>

#include "hipt/cli/commands.h"
#include "hipt/models/checkpoint.h"
#include "hipt/models/region_encoder.h"
#include "hipt/pipeline/progress.h"
#include "io/png.h"
#include "io/safetensors.h"

namespace hipt {

int run_embed_region(const EmbedRegionOptions& opts) {
  namespace fs = std::filesystem;
  // Read everything that can fail before the long forward pass.
  Tensor region = io::read_png_rgb(opts.image);
  HIPT_CHECK(region.size(0) >= 256 && region.size(1) >= 256, "{}: region is {}x{}; HIPT needs at least 256x256",
             opts.image, region.size(1), region.size(0));
  auto vit256 = vit256_small(0, /*init=*/false);
  auto vit4k = vit4k_xs(0, /*init=*/false);
  load_backbone(*vit256, opts.vit256, opts.student);
  load_backbone(*vit4k, opts.vit4k, opts.student);

  RegionEncoderOptions enc_opts;
  enc_opts.batch = opts.batch;
  enc_opts.attention = opts.attention ? AttentionMaps::ClsRow : AttentionMaps::None;
  const int64_t rows = region.size(0) / 256, cols = region.size(1) / 256;
  Progress progress("embed-region", rows * cols, "patches");
  enc_opts.on_patches_done = [&](int64_t done) { progress.update(done); };
  RegionEncoder encoder(vit256, vit4k, enc_opts);
  auto start = std::chrono::steady_clock::now();
  RegionEmbedding e = encoder.encode(region);
  progress.finish();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  io::TensorMap out = {{"patch_features", e.patch_features}, {"region_feature", e.region_feature}};
  if (opts.attention) {
    out["patch_attention"] = e.patch_attention;
    out["region_attention"] = e.region_attention;
  }
  std::map<std::string, std::string> metadata = {
      {"image", fs::path(opts.image).filename().string()},
      {"vit256", fs::path(opts.vit256).filename().string()},
      {"vit4k", fs::path(opts.vit4k).filename().string()},
      {"rows", std::to_string(e.rows)},
      {"cols", std::to_string(e.cols)},
      {"crop_top", std::to_string(e.crop_top)},
      {"crop_left", std::to_string(e.crop_left)},
      {"written_by", std::string("hipt embed-region ") + HIPT_VERSION},
  };
  io::write_safetensors(opts.out, out, metadata);
  fmt::print("{{\"out\": \"{}\", \"patches\": {}, \"rows\": {}, \"cols\": {}, \"crop_top\": {}, \"crop_left\": {}, "
             "\"seconds\": {:.2f}}}\n",
             opts.out, e.rows * e.cols, e.rows, e.cols, e.crop_top, e.crop_left, seconds);
  return 0;
}

}  // namespace hipt
