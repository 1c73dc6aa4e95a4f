// The hipt command line. Every failure ends as one stderr line "error: ..." and exit code 1;
// a bad flag exits with 2.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>

#include "cuda/runtime.h"
#include "hipt/cli/commands.h"
#include "hipt/pipeline/presets.h"
#include "tensor/error.h"

namespace {

// CLAM's segmentation and patching flags, with its names and defaults (hipt/pipeline/tiling.h).
void add_tiling_flags(CLI::App* cmd, hipt::TilingOptions& t) {
  // First: CLI11 runs option callbacks in definition order, so the flags below, when given, override
  // the preset's values wherever they stand on the command line.
  cmd->add_option_function<std::string>(
      "--preset",
      [&t](const std::string& path) {
        try {
          hipt::apply_clam_preset(path, t);
        } catch (const hipt::Error& e) {
          throw CLI::ValidationError("--preset", e.what());
        }
      },
      "CLAM preset CSV (presets/*.csv here, or CLAM's own) for the segmentation flags; explicit flags win");
  cmd->add_option("--size", t.size, "Region side in pixels at the target magnification")->check(CLI::PositiveNumber);
  cmd->add_option("--step", t.step, "Grid step at the target magnification (default: --size)")->check(CLI::PositiveNumber);
  cmd->add_option("--target-mag", t.target_mag, "Target magnification of the regions")->check(CLI::PositiveNumber);
  cmd->add_option("--magnification", t.magnification, "The scan's magnification (default: from openslide.mpp-x / objective-power)");
  cmd->add_option("--min-tissue", t.min_tissue, "Drop regions whose mask is less than this fraction tissue")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seg-level", t.seg_level, "Segmentation level (-1: best for downsample 64, as CLAM)");
  cmd->add_flag("--otsu", t.otsu, "Otsu's threshold instead of --sthresh");
  cmd->add_flag("--no-padding", t.no_padding, "Keep regions inside the slide (CLAM use_padding=False)");
  cmd->add_option("--sthresh", t.sthresh, "Saturation threshold (CLAM sthresh)")->check(CLI::Range(0, 255));
  cmd->add_option("--mthresh", t.mthresh, "Median blur size, odd (CLAM mthresh)")->check(CLI::PositiveNumber);
  cmd->add_option("--close", t.close, "Closing kernel size, 0 for none (CLAM close)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--a-t", t.a_t, "Min tissue area in 512x512 level-0 patches (CLAM a_t)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--a-h", t.a_h, "Min hole area in 512x512 level-0 patches (CLAM a_h)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-n-holes", t.max_n_holes, "Largest holes kept per contour (CLAM max_n_holes)")->check(CLI::NonNegativeNumber);
}

}  // namespace

int main(int argc, char** argv) {
  hipt::cuda::register_backend();
  CLI::App app{"hipt: HIPT (CVPR 2022) on a from-scratch C++ tensor engine"};
  app.set_version_flag("--version", std::string("hipt ") + HIPT_VERSION);
  app.require_subcommand(0, 1);

  auto* doctor = app.add_subcommand("doctor", "Print the build and the hardware hipt sees: build type, SIMD, threads, CUDA");

  hipt::DemoOptions demo_opts;
  auto* demo = app.add_subcommand(
      "demo", "Run the whole pipeline (tiles, embed, heatmap) on a synthetic slide with untrained weights, or on yours");
  demo->add_option("--slide", demo_opts.slide, "Your slide instead of the synthetic one");
  demo->add_option("--vit256", demo_opts.vit256, "ViT-256 checkpoint instead of random weights (with --vit4k)");
  demo->add_option("--vit4k", demo_opts.vit4k, "ViT-4K checkpoint instead of random weights (with --vit256)");
  demo->add_option("--out", demo_opts.out_dir, "Output folder")->capture_default_str();
  demo->add_option("--seed", demo_opts.seed, "Seed of the synthetic slide and the random weights");
  demo->add_option("--max-regions", demo_opts.max_regions, "Regions to embed, the first found; 0: all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  demo->add_option("--size", demo_opts.size, "Region side in pixels at 20x")->capture_default_str()->check(CLI::PositiveNumber);

  std::string info_path;
  auto* info = app.add_subcommand("info", "Print a slide's levels, properties and associated images as one JSON object");
  info->add_option("slide", info_path, "Slide file (Aperio .svs or tiled TIFF)")->required();

  hipt::ReadRegionOptions region_opts;
  auto* region = app.add_subcommand("read-region", "Write a region of a slide as an RGBA PNG (x, y in level-0 pixels)");
  region->add_option("slide", region_opts.slide, "Slide file (Aperio .svs or tiled TIFF)")->required();
  region->add_option("--level", region_opts.level, "Pyramid level")->required();
  region->add_option("--x", region_opts.x, "Left edge, level-0 pixels")->required();
  region->add_option("--y", region_opts.y, "Top edge, level-0 pixels")->required();
  region->add_option("--width", region_opts.width, "Width, level pixels")->required();
  region->add_option("--height", region_opts.height, "Height, level pixels")->required();
  region->add_option("--out", region_opts.out, "Output PNG")->required();

  hipt::TilesOptions tiles_opts;
  auto* tiles = app.add_subcommand(
      "tiles", "Segment tissue (CLAM's method) and list the level-0 corners of the regions to read, as CSV");
  tiles->add_option("slide", tiles_opts.slide, "Slide file (Aperio .svs or tiled TIFF)")->required();
  tiles->add_option("--out", tiles_opts.out_csv, "CSV of region corners: header x,y, level-0 pixels")->required();
  tiles->add_option("--mask", tiles_opts.mask_png, "Write the tissue mask (segmentation level) as PNG");
  tiles->add_option("--thumbnail", tiles_opts.thumbnail_png, "Write the segmentation level with contours and regions drawn, as PNG");
  add_tiling_flags(tiles, tiles_opts.tiling);
  hipt::ConvertCheckpointOptions convert_opts;
  auto* convert = app.add_subcommand(
      "convert-checkpoint",
      "Write the backbone of a .pth checkpoint (DINO teacher by default; module./backbone. removed, head "
      "dropped) as .safetensors");
  convert->add_option("input", convert_opts.input, "Checkpoint (.pth, or .safetensors)")->required();
  convert->add_option("output", convert_opts.output, "Output .safetensors file")->required();
  convert->add_flag("--student", convert_opts.student, "Take the DINO student instead of the teacher");

  hipt::EmbedRegionOptions embed_opts;
  auto* embed = app.add_subcommand("embed-region",
                                   "HIPT-4K features of one region image (PNG, at least 256x256; 4096x4096 at 20x is "
                                   "the paper's setting) as .safetensors");
  embed->add_option("--image", embed_opts.image, "Region image (RGB or RGBA PNG; alpha is dropped)")->required();
  embed->add_option("--vit256", embed_opts.vit256, "ViT-256 checkpoint (.pth or .safetensors)")->required();
  embed->add_option("--vit4k", embed_opts.vit4k, "ViT-4K checkpoint (.pth or .safetensors)")->required();
  embed->add_option("--out", embed_opts.out, "Output .safetensors (patch_features [N,384], region_feature [192])")
      ->required();
  embed->add_option("--batch", embed_opts.batch, "ViT-256 patches per forward pass")->check(CLI::PositiveNumber);
  embed->add_flag("--student", embed_opts.student, "Load the DINO student instead of the teacher");
  embed->add_flag("--attention", embed_opts.attention,
                  "Also write patch_attention [N,6,256] and region_attention [6,N+1,N+1] (last blocks)");

  hipt::EmbedOptions slides_opts;
  auto* embed_slides = app.add_subcommand(
      "embed", "Whole slides -> tissue -> regions -> HIPT-4K features, DIR/<slide>.safetensors per slide, JSON summary");
  embed_slides->add_option("slides", slides_opts.slides, "Slide files (Aperio .svs or tiled TIFF)")->required();
  embed_slides->add_option("--vit256", slides_opts.vit256, "ViT-256 checkpoint (.pth or .safetensors)")->required();
  embed_slides->add_option("--vit4k", slides_opts.vit4k, "ViT-4K checkpoint (.pth or .safetensors)")->required();
  embed_slides->add_option("--out", slides_opts.out_dir, "Output folder (created if needed)")->required();
  embed_slides->add_option("--device", slides_opts.device, "cpu or cuda");
  embed_slides->add_option("--threads", slides_opts.threads, "Compute threads (default: HIPT_NUM_THREADS or all)")
      ->check(CLI::NonNegativeNumber);
  embed_slides->add_option("--batch", slides_opts.batch, "ViT-256 patches per forward pass")->check(CLI::PositiveNumber);
  embed_slides->add_flag("--student", slides_opts.student, "Load the DINO student instead of the teacher");
  embed_slides->add_flag("--overwrite", slides_opts.overwrite, "Redo slides whose output exists");
  embed_slides->add_option("--coords", slides_opts.coords,
                           "Region corners instead of segmentation: a CSV x,y or CLAM .h5 (one slide), or a folder "
                           "of <slide>.h5/.csv");
  embed_slides->add_option("--shard", slides_opts.shard, "i/N: take slides i, i+N, ... of the list (job arrays)");
  embed_slides->add_option("--prefetch", slides_opts.prefetch, "Regions decoded ahead of the encoder")
      ->check(CLI::PositiveNumber);
  embed_slides->add_flag("--white-background", slides_opts.white_background,
                         "Pixels past the slide edge white (default black, as CLAM)");
  embed_slides->add_option("--save-every", slides_opts.save_every,
                           "Regions between saves of the resumable DIR/<slide>.safetensors.partial")
      ->check(CLI::PositiveNumber);
  add_tiling_flags(embed_slides, slides_opts.tiling);

  hipt::HeatmapOptions heatmap_opts;
  auto* heatmap = app.add_subcommand(
      "heatmap", "Attention heatmaps of one region: ViT-256 and ViT-4K last-block [CLS] attention per head, "
                 "percentile-ranked and blended over the region (PNGs), the raw maps (.safetensors), JSON on stdout");
  heatmap->add_option("slide", heatmap_opts.slide, "Slide file (Aperio .svs or tiled TIFF)")->required();
  heatmap->add_option("--vit256", heatmap_opts.vit256, "ViT-256 checkpoint (.pth or .safetensors)")->required();
  heatmap->add_option("--vit4k", heatmap_opts.vit4k, "ViT-4K checkpoint (.pth or .safetensors)")->required();
  heatmap->add_option("--out", heatmap_opts.out_dir, "Output folder (created if missing)")->required();
  heatmap->add_option("--x", heatmap_opts.x, "Left edge of the region, level-0 pixels")->required();
  heatmap->add_option("--y", heatmap_opts.y, "Top edge of the region, level-0 pixels")->required();
  heatmap->add_option("--size", heatmap_opts.size, "Region side at the target magnification (multiple of 256)");
  heatmap->add_option("--target-mag", heatmap_opts.target_mag, "Target magnification")->check(CLI::PositiveNumber);
  heatmap->add_option("--magnification", heatmap_opts.magnification, "The scan's magnification (default: from the slide)");
  heatmap->add_option("--scale", heatmap_opts.scale, "Images are size/scale pixels; must divide 16");
  heatmap->add_flag("--smooth", heatmap_opts.smooth, "Average the reference's shifted re-encodings (4 passes)");
  heatmap->add_flag("--factorized", heatmap_opts.factorized, "Also the 36 pooled ViT-4K x ViT-256 maps");
  heatmap->add_option("--alpha", heatmap_opts.alpha, "Weight of the heatmap in the blend");
  heatmap->add_option("--cmap", heatmap_opts.cmap, "Colormap: jet (lightened, as the reference)");
  heatmap->add_option("--device", heatmap_opts.device, "cpu or cuda");
  heatmap->add_option("--threads", heatmap_opts.threads, "Threads (0: HIPT_NUM_THREADS or all)");
  heatmap->add_option("--batch", heatmap_opts.batch, "ViT-256 patches per forward pass");
  heatmap->add_flag("--student", heatmap_opts.student, "Load the DINO student instead of the teacher");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "error: {} (see hipt --help)\n", e.what());
    return 2;
  }

  try {
    if (doctor->parsed()) return hipt::run_doctor();
    if (demo->parsed()) return hipt::run_demo(demo_opts);
    if (info->parsed()) return hipt::run_slide_info(info_path);
    if (region->parsed()) return hipt::run_read_region(region_opts);
    if (tiles->parsed()) return hipt::run_tiles(tiles_opts);
    if (convert->parsed()) return hipt::run_convert_checkpoint(convert_opts);
    if (embed->parsed()) return hipt::run_embed_region(embed_opts);
    if (embed_slides->parsed()) return hipt::run_embed(slides_opts);
    if (heatmap->parsed()) return hipt::run_heatmap(heatmap_opts);
    fmt::print("{}", app.help());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
