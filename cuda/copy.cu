#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace hipt::cuda {

void register_copy_kernels(Backend&) {}

}  // namespace hipt::cuda
