#include "tensor/tensor.h"

#include <cstring>

namespace hipt {

Tensor::Tensor(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides, int64_t offset,
               DType dtype)
    : storage_(std::move(storage)), shape_(shape), strides_(strides), offset_(offset), dtype_(dtype) {}

int64_t Tensor::size(int64_t d) const { return shape_[wrap_dim("size", d, dim())]; }
int64_t Tensor::stride(int64_t d) const { return strides_[wrap_dim("stride", d, dim())]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;  // the stride of a size-1 dim never matters
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  HIPT_CHECK(defined(), "data: tensor is undefined");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

double Tensor::item() const {
  HIPT_CHECK(numel() == 1, "item: tensor {} has {} elements, expected 1", str(), numel());
  if (device().type != DeviceType::CPU) return to(Device{}).item();
  const void* p = raw_data();
  switch (dtype_) {
    case DType::F32: return *static_cast<const float*>(p);
    case DType::F64: return *static_cast<const double*>(p);
    case DType::F16: return f16_to_float(*static_cast<const uint16_t*>(p));
    case DType::BF16: return bf16_to_float(*static_cast<const uint16_t*>(p));
    case DType::I32: return *static_cast<const int32_t*>(p);
    case DType::I64: return static_cast<double>(*static_cast<const int64_t*>(p));
    case DType::U8: return *static_cast<const uint8_t*>(p);
    case DType::Bool: return *static_cast<const bool*>(p);
  }
  return 0;
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  return Tensor(storage_, shape, strides, offset, dtype_);
}

bool Tensor::requires_grad() const { return autograd_ && (autograd_->requires_grad || autograd_->grad_fn); }

Tensor& Tensor::requires_grad_(bool on) {
  HIPT_CHECK(!autograd_ || !autograd_->grad_fn,
             "requires_grad_: only leaf tensors can be marked; this one was computed by an op");
  HIPT_CHECK(!on || dtype_ == DType::F32 || dtype_ == DType::F64,
             "requires_grad_: only f32/f64 tensors can require grad, this one is {}", dtype_name(dtype_));
  if (!autograd_) autograd_ = std::make_shared<AutogradMeta>();
  autograd_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return autograd_ ? autograd_->grad : Tensor(); }

void Tensor::zero_grad() {
  if (autograd_) autograd_->grad = Tensor();
}

Tensor Tensor::detach() const { return Tensor(storage_, shape_, strides_, offset_, dtype_); }

bool Tensor::is_leaf() const { return !autograd_ || !autograd_->grad_fn; }

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return fmt::format("{}{} {}", dtype_name(dtype_), shape_.str(), device().str());
}

}  // namespace hipt
