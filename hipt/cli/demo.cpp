// `hipt demo`: the whole pipeline on one slide in a few minutes, each step announced on stdout.
// Without arguments it makes its own inputs (a synthetic slide, untrained weights) and says
// plainly that its features mean nothing; with --slide/--vit256/--vit4k it runs on real data.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hipt/cli/commands.h"
#include "hipt/models/vit.h"
#include "hipt/pipeline/synthetic_slide.h"
#include "io/coords.h"
#include "io/safetensors.h"

namespace hipt {
namespace {

namespace fs = std::filesystem;

// A synthetic slide (unless `slide`), random-init weights (unless `vit256`/`vit4k`), then
// tiles -> embed -> heatmap of the first region, all under out_dir.
struct DemoOptions {
  std::string slide;          // "": write out_dir/synthetic.svs and use it
  std::string vit256, vit4k;  // both or neither; neither: untrained weights in out_dir/weights/
  std::string out_dir = "hipt-demo";
  uint64_t seed = 0;          // the synthetic slide's textures and the weights' initialisation
  int64_t max_regions = 3;    // regions embedded, the first in CLAM's order; 0: all
  int64_t size = 4096;        // region side at 20x (the paper's 4096; tests use 512)
  bool slide_level = false;   // the slide-level demo instead (run_slide_level_demo)
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void write_weights(const std::string& path, const nn::Module& model, uint64_t seed, const char* name) {
  io::TensorMap tensors;
  for (const auto& [key, t] : model.named_parameters()) tensors[key] = t;
  io::write_safetensors(path, tensors,
                        {{"model", name},
                         {"weights", "random: DINO's initialisation (trunc normal std 0.02), untrained"},
                         {"seed", std::to_string(seed)},
                         {"written_by", std::string("hipt demo ") + HIPT_VERSION}});
}

// Every file under `dir`, relative to it, with its size, in name order.
void list_files(const std::string& dir) {
  std::vector<std::pair<std::string, uintmax_t>> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) files.emplace_back(it->path().string(), it->file_size());
  std::sort(files.begin(), files.end());
  for (const auto& [path, bytes] : files) fmt::print("  {:<56} {:>10.1f} KB\n", path, double(bytes) / 1024);
}

int run_demo(const DemoOptions& o) {
  if (o.slide_level) {
    HIPT_CHECK(o.slide.empty() && o.vit256.empty() && o.vit4k.empty(),
               "demo: --slide-level makes its own slide, weights and cohort; --slide, --vit256 and --vit4k do not apply");
    return run_slide_level_demo(o.out_dir, o.seed);
  }
  HIPT_CHECK(o.vit256.empty() == o.vit4k.empty(), "demo: give both --vit256 and --vit4k, or neither");
  // Step 5 (heatmap) needs whole 256-px patches; checked here, not after minutes of embedding.
  HIPT_CHECK(o.size >= 256 && o.size % 256 == 0, "demo: --size {} must be a positive multiple of 256", o.size);
  const auto start = std::chrono::steady_clock::now();
  const std::string dir = o.out_dir;
  fs::create_directories(dir);
  const int steps = 5;

  std::string slide = o.slide;
  if (slide.empty()) {
    slide = dir + "/synthetic.svs";
    SyntheticSlideOptions so;
    so.seed = o.seed;
    fmt::print("[1/{}] Writing a synthetic H&E-like slide ({}x{} pixels at 20x, 0.5 um/pixel, JPEG pyramid, seed {}) "
               "to {}\n",
               steps, so.width, so.height, o.seed, slide);
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    write_synthetic_slide(slide, so);
    fmt::print("      done in {:.1f} s\n", seconds_since(t0));
  } else {
    fmt::print("[1/{}] Using the slide {}\n", steps, slide);
  }

  std::string vit256 = o.vit256, vit4k = o.vit4k;
  if (vit256.empty()) {
    fs::create_directories(dir + "/weights");
    vit256 = dir + "/weights/vit256_random_init.safetensors";
    vit4k = dir + "/weights/vit4k_random_init.safetensors";
    fmt::print("[2/{}] Writing RANDOM, UNTRAINED weights (DINO's initialisation, seed {}) for ViT-256 and ViT-4K to\n"
               "      {} and {}.\n"
               "      The features and heatmaps below only show the pipeline working: with untrained weights\n"
               "      they say nothing about the tissue. For real features, download the released checkpoints\n"
               "      (vit256_small_dino.pth and vit4k_xs_dino.pth, HIPT_4K/Checkpoints in mahmoodlab/HIPT) and run\n"
               "        hipt demo --slide YOUR_SLIDE.svs --vit256 vit256_small_dino.pth --vit4k vit4k_xs_dino.pth\n",
               steps, o.seed, vit256, vit4k);
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    write_weights(vit256, *vit256_small(o.seed, true), o.seed, "vit256_small");
    write_weights(vit4k, *vit4k_xs(o.seed, true), o.seed, "vit4k_xs");
    fmt::print("      done in {:.1f} s\n", seconds_since(t0));
  } else {
    fmt::print("[2/{}] Using the checkpoints {} (ViT-256) and {} (ViT-4K)\n", steps, vit256, vit4k);
  }

  TilesOptions tiles;
  tiles.slide = slide;
  tiles.out_csv = dir + "/regions.csv";
  tiles.mask_png = dir + "/mask.png";
  tiles.thumbnail_png = dir + "/thumbnail.png";
  tiles.tiling.size = o.size;
  fmt::print("[3/{}] Finding the tissue (CLAM's default segmentation) and the grid of {}x{} regions at 20x\n", steps,
             o.size, o.size);
  std::fflush(stdout);
  auto t0 = std::chrono::steady_clock::now();
  run_tiles(tiles);
  std::vector<io::Point> regions = io::read_region_coords(tiles.out_csv).coords;
  fmt::print("      {} regions in {:.1f} s: corners in {}, mask in {}, thumbnail (tissue green, regions red) in {}\n",
             regions.size(), seconds_since(t0), tiles.out_csv, tiles.mask_png, tiles.thumbnail_png);
  HIPT_CHECK(!regions.empty(), "demo: {}: no tissue found, so there is nothing to embed", slide);

  EmbedOptions embed;
  embed.slides = {slide};
  embed.model.vit256 = vit256, embed.model.vit4k = vit4k;
  embed.out_dir = dir + "/features";
  embed.overwrite = true;  // a rerun of the demo redoes its work
  embed.tiling = tiles.tiling;
  embed.coords = tiles.out_csv;  // the regions just found: no second segmentation
  if (o.max_regions > 0 && static_cast<int64_t>(regions.size()) > o.max_regions) {
    regions.resize(static_cast<size_t>(o.max_regions));
    embed.coords = dir + "/regions_demo.csv";
    io::write_region_coords_csv(embed.coords, regions);
    fmt::print("      the demo embeds the first {} (--max-regions 0 for all; `hipt embed` is the full pipeline)\n",
               regions.size());
  }
  fmt::print("[4/{}] Embedding {} regions with HIPT-4K (ViT-256 on each 256x256 patch, then ViT-4K on the grid) into {}\n",
             steps, regions.size(), embed.out_dir);
  std::fflush(stdout);
  t0 = std::chrono::steady_clock::now();
  if (int rc = run_embed(embed); rc != 0) return rc;
  fmt::print("      done in {:.1f} s\n", seconds_since(t0));

  HeatmapOptions heat;
  heat.slide = slide;
  heat.model.vit256 = vit256, heat.model.vit4k = vit4k;
  heat.out_dir = dir + "/heatmaps";
  heat.x = regions[0].x, heat.y = regions[0].y;
  heat.size = o.size;
  fmt::print("[5/{}] Attention heatmaps of the first region (level-0 corner {}, {}) into {}\n", steps, heat.x, heat.y,
             heat.out_dir);
  std::fflush(stdout);
  t0 = std::chrono::steady_clock::now();
  if (int rc = run_heatmap(heat); rc != 0) return rc;
  fmt::print("      done in {:.1f} s\n", seconds_since(t0));

  fmt::print("\nThe demo took {:.0f} s and wrote:\n", seconds_since(start));
  list_files(dir);
  fmt::print("Features: {}/<slide name>.safetensors (coords, patch_features, region_features; see the README).\n",
             embed.out_dir);
  if (o.vit256.empty()) fmt::print("Reminder: the weights were random and untrained; see step 2 for real ones.\n");
  return 0;
}

}  // namespace

Command add_demo_command(CLI::App& app) {
  auto opts = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Run the whole pipeline (tiles, embed, heatmap) on a synthetic slide with untrained weights, or on yours");
  cmd->add_option("--slide", opts->slide, "Your slide instead of the synthetic one");
  cmd->add_option("--vit256", opts->vit256, "ViT-256 checkpoint instead of random weights (with --vit4k)");
  cmd->add_option("--vit4k", opts->vit4k, "ViT-4K checkpoint instead of random weights (with --vit256)");
  cmd->add_option("--out", opts->out_dir, "Output folder")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the synthetic slide and the random weights");
  add_bounded_option<int64_t>(cmd, "--max-regions", opts->max_regions, "Regions to embed, the first found; 0: all", 0)
      ->capture_default_str();
  add_bounded_option<int64_t>(cmd, "--size", opts->size, "Region side in pixels at 20x", 1)->capture_default_str();
  cmd->add_flag("--slide-level", opts->slide_level,
                "The slide level instead: a synthetic labelled cohort, train-slide, predict-slide, slide-heatmap");
  return {cmd, [opts] { return run_demo(*opts); }};
}

}  // namespace hipt
