// Registration of the CUDA kernel table (tensor/backend.h). Compiled in every build: without CUDA
// it records why the table stays empty, so each op's error says "built without CUDA".
#include "cuda/runtime.h"
#include "tensor/backend.h"
#if defined(HIPT_HAVE_CUDA)
#include "cuda/kernels.h"
#endif

namespace hipt::cuda {

void register_backend() {
  Backend& table = backend(DeviceType::CUDA);
  if (table.registered) return;
  table.registered = true;
#if defined(HIPT_HAVE_CUDA)
  register_allocator();
  register_copy_kernels(table);
  register_elementwise_kernels(table);
  register_reduce_kernels(table);
  register_matmul_kernels(table);
  register_nn_kernels(table);
  register_attention_kernels(table);
  table.attention_lse = flash_attention_forward;  // flash_attention.cu: the `flash` implementation
  table.attention_lse_backward = flash_attention_backward;
  register_image_kernels(table);
  register_optim_kernels(table);
  register_random_kernels(table);
#else
  table.why_empty = "this build has no CUDA backend: built without CUDA";
#endif
}

}  // namespace hipt::cuda
