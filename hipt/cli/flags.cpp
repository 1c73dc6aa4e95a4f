#include "hipt/cli/flags.h"

#include "cuda/runtime.h"
#include "hipt/models/checkpoint.h"
#include "hipt/pipeline/presets.h"
#include "hipt/pipeline/shard.h"
#include "tensor/error.h"

namespace hipt {

void add_model_flags(CLI::App* cmd, ModelOptions& m) {
  cmd->add_option("--vit256", m.vit256, "ViT-256 checkpoint (.pth or .safetensors)")->required();
  cmd->add_option("--vit4k", m.vit4k, "ViT-4K checkpoint (.pth or .safetensors)")->required();
  add_bounded_option<int64_t>(cmd, "--batch", m.batch, "ViT-256 patches per forward pass", 1)->capture_default_str();
  cmd->add_flag("--student", m.student, "Load the DINO student instead of the teacher");
  cmd->add_option("--device", m.device, "cpu, cuda (GPU local-rank mod count) or cuda:N")->capture_default_str();
  cmd->add_option("--precision", m.precision, "f32; on a GPU also tf32 (TF32 matmuls) or bf16 (bf16 weights)")
      ->capture_default_str();
  add_bounded_option<int>(cmd, "--threads", m.threads, "Compute threads (default: HIPT_NUM_THREADS or all)", 0,
                          kMaxThreads);
}

Device check_device_flag(const std::string& device) {
  if (device == "cpu") return Device{};
  int index = -1;  // -1: "cuda", the rank's share
  const std::string prefix = "cuda:";
  if (device.rfind(prefix, 0) == 0) {
    const std::string n = device.substr(prefix.size());
    const bool digits = !n.empty() && n.size() <= 4 && n.find_first_not_of("0123456789") == std::string::npos;
    HIPT_CHECK(digits, "--device '{}': expected cpu, cuda or cuda:N with N a GPU index (0, 1, ...)", device);
    index = std::stoi(n);
  } else {
    HIPT_CHECK(device == "cuda", "--device '{}': expected cpu, cuda or cuda:N", device);
  }
  const int count = cuda::device_count();
  HIPT_CHECK(count > 0, "--device {}: no usable GPU: {}", device, cuda::why_no_gpu());
  HIPT_CHECK(index < count, "--device {}: there {} {} GPU{} here (cuda:0{})", device, count == 1 ? "is" : "are",
             count, count == 1 ? "" : "s", count == 1 ? "" : fmt::format(" to cuda:{}", count - 1));
  if (index < 0) index = ProcessGroup::world().local_rank() % count;
  return Device{DeviceType::CUDA, index};
}

void check_precision_flag(const std::string& precision, const Device& device) {
  HIPT_CHECK(precision == "f32" || precision == "tf32" || precision == "bf16",
             "--precision '{}': expected f32, tf32 or bf16", precision);
  HIPT_CHECK(precision == "f32" || device.type == DeviceType::CUDA,
             "--precision {}: GPU only (--device cuda); on the CPU use --precision f32", precision);
}

ComputeTarget check_compute_flags(const ModelOptions& m) {
  ComputeTarget t;
  t.device = check_device_flag(m.device);
  check_precision_flag(m.precision, t.device);
  t.precision = m.precision;
  ops::set_matmul_precision(m.precision == "tf32" ? ops::MatmulPrecision::TF32 : ops::MatmulPrecision::F32);
  return t;
}

LoadedVits load_vits(const ModelOptions& m, const ComputeTarget& target) {
  LoadedVits v{vit256_small(0, /*init=*/false, target.dtype()), vit4k_xs(0, /*init=*/false, target.dtype())};
  load_backbone(*v.vit256, m.vit256, m.student);
  load_backbone(*v.vit4k, m.vit4k, m.student);
  v.vit256->to(target.device);
  v.vit4k->to(target.device);
  return v;
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
