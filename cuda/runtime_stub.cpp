#include "cuda/runtime.h"

namespace hipt::cuda {
bool compiled() { return false; }
int device_count() { return 0; }
std::string why_no_gpu() { return "this build has no CUDA backend (configure with nvcc and -DHIPT_WITH_CUDA=ON)"; }
std::string device_name(int) { return ""; }
std::string runtime_version() { return ""; }
}  // namespace hipt::cuda
