// The subcommands of the hipt CLI, one function each (hipt/cli/main.cpp parses the flags).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hipt/pipeline/tiling.h"

namespace hipt {

int run_doctor();

// hipt demo (hipt/cli/demo.cpp): a synthetic slide (unless `slide`), random-init weights (unless
// `vit256`/`vit4k`), then tiles -> embed -> heatmap of the first region, all under out_dir.
struct DemoOptions {
  std::string slide;          // "": write out_dir/synthetic.svs and use it
  std::string vit256, vit4k;  // both or neither; neither: untrained weights in out_dir/weights/
  std::string out_dir = "hipt-demo";
  uint64_t seed = 0;          // the synthetic slide's textures and the weights' initialisation
  int64_t max_regions = 3;    // regions embedded, the first in CLAM's order; 0: all
  int64_t size = 4096;        // region side at 20x (the paper's 4096; tests use 512)
};
int run_demo(const DemoOptions& opts);

// hipt info SLIDE: one JSON object (vendor, level_count, levels, properties, associated_images).
int run_slide_info(const std::string& path);

struct ReadRegionOptions {
  std::string slide, out;
  int level = 0;
  int64_t x = 0, y = 0, width = 0, height = 0;
};
// hipt read-region: an RGBA PNG of the region, written atomically.
int run_read_region(const ReadRegionOptions& opts);

// hipt tiles: tissue segmentation and the region grid of one slide (hipt/cli/tiles_command.cpp).
struct TilesOptions {
  std::string slide, out_csv, mask_png, thumbnail_png;
  TilingOptions tiling;
};
int run_tiles(const TilesOptions& opts);
// Writes the backbone state dict of `input` (hipt/models/checkpoint.h rules) to `output` (.safetensors).
struct ConvertCheckpointOptions {
  std::string input, output;
  bool student = false;
};
int run_convert_checkpoint(const ConvertCheckpointOptions& opts);

// hipt embed-region: a region PNG -> patch_features [N, 384] and region_feature [192] (.safetensors).
struct EmbedRegionOptions {
  std::string image, vit256, vit4k, out;
  int64_t batch = 16;      // ViT-256 patches per forward; bounds memory, and progress moves per batch
  bool student = false;    // DINO student weights instead of the teacher
  bool attention = false;  // also write the last-block attention maps of both ViTs
};
int run_embed_region(const EmbedRegionOptions& opts);

// hipt embed: whole slides -> tissue -> regions -> HIPT-4K features, one .safetensors per slide
// in out_dir (hipt/cli/embed_command.cpp). Returns 0 when every slide succeeded (or was skipped as
// already done), 1 when any failed (each failure is reported in the JSON summary and on stderr).
struct EmbedOptions {
  std::vector<std::string> slides;
  std::string vit256, vit4k, out_dir;
  std::string device = "cpu";  // "cpu" or "cuda"
  int threads = 0;             // 0: HIPT_NUM_THREADS, else every hardware thread
  int64_t batch = 64;          // ViT-256 patches per forward
  bool student = false;        // DINO student weights instead of the teacher
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
  std::string slide, vit256, vit4k, out_dir;
  int64_t x = 0, y = 0;        // level-0 top-left of the region
  int64_t size = 4096;         // region side at target_mag
  double target_mag = 20;
  std::optional<double> magnification;  // the scan's; default from the slide's properties
  int64_t scale = 4;           // output images are size/scale pixels wide
  bool smooth = false;         // the reference's shifted re-encodings, averaged (4x the compute)
  double alpha = 0.5;          // weight of the heatmap in the blend
  std::string cmap = "jet";    // "jet" (lightened as the reference); the only one implemented
  std::string device = "cpu";
  int threads = 0;
  int64_t batch = 64;
  bool student = false;
  bool factorized = false;     // also the 36 pooled 4K x 256 maps (the reference's factorized_4k[j]_256[i])
};
int run_heatmap(const HeatmapOptions& opts);

// The --device flag of embed and heatmap: "cpu" passes; "cuda" is refused with the reason (no GPU,
// or the CUDA tensor backend not there yet); anything else names the flag (hipt/cli/embed_command.cpp).
void check_device_flag(const std::string& device);

}  // namespace hipt
