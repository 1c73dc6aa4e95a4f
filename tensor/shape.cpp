#include "tensor/shape.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tensor/error.h"

namespace hipt {

Shape::Shape(std::initializer_list<int64_t> dims) {
  HIPT_CHECK(dims.size() <= kMaxDims, "shape: {} dims, at most {} supported", dims.size(), kMaxDims);
  for (int64_t v : dims) d_[n_++] = v;
}

Shape::Shape(const std::vector<int64_t>& dims) {
  HIPT_CHECK(dims.size() <= kMaxDims, "shape: {} dims, at most {} supported", dims.size(), kMaxDims);
  for (int64_t v : dims) d_[n_++] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < n_; ++i)
    HIPT_CHECK(!__builtin_mul_overflow(n, d_[i], &n), "shape {}: element count overflows 64 bits", str());
  return n;
}

void Shape::push_back(int64_t v) {
  HIPT_CHECK(n_ < kMaxDims, "shape: more than {} dims", kMaxDims);
  d_[n_++] = v;
}

void Shape::insert(int at, int64_t v) {
  HIPT_CHECK(n_ < kMaxDims, "shape: more than {} dims", kMaxDims);
  for (int i = n_; i > at; --i) d_[i] = d_[i - 1];
  d_[at] = v;
  ++n_;
}

void Shape::erase(int at) {
  for (int i = at; i + 1 < n_; ++i) d_[i] = d_[i + 1];
  --n_;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(begin(), end(), ", ")); }

bool Shape::operator==(const Shape& o) const {
  if (n_ != o.n_) return false;
  for (int i = 0; i < n_; ++i)
    if (d_[i] != o.d_[i]) return false;
  return true;
}

Shape contiguous_strides(const Shape& shape) {
  Shape s = shape;
  int64_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  int n = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    int ia = a.size() - n + i, ib = b.size() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    HIPT_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} do not broadcast (dim {}: {} vs {})",
               op, a.str(), b.str(), i - n, da, db);
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

int wrap_dim(const char* op, int64_t dim, int ndim) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  HIPT_CHECK(d >= 0 && d < ndim, "{}: dim {} out of range for a tensor of {} dims", op, dim, ndim);
  return static_cast<int>(d);
}

AxisSplit split_at_axis(const Shape& shape, int dim) {
  AxisSplit s;
  for (int i = 0; i < dim; ++i) s.outer *= shape[i];
  s.n = shape[dim];
  for (int i = dim + 1; i < shape.size(); ++i) s.inner *= shape[i];
  return s;
}

}  // namespace hipt
