// The subcommands of the hipt CLI. Each command's file registers its subcommand and flags next to
// its body (add_*_command); hipt/cli/main.cpp lists them. The demo runs tiles, embed and heatmap
// in-process, hence their options and bodies here.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hipt/cli/flags.h"
#include "hipt/pipeline/tiling.h"

namespace hipt {

// A registered subcommand and what runs it once the command line is parsed into its flags.
struct Command {
  CLI::App* subcommand = nullptr;
  std::function<int()> run;
};

// In the order `hipt --help` lists them.
Command add_doctor_command(CLI::App& app);
Command add_demo_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_read_region_command(CLI::App& app);
Command add_tiles_command(CLI::App& app);
Command add_convert_checkpoint_command(CLI::App& app);
Command add_embed_region_command(CLI::App& app);
Command add_embed_command(CLI::App& app);
Command add_heatmap_command(CLI::App& app);
Command add_bench_attention_command(CLI::App& app);
Command add_train_slide_command(CLI::App& app);
Command add_predict_slide_command(CLI::App& app);
Command add_slide_heatmap_command(CLI::App& app);
Command add_pretrain_command(CLI::App& app);

// hipt tiles: tissue segmentation and the region grid of one slide (hipt/cli/tiles_command.cpp).
struct TilesOptions {
  std::string slide, out_csv, mask_png, thumbnail_png;
  TilingOptions tiling;
};
int run_tiles(const TilesOptions& opts);

// hipt embed: whole slides -> tissue -> regions -> HIPT-4K features, one .safetensors per slide
// in out_dir (hipt/cli/embed_command.cpp). Returns 0 when every slide succeeded (or was skipped as
// already done), 1 when any failed (each failure is reported in the JSON summary and on stderr).
struct EmbedOptions {
  std::vector<std::string> slides;
  std::string out_dir;
  ModelOptions model;          // batch 64
  bool overwrite = false;      // redo slides whose output exists
  std::string coords;          // "" (segment), a CSV/.h5 file (one slide), or a folder of <stem>.h5/.csv
  std::string shard;           // "i/N": this process takes slides i, i+N, ... ("" and not under MPI: all)
  int64_t prefetch = 2;        // regions decoded ahead of the encoder (bounds memory: ~48 MB each at 4096)
  bool white_background = false;  // regions past the slide edge white instead of CLAM's black
  TilingOptions tiling;
  int64_t save_every = 8;      // regions between saves of DIR/<stem>.safetensors.partial (resume point)
};
int run_embed(const EmbedOptions& opts);

// hipt heatmap: attention heatmaps of one region (hipt/cli/heatmap_command.cpp): the ViT-256 and
// ViT-4K last-block [CLS] attention per head, percentile-ranked, coloured and blended over the
// region, as PNGs in out_dir, plus the raw maps as .safetensors and a JSON summary on stdout.
struct HeatmapOptions {
  std::string slide, out_dir;
  ModelOptions model;          // batch 64
  int64_t x = 0, y = 0;        // level-0 top-left of the region
  int64_t size = 4096;         // region side at target_mag
  double target_mag = 20;
  std::optional<double> magnification;  // the scan's; default from the slide's properties
  int64_t scale = 4;           // output images are size/scale pixels wide
  bool smooth = false;         // the reference's shifted re-encodings, averaged (4x the compute)
  double alpha = 0.5;          // weight of the heatmap in the blend
  std::string cmap = "jet";    // "jet" (lightened as the reference); the only one implemented
  bool factorized = false;     // also the 36 pooled 4K x 256 maps (the reference's factorized_4k[j]_256[i])
};
int run_heatmap(const HeatmapOptions& opts);

// hipt slide-heatmap: a slide model's attention over the slide's regions, ranked and drawn on its
// thumbnail (hipt/cli/slide_heatmap_command.cpp).
struct SlideHeatmapOptions {
  std::string slide, model, features, out, device = "cpu", cmap = "jet";
  double downsample = 64, alpha = 0.5;
  int threads = 0;
};
int run_slide_heatmap(const SlideHeatmapOptions& opts);

// hipt demo --slide-level: a synthetic labelled cohort, train-slide, predict-slide and
// slide-heatmap under out_dir (hipt/cli/demo_slide_level.cpp).
int run_slide_level_demo(const std::string& out_dir, uint64_t seed);

}  // namespace hipt
