// `hipt doctor`: what this build is and what it found on this machine.
#include <fmt/core.h>

#include "cuda/runtime.h"
#include "hipt/cli/commands.h"
#include "hipt/pipeline/shard.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/backend.h"
#include "tensor/cpu/gemm.h"
#include "tensor/parallel.h"

namespace hipt {
namespace {

// "12/33": the kernels of the table of `type` out of all kernels.
std::string kernel_count(DeviceType type) {
  const auto entries = kernel_entries(backend(type));
  size_t present = 0;
  for (const KernelEntry& e : entries) present += e.present;
  return fmt::format("{}/{}", present, entries.size());
}

int run_doctor() {
  fmt::print("hipt {}\n", HIPT_VERSION);
  fmt::print("build type:      {}\n", HIPT_BUILD_TYPE);
  fmt::print("simd detected:   {}\n", cpu::simd_level());
  fmt::print("gemm kernel:     {}\n", cpu::gemm_kernel_name());
  fmt::print("threads:         {} (HIPT_NUM_THREADS to change)\n", num_threads());
  fmt::print("kernels:         cpu {}, cuda {}\n", kernel_count(DeviceType::CPU), kernel_count(DeviceType::CUDA));
  fmt::print("mpi:             {}\n", mpi_built() ? "built in (mpirun -np K hipt embed shards slides over ranks)"
                                                   : "not built (use --shard i/N per process)");
  if (!cuda::compiled()) {
    fmt::print("cuda:            not compiled in\n");
    fmt::print("gpu:             none ({})\n", cuda::why_no_gpu());
    return 0;
  }
  fmt::print("cuda:            compiled in (runtime {})\n", cuda::runtime_version());
  int n = cuda::device_count();
  if (n == 0) {
    fmt::print("gpu:             none ({})\n", cuda::why_no_gpu());
  } else {
    for (int i = 0; i < n; ++i)
      fmt::print("gpu {}:           {} (compute capability {})\n", i, cuda::device_name(i), cuda::compute_capability(i));
  }
  return 0;
}

}  // namespace

Command add_doctor_command(CLI::App& app) {
  return {app.add_subcommand("doctor", "Print the build and the hardware hipt sees: build type, SIMD, threads, CUDA"),
          run_doctor};
}

}  // namespace hipt
