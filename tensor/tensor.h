// Tensor: a view (shape, strides in elements, offset, dtype) onto a shared Storage.
//
// Views (reshape, permute, slice, expand, ...) share the Storage and never copy; `contiguous` is the
// one op that copies a layout. Ops are free functions: tensor/ops.h has the raw kernels (no
// autograd), autograd/functions.h the differentiable ones that most code should call.
//
// The autograd state sits behind one pointer that stays null for inference tensors, so inference
// pays one null check per op for autograd and nothing else (the c10 `autograd_meta_` idea).
#pragma once
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace hipt {

struct AutogradMeta;  // below; the graph machinery that uses it lives in autograd/

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() == false
  Tensor(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides, int64_t offset, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return shape_.size(); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_.numel(); }
  int64_t offset() const { return offset_; }  // in elements
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device{}; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Pointer to element [0, ..., 0]; T must match the dtype (uint16_t for f16/bf16).
  template <class T> T* data() const {
    bool ok;
    if constexpr (std::is_same_v<T, uint16_t>)
      ok = dtype_ == DType::F16 || dtype_ == DType::BF16;
    else
      ok = dtype_of<T>() == dtype_;
    HIPT_CHECK(ok, "data<T>: tensor is {}, asked for a {}-byte type", dtype_name(dtype_), sizeof(T));
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;
  double item() const;  // the single element of a one-element tensor, as double (copied from a GPU)
  // This tensor on `device`: itself when already there, otherwise a contiguous copy (no autograd
  // history; gradients do not flow across devices).
  Tensor to(Device device) const;

  // Same storage, new layout. The caller guarantees the view stays inside the storage.
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // --- autograd slot (the graph itself: autograd/autograd.h) ---
  bool requires_grad() const;
  // Marks a leaf as a parameter whose gradient backward() accumulates into grad().
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const;    // accumulated gradient of a leaf; undefined before the first backward
  void zero_grad();       // drops the accumulated gradient
  Tensor detach() const;  // same data, no autograd history
  bool is_leaf() const;
  const std::shared_ptr<AutogradMeta>& autograd_meta() const { return autograd_; }
  void set_autograd_meta(std::shared_ptr<AutogradMeta> m) { autograd_ = std::move(m); }

  std::string str() const;  // "f32[2, 3] cpu", for messages

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_, strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::F32;
  std::shared_ptr<AutogradMeta> autograd_;
};

struct Node;  // autograd/autograd.h

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                     // accumulated by backward() on leaves
  std::shared_ptr<Node> grad_fn;   // the op that produced this tensor; null on leaves
};

}  // namespace hipt
