#include "tensor/dispatch.h"

namespace hipt {

void check_defined(const char* op, const Tensor& t) { HIPT_CHECK(t.defined(), "{}: got an undefined tensor", op); }

void check_cpu(const char* op, const Tensor& t) {
  check_defined(op, t);
  HIPT_CHECK(t.device().type == DeviceType::CPU, "{}: no kernel for device {} (tensor {})", op, t.device().str(),
             t.str());
}

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

void check_index(const char* op, const Tensor& index) {
  HIPT_CHECK(index.dtype() == DType::I64 || index.dtype() == DType::I32, "{}: index must be i64 or i32, got {}", op,
             index.str());
}

}  // namespace hipt
