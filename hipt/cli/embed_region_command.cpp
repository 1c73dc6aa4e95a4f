// hipt embed-region: one region image -> HIPT-4K features (patch_features [N, 384], region_feature
// [192]) in a .safetensors file, with both ViTs loaded from the released checkpoints.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "hipt/cli/commands.h"
#include "hipt/models/region_encoder.h"
#include "hipt/pipeline/progress.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "tensor/parallel.h"

namespace hipt {
namespace {

// A region PNG -> patch_features [N, 384] and region_feature [192] (.safetensors).
struct EmbedRegionOptions {
  EmbedRegionOptions() { model.batch = 16; }  // one region: small batches keep progress moving
  std::string image, out;
  ModelOptions model;
  bool attention = false;  // also write the last-block attention maps of both ViTs
};

int run_embed_region(const EmbedRegionOptions& opts) {
  namespace fs = std::filesystem;
  const ComputeTarget target = check_compute_flags(opts.model);
  if (opts.model.threads > 0) set_num_threads(opts.model.threads);
  // Read everything that can fail before the long forward pass.
  Tensor region = io::read_png_rgb(opts.image);
  HIPT_CHECK(region.size(0) >= 256 && region.size(1) >= 256, "{}: region is {}x{}; HIPT needs at least 256x256",
             opts.image, region.size(1), region.size(0));
  const LoadedVits vits = load_vits(opts.model, target);

  RegionEncoderOptions enc_opts;
  enc_opts.batch = opts.model.batch;
  enc_opts.attention = opts.attention ? AttentionMaps::ClsRow : AttentionMaps::None;
  const int64_t rows = region.size(0) / 256, cols = region.size(1) / 256;
  Progress progress("embed-region", rows * cols, "patches");
  enc_opts.on_patches_done = [&](int64_t done) { progress.update(done); };
  RegionEncoder encoder(vits.vit256, vits.vit4k, enc_opts);
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
      {"vit256", fs::path(opts.model.vit256).filename().string()},
      {"vit4k", fs::path(opts.model.vit4k).filename().string()},
      {"rows", std::to_string(e.rows)},
      {"cols", std::to_string(e.cols)},
      {"crop_top", std::to_string(e.crop_top)},
      {"crop_left", std::to_string(e.crop_left)},
      {"device", target.device.str()},
      {"precision", target.precision},
      {"written_by", std::string("hipt embed-region ") + HIPT_VERSION},
  };
  io::write_safetensors(opts.out, out, metadata);
  fmt::print("{{\"out\": \"{}\", \"patches\": {}, \"rows\": {}, \"cols\": {}, \"crop_top\": {}, \"crop_left\": {}, "
             "\"seconds\": {:.2f}}}\n",
             opts.out, e.rows * e.cols, e.rows, e.cols, e.crop_top, e.crop_left, seconds);
  return 0;
}

}  // namespace

Command add_embed_region_command(CLI::App& app) {
  auto opts = std::make_shared<EmbedRegionOptions>();
  CLI::App* cmd = app.add_subcommand("embed-region",
                                     "HIPT-4K features of one region image (PNG, at least 256x256; 4096x4096 at 20x is "
                                     "the paper's setting) as .safetensors");
  cmd->add_option("--image", opts->image, "Region image (RGB or RGBA PNG; alpha is dropped)")->required();
  add_model_flags(cmd, opts->model);
  cmd->add_option("--out", opts->out, "Output .safetensors (patch_features [N,384], region_feature [192])")
      ->required();
  cmd->add_flag("--attention", opts->attention,
                "Also write patch_attention [N,6,256] and region_attention [6,N+1,N+1] (last blocks)");
  return {cmd, [opts] { return run_embed_region(*opts); }};
}

}  // namespace hipt
