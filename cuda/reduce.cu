#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace hipt::cuda {

void register_reduce_kernels(Backend&) {}

}  // namespace hipt::cuda
