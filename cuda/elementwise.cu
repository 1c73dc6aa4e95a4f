#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace hipt::cuda {

void register_elementwise_kernels(Backend&) {}

}  // namespace hipt::cuda
