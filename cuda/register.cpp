// Registration of the CUDA kernel table (tensor/backend.h). Compiled in every build: without CUDA
// it records why the table stays empty, so each op's error says "built without CUDA".
#include "cuda/runtime.h"
#include "tensor/backend.h"

namespace hipt::cuda {

void register_backend() {
  Backend& table = backend(DeviceType::CUDA);
  table.registered = true;
  if (!compiled()) table.why_empty = "this build has no CUDA backend: built without CUDA";
}

}  // namespace hipt::cuda
