#include "cuda/runtime.h"

#include <chrono>

#include "tensor/error.h"

namespace hipt::cuda {
bool compiled() { return false; }
int device_count() { return 0; }
std::string why_no_gpu() { return "this build has no CUDA backend (configure with nvcc and -DHIPT_WITH_CUDA=ON)"; }
std::string why_unusable(int) { return why_no_gpu(); }
std::string device_name(int) { return ""; }
std::string compute_capability(int) { return ""; }
std::string runtime_version() { return ""; }
void synchronize(Device) {}
double elapsed_ms(Device device, const std::function<void()>& work) {
  HIPT_CHECK(device.type != DeviceType::CUDA, "elapsed_ms: {}: {}", device.str(), why_no_gpu());
  const auto t0 = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
AllocatorStats allocator_stats() { return {}; }
void reset_allocator_peak() {}
void release_cached_memory() {}
}  // namespace hipt::cuda
