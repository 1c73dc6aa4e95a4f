#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace hipt::cuda {

void register_allocator() {}

}  // namespace hipt::cuda
