// One kernel table per device: the seam between the ops and the backends.
//
// Every public op (tensor/ops.h, nn_ops.h, image_ops.h, optim_ops.h, random.h) does three things:
// checks its arguments, allocates its outputs on the inputs' device, and calls its kernel through
// that device's table — `kernel(op, t, &Backend::entry)(outputs..., inputs...)`. A table entry has
// the signature and the contract of the CPU kernel of the same name (tensor/cpu/kernels.h,
// nn_kernels.h, image_kernels.h): outputs first, shapes in the comments there.
//
// tensor/cpu/ fills the CPU table; hipt::cuda::register_backend() (cuda/runtime.h) fills the CUDA
// table, called explicitly from main() — no static initialisers, which a linker may drop from a
// static library. An op whose device has no kernel throws hipt::Error naming the op, the device
// and the reason (built without CUDA, register_backend() not called, or no kernel yet).
#pragma once
#include <cstdint>
#include <string>

#include "tensor/ops.h"
#include "tensor/optim_ops.h"

namespace hipt {

// One operand of a matrix product as GEMM reads it: the last two dims of `t` with row stride `ld`,
// read transposed when `trans`. Its batch dims equal the output's (stride 0 where broadcast).
struct MatrixOperand {
  Tensor t;
  bool trans;
  int64_t ld;
};

// The kernel list, as X(name, parameters). Read it as a struct of function pointers; the list form
// lets the table be walked by name (tests, `hipt doctor`).
#define HIPT_KERNELS(X)                                                                                             \
  /* copies and fills (tensor/cpu/kernels.h) */                                                                     \
  X(copy, (const Tensor& dst, const Tensor& src))                                                                   \
  X(fill, (const Tensor& dst, double value))                                                                        \
  /* elementwise */                                                                                                 \
  X(unary, (ops::Unary op, const Tensor& out, const Tensor& x))                                                     \
  X(binary, (ops::Binary op, const Tensor& out, const Tensor& a, const Tensor& b))                                  \
  X(compare, (ops::Compare op, const Tensor& out, const Tensor& a, const Tensor& b))                                \
  X(where, (const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b))                               \
  X(axpy, (const Tensor& dst, const Tensor& src, double alpha))                                                     \
  X(scale, (const Tensor& dst, double s))                                                                           \
  /* reductions */                                                                                                  \
  X(sum, (const Tensor& out, const Tensor& x, int64_t outer, int64_t R, int64_t inner))                             \
  X(max, (const Tensor& values, const Tensor& index, const Tensor& x, int64_t outer, int64_t R, int64_t inner))     \
  /* indexing */                                                                                                    \
  X(index_select, (const Tensor& out, const Tensor& x, const Tensor& index, int64_t outer, int64_t n, int64_t inner)) \
  X(index_add, (const Tensor& out, const Tensor& src, const Tensor& index, int64_t outer, int64_t n, int64_t inner))  \
  X(gather, (const Tensor& out, const Tensor& x, int dim, const Tensor& index))                                     \
  X(scatter_add, (const Tensor& out, int dim, const Tensor& index, const Tensor& src))                              \
  /* matmul */                                                                                                      \
  X(matmul, (const Tensor& out, const MatrixOperand& a, const MatrixOperand& b))                                    \
  /* fused nn ops (tensor/cpu/nn_kernels.h) */                                                                      \
  X(softmax, (const Tensor& y, const Tensor& x, bool log))                                                          \
  X(softmax_backward, (const Tensor& dx, const Tensor& y, const Tensor& g, bool log))                               \
  X(cross_entropy, (const Tensor& loss, const Tensor& x, const Tensor& target))                                     \
  X(cross_entropy_backward, (const Tensor& dx, const Tensor& x, const Tensor& target, double g))                    \
  X(layer_norm, (const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,    \
                 const Tensor& bias, double eps))                                                                   \
  X(layer_norm_backward, (const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& g,             \
                          const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd))           \
  X(gelu, (const Tensor& y, const Tensor& x))                                                                       \
  X(gelu_backward, (const Tensor& dx, const Tensor& x, const Tensor& g))                                            \
  X(attention, (const Tensor& out, const Tensor& probs, const Tensor& q, const Tensor& k, const Tensor& v,          \
                double scale))                                                                                      \
  X(attention_backward, (const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,    \
                         const Tensor& k, const Tensor& v, const Tensor& probs, double scale))                      \
  X(attention_lse, (const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,         \
                    double scale, bool causal))                                                                     \
  X(attention_lse_backward, (const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g,                 \
                             const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,                  \
                             const Tensor& lse, double scale, bool causal))                                         \
  /* image ops (tensor/cpu/image_kernels.h) */                                                                      \
  X(bicubic_resize, (const Tensor& y, const Tensor& x, double scale_h, double scale_w))                             \
  X(bicubic_resize_backward, (const Tensor& dx, const Tensor& g, double scale_h, double scale_w))                   \
  /* optimizer steps (tensor/cpu/kernels.h) */                                                                      \
  X(adamw_step, (const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,          \
                 const ops::AdamWHyper& h))                                                                         \
  X(sgd_step, (const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,               \
               double weight_decay, bool first_step))                                                               \
  /* random fills from Philox blocks first, first+1, ... of `seed` (the stream of tensor/random.cpp) */             \
  X(uniform, (const Tensor& out, uint64_t seed, uint64_t first, double low, double high))                           \
  X(normal, (const Tensor& out, uint64_t seed, uint64_t first, double mean, double std))                            \
  X(trunc_normal, (const Tensor& out, uint64_t seed, uint64_t first, double mean, double std, double a, double b))  \
  X(dropout_mask, (const Tensor& out, uint64_t seed, uint64_t first, double p))

struct Backend {
#define HIPT_KERNEL_FIELD(name, params) void(*name) params = nullptr;
  HIPT_KERNELS(HIPT_KERNEL_FIELD)
#undef HIPT_KERNEL_FIELD
  bool registered = false;  // set by the backend's registration
  std::string why_empty;    // for a registered table: why an entry is missing ("" = no kernel yet)
};

// The table of one device type. Registration writes it; ops read it through `kernel`.
Backend& backend(DeviceType type);

// Every kernel name with whether `b` has it, in table order.
struct KernelEntry {
  const char* name;
  bool present;
};
std::vector<KernelEntry> kernel_entries(const Backend& b);

// Throws hipt::Error: "<op>: no kernel for <device> (<reason>)".
[[noreturn]] void throw_no_kernel(const char* op, Device device, const Backend& b);

// The kernel `entry` of `device`'s table, or hipt::Error naming the op and the device.
template <class F> F kernel(const char* op, Device device, F Backend::*entry) {
  const Backend& b = backend(device.type);
  F f = b.*entry;
  if (!f) throw_no_kernel(op, device, b);
  return f;
}
// The same for the device of `t`, which must be defined.
template <class F> F kernel(const char* op, const Tensor& t, F Backend::*entry) {
  HIPT_CHECK(t.defined(), "{}: got an undefined tensor", op);
  return kernel(op, t.device(), entry);
}

}  // namespace hipt
