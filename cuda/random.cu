#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace hipt::cuda {

void register_random_kernels(Backend&) {}

}  // namespace hipt::cuda
