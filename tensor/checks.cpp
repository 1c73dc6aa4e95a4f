#include "tensor/checks.h"

namespace hipt {

void check_defined(const char* op, const Tensor& t) { HIPT_CHECK(t.defined(), "{}: got an undefined tensor", op); }

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  HIPT_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} vs {}", op, a.str(), b.str());
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  HIPT_CHECK(a.device() == b.device(), "{}: device mismatch: {} vs {}", op, a.str(), b.str());
}

void check_floating(const char* op, const Tensor& t) {
  HIPT_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, "{}: dtype {} not supported (f32, f64): {}", op,
             dtype_name(t.dtype()), t.str());
}

void check_floating_or_cuda_bf16(const char* op, const Tensor& t) {
  if (t.dtype() == DType::BF16) {
    HIPT_CHECK(t.device().type == DeviceType::CUDA, "{}: bf16 compute is CUDA-only; cast {} to f32 on the CPU", op,
               t.str());
    return;
  }
  check_floating(op, t);
}

void check_index(const char* op, const Tensor& index) {
  HIPT_CHECK(index.dtype() == DType::I64 || index.dtype() == DType::I32, "{}: index must be i64 or i32, got {}", op,
             index.str());
}

void check_writable(const char* op, const Tensor& dst) {
  if (dst.numel() == 0) return;  // an empty tensor writes nothing (its strides may be 0)
  for (int d = 0; d < dst.dim(); ++d)
    HIPT_CHECK(dst.strides()[d] != 0 || dst.shape()[d] <= 1,
               "{}: cannot write into {}: dim {} is an expanded view (stride 0); make it contiguous first", op,
               dst.str(), d);
}

}  // namespace hipt
