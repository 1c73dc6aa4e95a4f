// hipt heatmap: the hierarchical attention heatmaps of one region (reference:
// HIPT_4K/hipt_4k.py get_region_attention_heatmaps). Reads the region from the slide, runs both
// ViTs keeping the last blocks' [CLS] attention, and writes per head a ViT-256 and a ViT-4K map
// blended over the region (hipt/pipeline/heatmap.h does the maths), the region itself, and the raw maps.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "hipt/cli/commands.h"
#include "hipt/models/region_encoder.h"
#include "hipt/pipeline/heatmap.h"
#include "hipt/pipeline/progress.h"
#include "io/magnification.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "io/slide.h"
#include "tensor/parallel.h"

namespace hipt {

namespace {

constexpr int64_t kShift = 128;  // the reference's offset between smoothing passes, region pixels

ComputeTarget check_options(const HeatmapOptions& o) {
  const ComputeTarget target = check_compute_flags(o.model);
  HIPT_CHECK(o.size >= 256 && o.size % 256 == 0, "heatmap: --size {} must be a positive multiple of 256", o.size);
  HIPT_CHECK(o.scale >= 1 && 16 % o.scale == 0,
             "heatmap: --scale {} must divide 16 (1, 2, 4, 8 or 16) so that a ViT-256 token covers whole pixels",
             o.scale);
  HIPT_CHECK(o.alpha >= 0 && o.alpha <= 1, "heatmap: --alpha {} must lie in [0, 1]", o.alpha);
  return target;
}

std::string region_stem(const HeatmapOptions& o) {
  return fmt::format("{}_x{}_y{}", std::filesystem::path(o.slide).stem().string(), o.x, o.y);
}

}  // namespace

int run_heatmap(const HeatmapOptions& opts) {
  namespace fs = std::filesystem;
  const ComputeTarget target = check_options(opts);
  const heatmap::Colormap cmap = heatmap::colormap_by_name(opts.cmap);
  if (opts.model.threads > 0) set_num_threads(opts.model.threads);

  // Everything that can fail comes before the forward passes.
  auto slide = io::Slide::open(opts.slide);
  TilingOptions tiling;
  tiling.size = opts.size, tiling.target_mag = opts.target_mag, tiling.magnification = opts.magnification;
  const RegionPlan geometry = region_geometry(*slide, opts.slide, tiling);
  const io::SlideLevel& l0 = slide->level(0);
  HIPT_CHECK(opts.x >= 0 && opts.y >= 0 && opts.x < l0.width && opts.y < l0.height,
             "{}: region corner ({}, {}) lies outside level 0 ({}x{})", opts.slide, opts.x, opts.y, l0.width,
             l0.height);
  const LoadedVits vits = load_vits(opts.model, target);
  const Tensor region = io::read_region_at_target_mag(*slide, opts.x, opts.y, geometry.magnification, opts.size,
                                                      /*white_background=*/false, opts.target_mag);
  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  HIPT_CHECK(fs::is_directory(opts.out_dir), "heatmap: --out {}: cannot create the folder{}", opts.out_dir,
             ec ? " (" + ec.message() + ")" : "");
  const int64_t rows = opts.size / 256, cols = opts.size / 256, side = opts.size / opts.scale;

  // Pass k sees the region moved up-left by k·128 px. The ViT-4K maps average 4 passes and the
  // ViT-256 maps 2, as the reference intends (its class method re-encodes the unshifted region
  // four times: hipt-model.md §5).
  const int passes = opts.smooth ? 4 : 1;
  const int64_t heads = 6;  // both released configurations
  std::vector<heatmap::PassAverage> maps4k(heads, {side, side}), maps256(heads, {side, side});
  Tensor raw256, raw4k;
  const auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < passes; ++k) {
    const int64_t shift = k * kShift;
    fmt::print(stderr, "heatmap: pass {}/{} (region moved up-left by {} px)\n", k + 1, passes, shift);
    Progress progress(fmt::format("heatmap pass {}", k + 1), rows * cols, "patches");
    RegionEncoder encoder(vits.vit256, vits.vit4k,
                          {opts.model.batch, AttentionMaps::ClsRow, [&](int64_t done) { progress.update(done); }});
    const RegionEmbedding e = encoder.encode(k == 0 ? region : heatmap::shift_up_left(region, shift));
    progress.finish();
    for (int64_t h = 0; h < heads; ++h) {
      maps4k[h].add(heatmap::region_rank_map(e.region_attention, h, rows, cols, opts.scale), shift / opts.scale);
      if (k < 2) maps256[h].add(heatmap::patch_rank_map(e.patch_attention, h, rows, cols, opts.scale), shift / opts.scale);
    }
    if (k == 0) {
      raw256 = heatmap::stitch_patch_attention(e.patch_attention, rows, cols);
      raw4k = heatmap::region_cls_attention(e.region_attention, rows, cols);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Outputs.
  const std::string stem = (fs::path(opts.out_dir) / region_stem(opts)).string();
  const Tensor background = heatmap::downscale(region, opts.scale);
  nlohmann::json files;
  files["region"] = stem + "_region.png";
  io::write_png(files["region"], background);
  auto write_map = [&](const heatmap::ScoreMap& scores, const std::string& path) {
    io::write_png(path, heatmap::blend(heatmap::colorize(scores, cmap), background, opts.alpha));
    return path;
  };
  for (int64_t h = 0; h < heads; ++h) {
    files["vit256"].push_back(write_map(maps256[h].scores(), fmt::format("{}_256_head{}.png", stem, h)));
    files["vit4k"].push_back(write_map(maps4k[h].scores(), fmt::format("{}_4k_head{}.png", stem, h)));
  }
  if (opts.factorized)
    for (int64_t j = 0; j < heads; ++j)
      for (int64_t i = 0; i < heads; ++i)
        files["factorized"].push_back(write_map(heatmap::factorized_scores(maps4k[j], maps256[i]),
                                                fmt::format("{}_factorized_4k_head{}_256_head{}.png", stem, j, i)));
  files["attention"] = stem + "_attention.safetensors";
  io::write_safetensors(files["attention"], {{"vit256", raw256}, {"vit4k", raw4k}},
                        {{"slide", fs::path(opts.slide).filename().string()},
                         {"x", std::to_string(opts.x)},
                         {"y", std::to_string(opts.y)},
                         {"size", std::to_string(opts.size)},
                         {"target_mag", fmt::format("{}", opts.target_mag)},
                         {"magnification", fmt::format("{}", geometry.magnification)},
                         {"rows", std::to_string(rows)},
                         {"cols", std::to_string(cols)},
                         {"vit256_checkpoint", fs::path(opts.model.vit256).filename().string()},
                         {"vit4k_checkpoint", fs::path(opts.model.vit4k).filename().string()},
                         {"device", target.device.str()},
                         {"precision", target.precision},
                         {"layout", "vit256 [heads, rows*16, cols*16]: [CLS]->token, unshifted pass; "
                                    "vit4k [heads, rows, cols]: [CLS]->cell"},
                         {"written_by", std::string("hipt heatmap ") + HIPT_VERSION}});

  nlohmann::json summary = {{"slide", opts.slide}, {"x", opts.x},           {"y", opts.y},
                            {"size", opts.size},   {"scale", opts.scale},   {"image_size", side},
                            {"rows", rows},        {"cols", cols},          {"passes", passes},
                            {"device", target.device.str()}, {"precision", target.precision},
                            {"seconds", std::round(seconds * 100) / 100},   {"files", files}};
  fmt::print("{}\n", summary.dump());
  return 0;
}

Command add_heatmap_command(CLI::App& app) {
  auto opts = std::make_shared<HeatmapOptions>();
  CLI::App* cmd = app.add_subcommand(
      "heatmap", "Attention heatmaps of one region: ViT-256 and ViT-4K last-block [CLS] attention per head, "
                 "percentile-ranked and blended over the region (PNGs), the raw maps (.safetensors), JSON on stdout");
  cmd->add_option("slide", opts->slide, "Slide file (Aperio .svs or tiled TIFF)")->required();
  add_model_flags(cmd, opts->model);
  cmd->add_option("--out", opts->out_dir, "Output folder (created if missing)")->required();
  cmd->add_option("--x", opts->x, "Left edge of the region, level-0 pixels")->required();
  cmd->add_option("--y", opts->y, "Top edge of the region, level-0 pixels")->required();
  cmd->add_option("--size", opts->size, "Region side at the target magnification (multiple of 256)");
  add_positive_real_option(cmd, "--target-mag", opts->target_mag, "Target magnification");
  cmd->add_option("--magnification", opts->magnification, "The scan's magnification (default: from the slide)");
  cmd->add_option("--scale", opts->scale, "Images are size/scale pixels; must divide 16");
  cmd->add_flag("--smooth", opts->smooth, "Average the reference's shifted re-encodings (4 passes)");
  cmd->add_flag("--factorized", opts->factorized, "Also the 36 pooled ViT-4K x ViT-256 maps");
  cmd->add_option("--alpha", opts->alpha, "Weight of the heatmap in the blend");
  cmd->add_option("--cmap", opts->cmap, "Colormap: jet (lightened, as the reference)");
  return {cmd, [opts] { return run_heatmap(*opts); }};
}

}  // namespace hipt
