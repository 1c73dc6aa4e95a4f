#include "hipt/cli/flags.h"

#include "cuda/runtime.h"
#include "hipt/pipeline/presets.h"
#include "hipt/pipeline/shard.h"
#include "tensor/error.h"

namespace hipt {

void add_model_flags(CLI::App* cmd, ModelOptions& m) {
  cmd->add_option("--vit256", m.vit256, "ViT-256 checkpoint (.pth or .safetensors)")->required();
  cmd->add_option("--vit4k", m.vit4k, "ViT-4K checkpoint (.pth or .safetensors)")->required();
  add_bounded_option<int64_t>(cmd, "--batch", m.batch, "ViT-256 patches per forward pass", 1)->capture_default_str();
  cmd->add_flag("--student", m.student, "Load the DINO student instead of the teacher");
  cmd->add_option("--device", m.device, "cpu or cuda");
  add_bounded_option<int>(cmd, "--threads", m.threads, "Compute threads (default: HIPT_NUM_THREADS or all)", 0,
                          kMaxThreads);
}

void check_device_flag(const std::string& device) {
  HIPT_CHECK(device == "cpu" || device == "cuda", "--device '{}': expected cpu or cuda", device);
  if (device == "cpu") return;
  const int count = cuda::device_count();
  HIPT_CHECK(count > 0, "--device cuda: {}", cuda::why_no_gpu());
  const int index = ProcessGroup::world().local_rank() % count;
  throw Error(fmt::format("--device cuda: GPU {} ({}) is there, but the CUDA tensor backend is not implemented yet; "
                          "use --device cpu",
                          index, cuda::device_name(index)));
}

void add_tiling_flags(CLI::App* cmd, TilingOptions& t) {
  // First: CLI11 runs option callbacks in definition order, so the flags below, when given, override
  // the preset's values wherever they stand on the command line.
  cmd->add_option_function<std::string>(
      "--preset",
      [&t](const std::string& path) {
        try {
          apply_clam_preset(path, t);
        } catch (const Error& e) {
          throw CLI::ValidationError("--preset", e.what());
        }
      },
      "CLAM preset CSV (presets/*.csv here, or CLAM's own) for the segmentation flags; explicit flags win");
  add_bounded_option<int64_t>(cmd, "--size", t.size, "Region side in pixels at the target magnification", 1);
  add_bounded_option<int64_t>(cmd, "--step", t.step, "Grid step at the target magnification (default: --size)", 1);
  add_positive_real_option(cmd, "--target-mag", t.target_mag, "Target magnification of the regions");
  cmd->add_option("--magnification", t.magnification,
                  "The scan's magnification (default: from openslide.mpp-x / objective-power)");
  add_bounded_option<double>(cmd, "--min-tissue", t.min_tissue,
                             "Drop regions whose mask is less than this fraction tissue", 0, 1);
  cmd->add_option("--seg-level", t.seg_level, "Segmentation level (-1: best for downsample 64, as CLAM)");
  cmd->add_flag("--otsu", t.otsu, "Otsu's threshold instead of --sthresh");
  cmd->add_flag("--no-padding", t.no_padding, "Keep regions inside the slide (CLAM use_padding=False)");
  add_bounded_option<int>(cmd, "--sthresh", t.sthresh, "Saturation threshold (CLAM sthresh)", 0, 255);
  add_bounded_option<int>(cmd, "--mthresh", t.mthresh, "Median blur size, odd (CLAM mthresh)", 1);
  add_bounded_option<int>(cmd, "--close", t.close, "Closing kernel size, 0 for none (CLAM close)", 0);
  add_bounded_option<double>(cmd, "--a-t", t.a_t, "Min tissue area in 512x512 level-0 patches (CLAM a_t)", 0);
  add_bounded_option<double>(cmd, "--a-h", t.a_h, "Min hole area in 512x512 level-0 patches (CLAM a_h)", 0);
  add_bounded_option<int>(cmd, "--max-n-holes", t.max_n_holes, "Largest holes kept per contour (CLAM max_n_holes)",
                          0);
}

}  // namespace hipt
