#include "cuda/runtime.h"

namespace hipt::cuda {
bool compiled() { return false; }
int device_count() { return 0; }
std::string why_no_gpu() { return "this build has no CUDA backend (configure with nvcc and -DHIPT_WITH_CUDA=ON)"; }
std::string why_unusable(int) { return why_no_gpu(); }
std::string device_name(int) { return ""; }
std::string compute_capability(int) { return ""; }
std::string runtime_version() { return ""; }
void synchronize(Device) {}
AllocatorStats allocator_stats() { return {}; }
void reset_allocator_peak() {}
void release_cached_memory() {}
}  // namespace hipt::cuda
