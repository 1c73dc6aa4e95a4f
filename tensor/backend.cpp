// The kernel tables and the error an op raises when its device has no kernel.
#include "tensor/backend.h"

#include "tensor/cpu/kernels.h"

namespace hipt {

Backend& backend(DeviceType type) {
  // Built on first use: the CPU table needs no registration call.
  static Backend cpu_table = [] {
    Backend b;
    cpu::register_kernels(b);
    return b;
  }();
  static Backend cuda_table;
  return type == DeviceType::CPU ? cpu_table : cuda_table;
}

std::vector<KernelEntry> kernel_entries(const Backend& b) {
  std::vector<KernelEntry> out;
#define HIPT_KERNEL_ENTRY(name, params) out.push_back({#name, b.name != nullptr});
  HIPT_KERNELS(HIPT_KERNEL_ENTRY)
#undef HIPT_KERNEL_ENTRY
  return out;
}

void throw_no_kernel(const char* op, Device device, const Backend& b) {
  std::string why;
  if (!b.registered)
    why = "register_backend() not called: hipt::cuda::register_backend() (cuda/runtime.h) fills this table";
  else if (!b.why_empty.empty())
    why = b.why_empty;
  else
    why = std::string("the ") + (device.type == DeviceType::CPU ? "CPU" : "CUDA") + " backend has no kernel for it yet";
  throw Error(fmt::format("{}: no kernel for {} ({})", op, device.str(), why));
}

}  // namespace hipt
