// Argument checks shared by the ops in tensor/. Every message names the op and the tensors. (Which
// device has a kernel is the kernel table's question: tensor/backend.h.)
#pragma once
#include "tensor/tensor.h"

namespace hipt {

void check_defined(const char* op, const Tensor& t);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_floating(const char* op, const Tensor& t);  // f32 or f64
// f32 or f64 anywhere, bf16 on a CUDA device (bf16 storage, f32 arithmetic inside the kernel): the
// ops a bf16 forward pass runs. bf16 on the CPU is refused with a message saying so.
void check_floating_or_cuda_bf16(const char* op, const Tensor& t);
void check_index(const char* op, const Tensor& index);  // i64 or i32
// A destination whose elements overlap (an expanded view, stride 0) would be written by several
// threads at once and keep an arbitrary one of them: refused.
void check_writable(const char* op, const Tensor& dst);

}  // namespace hipt
