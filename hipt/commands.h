// The subcommands of the hipt CLI, one function each (hipt/main.cpp parses the flags).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace hipt {

int run_doctor();

struct DemoOptions {
  int steps = 1000;
  uint64_t seed = 0;
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

// hipt tiles: tissue segmentation and the region grid of one slide (hipt/tiles_command.cpp).
struct TilesOptions {
  std::string slide, out_csv, mask_png, thumbnail_png;
  int64_t size = 4096;                  // region side at the target magnification
  std::optional<int64_t> step;          // at the target magnification; default: size
  double target_mag = 20;
  std::optional<double> magnification;  // the scan's; default from the slide's properties
  double min_tissue = 0;
  int seg_level = -1;                   // -1: best level for downsample 64 (CLAM)
  bool otsu = false, no_padding = false;
  int sthresh = 8, mthresh = 7, close = 4, max_n_holes = 8;
  double a_t = 100, a_h = 16;
};
int run_tiles(const TilesOptions& opts);
// Writes the backbone state dict of `input` (hipt/checkpoint.h rules) to `output` (.safetensors).
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

}  // namespace hipt
