// The CPU kernel table: every entry of tensor/backend.h, each the CPU kernel of the same name.
#include "tensor/backend.h"
#include "tensor/cpu/image_kernels.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/nn_kernels.h"

namespace hipt::cpu {

void register_kernels(Backend& table) {
#define HIPT_CPU_KERNEL(name, params) table.name = &cpu::name;
  HIPT_KERNELS(HIPT_CPU_KERNEL)
#undef HIPT_CPU_KERNEL
  table.registered = true;
}

}  // namespace hipt::cpu
