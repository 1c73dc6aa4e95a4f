// Shape: the sizes (or strides) of a tensor in a fixed small array, so that creating a view never
// allocates. kMaxDims = 8 covers everything HIPT needs ([B, H, T, D] at most, plus room).
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace hipt {

constexpr int kMaxDims = 8;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int size() const { return n_; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  const int64_t* begin() const { return d_.data(); }
  const int64_t* end() const { return d_.data() + n_; }
  int64_t numel() const;  // product of the dims; 1 for a scalar []
  void push_back(int64_t v);
  void insert(int at, int64_t v);
  void erase(int at);
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  std::string str() const;  // "[2, 3, 4]"

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, kMaxDims> d_{};
  int n_ = 0;
};

// Row-major (C order) strides, in elements.
Shape contiguous_strides(const Shape& shape);

// NumPy broadcasting of two shapes; throws hipt::Error naming `op` and both shapes when they do
// not broadcast.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Maps a possibly negative axis into [0, ndim); throws naming `op` when out of range (a 0-dim
// tensor has no axis at all).
int wrap_dim(const char* op, int64_t dim, int ndim);

// A shape seen as [outer, n, inner] around axis `dim`: how every "along one axis" kernel walks a
// contiguous tensor.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at_axis(const Shape& shape, int dim);

}  // namespace hipt
