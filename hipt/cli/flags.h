// Flags that several subcommands share (the model flags, CLAM's tiling flags), and number flags
// whose bounds are stated in words when a value breaks them.
#pragma once
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <limits>
#include <string>
#include <type_traits>

#include "hipt/models/vit.h"
#include "hipt/pipeline/tiling.h"

namespace hipt {

// A number flag read as T into `value` (a T or a std::optional<T>). `problem` returns "" for a
// good value, otherwise what is wrong, in words after the flag's name ("must be at least 1"); a
// bad value is then a parse error "--batch must be at least 1". `bounds` is the help's type text.
template <class T, class V, class Problem>
CLI::Option* add_checked_number(CLI::App* cmd, const std::string& name, V& value, const std::string& help,
                                const std::string& bounds, Problem problem) {
  CLI::Option* opt = cmd->add_option_function<T>(
      name,
      [&value, name, problem](const T& v) {
        const std::string wrong = problem(v);
        if (!wrong.empty()) throw CLI::ValidationError(name + " " + wrong);
        value = v;
      },
      help);
  opt->type_name(std::string(std::is_integral_v<T> ? "INT" : "FLOAT") + ":" + bounds);
  if constexpr (std::is_same_v<V, T>) opt->default_function([&value] { return fmt::format("{}", value); });
  return opt;
}

// A number in [min, max]: "--batch must be at least 1", "--threads must be at most 1024".
template <class T, class V>
CLI::Option* add_bounded_option(CLI::App* cmd, const std::string& name, V& value, const std::string& help, T min,
                                T max = std::numeric_limits<T>::max()) {
  const std::string bounds = max != std::numeric_limits<T>::max() ? fmt::format("[{} - {}]", min, max)
                             : min > 0                            ? "POSITIVE"
                             : min == 0                           ? "NONNEGATIVE"
                                                                  : fmt::format(">= {}", min);
  return add_checked_number<T>(cmd, name, value, help, bounds, [min, max](T v) -> std::string {
    if (v < min) return fmt::format("must be at least {}", min);
    if (v > max) return fmt::format("must be at most {}", max);
    return "";
  });
}

// A real number above 0: "--target-mag must be greater than 0".
template <class V>
CLI::Option* add_positive_real_option(CLI::App* cmd, const std::string& name, V& value, const std::string& help) {
  return add_checked_number<double>(cmd, name, value, help, "POSITIVE",
                                    [](double v) -> std::string { return v > 0 ? "" : "must be greater than 0"; });
}

// The flags that say which model runs and where, shared by embed-region, embed and heatmap.
struct ModelOptions {
  std::string vit256, vit4k;   // checkpoints (.pth or .safetensors)
  int64_t batch = 64;          // ViT-256 patches per forward; bounds memory, and progress moves per batch
  bool student = false;        // DINO student weights instead of the teacher
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N" (check_device_flag)
  std::string precision = "f32";  // "f32", "tf32" or "bf16" (check_precision_flag)
  int threads = 0;             // 0: HIPT_NUM_THREADS, else every hardware thread
};
constexpr int kMaxThreads = 1024;

// --vit256 and --vit4k (both required), --batch, --student, --device, --precision, --threads.
void add_model_flags(CLI::App* cmd, ModelOptions& m);

// The --device flag: "cpu"; "cuda:N", GPU N; "cuda", GPU (local rank mod GPU count), so that MPI
// ranks on one node spread over its GPUs. A GPU that cannot be used (no driver, no device, a build
// without CUDA, an index past the last GPU) is refused in one line saying why; so is any other value.
Device check_device_flag(const std::string& device);

// The --precision flag on `device`: f32 (the default); tf32 (matmuls in TF32 tensor-core
// arithmetic, everything else f32) and bf16 (weights and activations bf16, layer-norm statistics,
// softmax and accumulation f32, features returned f32) on a GPU only.
void check_precision_flag(const std::string& precision, const Device& device);

// Where and how the models of a command run: both flags checked, and the matmul precision of the
// process set from --precision.
struct ComputeTarget {
  Device device;
  std::string precision;  // "f32", "tf32" or "bf16": recorded in output metadata as given
  DType dtype() const { return precision == "bf16" ? DType::BF16 : DType::F32; }  // of the weights
};
ComputeTarget check_compute_flags(const ModelOptions& m);

// Both ViTs from --vit256 / --vit4k (hipt/models/checkpoint.h rules) in the target's dtype, moved
// to its device.
struct LoadedVits {
  std::shared_ptr<VisionTransformer> vit256;
  std::shared_ptr<VisionTransformer4K> vit4k;
};
LoadedVits load_vits(const ModelOptions& m, const ComputeTarget& target);

// CLAM's segmentation and patching flags, with its names and defaults (hipt/pipeline/tiling.h),
// and --preset, whose values explicit flags override.
void add_tiling_flags(CLI::App* cmd, TilingOptions& t);

}  // namespace hipt
