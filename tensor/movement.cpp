// Creation, copies, casts, views, joining and indexing.
#include <algorithm>
#include <numeric>

#include "tensor/backend.h"
#include "tensor/checks.h"
#include "tensor/ops.h"

namespace hipt::ops {

// ---------------------------------------------------------------- creation

namespace {
// Memory for `shape` on `device`. Asks the device's table first, so that a device without a
// backend fails naming `op` and the reason rather than the allocator.
Tensor allocate(const char* op, const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) HIPT_CHECK(d >= 0, "{}: negative size in shape {}", op, shape.str());
  if (device.type != DeviceType::CPU && !allocator(device.type)) throw_no_kernel(op, device, backend(device.type));
  auto storage = Storage::allocate(static_cast<size_t>(shape.numel()) * dtype_size(dtype), device);
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor filled(const char* op, const Shape& shape, double value, DType dtype, Device device) {
  auto k = kernel(op, device, &Backend::fill);
  Tensor t = allocate(op, shape, dtype, device);
  k(t, value);
  return t;
}
}  // namespace

Tensor empty(const Shape& shape, DType dtype, Device device) { return allocate("empty", shape, dtype, device); }
Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  return filled("full", shape, value, dtype, device);
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return filled("zeros", shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return filled("ones", shape, 1.0, dtype, device); }
Tensor scalar(double value, DType dtype) { return full(Shape{}, value, dtype); }
Tensor zeros_like(const Tensor& t) {
  check_defined("zeros_like", t);
  return filled("zeros_like", t.shape(), 0.0, t.dtype(), t.device());
}
Tensor ones_like(const Tensor& t) {
  check_defined("ones_like", t);
  return filled("ones_like", t.shape(), 1.0, t.dtype(), t.device());
}

Tensor arange(int64_t start, int64_t end, int64_t step, DType dtype) {
  HIPT_CHECK(step != 0, "arange: step must be non-zero");
  int64_t n = std::max<int64_t>(0, (end - start + step - (step > 0 ? 1 : -1)) / step);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = start + i * step;
  Tensor t = from_vector(v, {n});
  return dtype == DType::I64 ? t : cast(t, dtype);
}

void fill_(const Tensor& dst, double value) {
  auto k = kernel("fill_", dst, &Backend::fill);
  check_writable("fill_", dst);
  k(dst, value);
}

// ---------------------------------------------------------------- copies

void copy_(const Tensor& dst, const Tensor& src) {
  check_defined("copy_", dst);
  check_defined("copy_", src);
  // A copy between devices runs on the GPU side's table: only that backend can move the bytes.
  const Device on = dst.device().type == DeviceType::CPU ? src.device() : dst.device();
  auto k = kernel("copy_", on, &Backend::copy);
  if (dst.device().type == src.device().type) check_same_device("copy_", dst, src);
  else
    HIPT_CHECK(dst.shape() == src.shape(), "copy_: a copy between {} and {} needs equal shapes: {} vs {}",
               src.device().str(), dst.device().str(), src.shape().str(), dst.shape().str());
  check_writable("copy_", dst);
  HIPT_CHECK(broadcast_shapes("copy_", dst.shape(), src.shape()) == dst.shape(),
             "copy_: source {} does not broadcast to destination {}", src.shape().str(), dst.shape().str());
  k(dst, src);
}

namespace {
// A fresh contiguous copy of t in `dtype` through the device's copy kernel.
Tensor copied(const char* op, const Tensor& t, DType dtype) {
  auto k = kernel(op, t, &Backend::copy);
  Tensor out = empty(t.shape(), dtype, t.device());
  k(out, t);
  return out;
}
}  // namespace

Tensor contiguous(const Tensor& t) {
  check_defined("contiguous", t);
  return t.is_contiguous() ? t : copied("contiguous", t, t.dtype());
}

Tensor clone(const Tensor& t) { return copied("clone", t, t.dtype()); }

Tensor cast(const Tensor& t, DType dtype) {
  check_defined("cast", t);
  return t.dtype() == dtype ? t : copied("cast", t, dtype);
}

// ---------------------------------------------------------------- views

Tensor reshape(const Tensor& t, const Shape& shape) {
  check_defined("reshape", t);
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      HIPT_CHECK(infer < 0, "reshape: more than one -1 in {}", shape.str());
      infer = i;
    } else {
      HIPT_CHECK(s[i] >= 0, "reshape: negative size in {}", shape.str());
      known *= s[i];
    }
  }
  if (infer >= 0) {
    HIPT_CHECK(known > 0 && t.numel() % known == 0, "reshape: cannot reshape {} into {}", t.shape().str(), shape.str());
    s[infer] = t.numel() / known;
  }
  HIPT_CHECK(s.numel() == t.numel(), "reshape: cannot reshape {} ({} elements) into {} ({} elements)", t.shape().str(),
             t.numel(), s.str(), s.numel());
  Tensor c = contiguous(t);  // a copy only for a non-contiguous input
  return c.as_strided(s, contiguous_strides(s), c.offset());
}

Tensor permute(const Tensor& t, const std::vector<int>& order) {
  check_defined("permute", t);
  HIPT_CHECK(static_cast<int>(order.size()) == t.dim(), "permute: {} axes given for a tensor of shape {}", order.size(),
             t.shape().str());
  Shape sh, st;
  std::vector<bool> seen(order.size(), false);
  for (int o : order) {
    int d = wrap_dim("permute", o, t.dim());
    HIPT_CHECK(!seen[d], "permute: axis {} repeated", d);
    seen[d] = true;
    sh.push_back(t.shape()[d]);
    st.push_back(t.strides()[d]);
  }
  return t.as_strided(sh, st, t.offset());
}

Tensor transpose(const Tensor& t, int d0, int d1) {
  std::vector<int> order(static_cast<size_t>(t.dim()));
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim("transpose", d0, t.dim())], order[wrap_dim("transpose", d1, t.dim())]);
  return permute(t, order);
}

Tensor slice(const Tensor& t, int dim, int64_t start, int64_t end, int64_t step) {
  check_defined("slice", t);
  int d = wrap_dim("slice", dim, t.dim());
  HIPT_CHECK(step >= 1, "slice: step must be positive, got {}", step);
  int64_t n = t.shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape sh = t.shape(), st = t.strides();
  sh[d] = (end - start + step - 1) / step;
  st[d] = t.strides()[d] * step;
  return t.as_strided(sh, st, t.offset() + start * t.strides()[d]);
}

Tensor select(const Tensor& t, int dim, int64_t index) {
  int d = wrap_dim("select", dim, t.dim());
  int64_t n = t.shape()[d];
  HIPT_CHECK(index >= -n && index < n, "select: index {} out of range for dim {} of size {}", index, d, n);
  if (index < 0) index += n;
  return squeeze(slice(t, d, index, index + 1), d);
}

Tensor expand(const Tensor& t, const Shape& shape) {
  check_defined("expand", t);
  HIPT_CHECK(shape.size() >= t.dim(), "expand: cannot expand {} to fewer dims {}", t.shape().str(), shape.str());
  Shape st = shape;
  int off = shape.size() - t.dim();
  for (int d = 0; d < shape.size(); ++d) {
    int td = d - off;
    if (td < 0) {
      st[d] = 0;
    } else if (t.shape()[td] == shape[d]) {
      st[d] = t.strides()[td];
    } else {
      HIPT_CHECK(t.shape()[td] == 1, "expand: cannot expand {} to {} (dim {}: {} is not 1)", t.shape().str(),
                 shape.str(), d, t.shape()[td]);
      st[d] = 0;
    }
  }
  return t.as_strided(shape, st, t.offset());
}

Tensor squeeze(const Tensor& t, int dim) {
  int d = wrap_dim("squeeze", dim, t.dim());
  HIPT_CHECK(t.shape()[d] == 1, "squeeze: dim {} of {} has size {}, not 1", d, t.shape().str(), t.shape()[d]);
  Shape sh = t.shape(), st = t.strides();
  sh.erase(d);
  st.erase(d);
  return t.as_strided(sh, st, t.offset());
}

Tensor unsqueeze(const Tensor& t, int dim) {
  check_defined("unsqueeze", t);
  int d = wrap_dim("unsqueeze", dim, t.dim() + 1);
  Shape sh = t.shape(), st = t.strides();
  int64_t stride = d < t.dim() ? t.strides()[d] * t.shape()[d] : 1;
  sh.insert(d, 1);
  st.insert(d, stride);
  return t.as_strided(sh, st, t.offset());
}

// ---------------------------------------------------------------- joining

Tensor cat(const std::vector<Tensor>& ts, int dim) {
  HIPT_CHECK(!ts.empty(), "cat: no tensors given");
  const Tensor& first = ts[0];
  auto k = kernel("cat", first, &Backend::copy);
  int d = wrap_dim("cat", dim, first.dim());
  int64_t total = 0;
  for (const Tensor& t : ts) {
    check_defined("cat", t);
    check_same_dtype("cat", first, t);
    check_same_device("cat", first, t);
    bool same = t.dim() == first.dim();
    for (int i = 0; same && i < t.dim(); ++i) same = i == d || t.shape()[i] == first.shape()[i];
    HIPT_CHECK(same, "cat: shapes {} and {} differ outside dim {}", first.shape().str(), t.shape().str(), d);
    total += t.shape()[d];
  }
  Shape sh = first.shape();
  sh[d] = total;
  Tensor out = empty(sh, first.dtype(), first.device());
  int64_t at = 0;
  for (const Tensor& t : ts) {
    k(slice(out, d, at, at + t.shape()[d]), t);
    at += t.shape()[d];
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& ts, int dim) {
  HIPT_CHECK(!ts.empty(), "stack: no tensors given");
  kernel("stack", ts[0], &Backend::copy);
  int d = wrap_dim("stack", dim, ts[0].dim() + 1);
  std::vector<Tensor> parts;
  for (const Tensor& t : ts) {
    HIPT_CHECK(t.shape() == ts[0].shape(), "stack: shapes {} and {} differ", ts[0].shape().str(), t.shape().str());
    parts.push_back(unsqueeze(t, d));
  }
  return cat(parts, d);
}

// ---------------------------------------------------------------- indexing

Tensor index_select(const Tensor& t, int dim, const Tensor& index) {
  auto k = kernel("index_select", t, &Backend::index_select);
  check_defined("index_select", index);
  check_same_device("index_select", t, index);
  check_index("index_select", index);
  HIPT_CHECK(index.dim() == 1, "index_select: index must be 1-d, got {}", index.shape().str());
  int d = wrap_dim("index_select", dim, t.dim());
  Tensor x = contiguous(t), idx = contiguous(index);
  Shape sh = x.shape();
  sh[d] = idx.numel();
  Tensor out = empty(sh, x.dtype(), x.device());
  AxisSplit p = split_at_axis(x.shape(), d);
  k(out, x, idx, p.outer, p.n, p.inner);
  return out;
}

Tensor index_add(const Shape& shape, int dim, const Tensor& index, const Tensor& src) {
  auto k = kernel("index_add", src, &Backend::index_add);
  check_defined("index_add", index);
  check_same_device("index_add", src, index);
  check_index("index_add", index);
  int d = wrap_dim("index_add", dim, shape.size());
  bool ok = index.dim() == 1 && src.dim() == shape.size() && src.shape()[d] == index.numel();
  for (int i = 0; ok && i < shape.size(); ++i) ok = i == d || src.shape()[i] == shape[i];
  HIPT_CHECK(ok, "index_add: src {} and index {} do not match target {} at dim {}", src.shape().str(),
             index.shape().str(), shape.str(), d);
  Tensor out = zeros(shape, src.dtype(), src.device());
  AxisSplit p = split_at_axis(shape, d);
  k(out, contiguous(src), contiguous(index), p.outer, p.n, p.inner);
  return out;
}

namespace {
void check_gather_shapes(const char* op, const Shape& data, int d, const Tensor& index) {
  bool ok = index.dim() == data.size();
  for (int i = 0; ok && i < data.size(); ++i) ok = i == d || index.shape()[i] == data[i];
  HIPT_CHECK(ok, "{}: index {} must match data {} in every dim but {}", op, index.shape().str(), data.str(), d);
}
}  // namespace

Tensor gather(const Tensor& t, int dim, const Tensor& index) {
  auto k = kernel("gather", t, &Backend::gather);
  check_defined("gather", index);
  check_same_device("gather", t, index);
  check_index("gather", index);
  int d = wrap_dim("gather", dim, t.dim());
  check_gather_shapes("gather", t.shape(), d, index);
  Tensor out = empty(index.shape(), t.dtype(), t.device());
  k(out, contiguous(t), d, contiguous(index));
  return out;
}

Tensor scatter_add(const Shape& shape, int dim, const Tensor& index, const Tensor& src) {
  auto k = kernel("scatter_add", src, &Backend::scatter_add);
  check_defined("scatter_add", index);
  check_same_device("scatter_add", src, index);
  check_index("scatter_add", index);
  int d = wrap_dim("scatter_add", dim, shape.size());
  check_gather_shapes("scatter_add", shape, d, index);
  HIPT_CHECK(src.shape() == index.shape(), "scatter_add: src {} must have index's shape {}", src.shape().str(),
             index.shape().str());
  Tensor out = zeros(shape, src.dtype(), src.device());
  k(out, d, contiguous(index), contiguous(src));
  return out;
}

}  // namespace hipt::ops

namespace hipt {

Tensor Tensor::to(Device device) const {
  HIPT_CHECK(defined(), "to: tensor is undefined");
  if (this->device() == device) return *this;
  Tensor out = ops::empty(shape(), dtype(), device);
  ops::copy_(out, *this);
  return out;
}

}  // namespace hipt
