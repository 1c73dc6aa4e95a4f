// The primitive ops on tensors, without autograd. Each checks its arguments (throwing hipt::Error
// naming the op and the shapes), picks the kernel for the tensors' device, and returns a new
// tensor; view ops return views sharing storage. Differentiable versions with the same names are
// in autograd/functions.h; call these directly only where no gradient is wanted.
//
// Math ops take f32 or f64 (f64 is what gradcheck and the double references run in). Index
// tensors are i64 (i32 accepted). Comparisons return bool.
#pragma once
#include <cstring>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace hipt::ops {

// ---------------------------------------------------------------- creation
Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = {});
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = {});
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = {});
Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = {});
Tensor scalar(double value, DType dtype = DType::F32);  // a 0-dim tensor
Tensor arange(int64_t start, int64_t end, int64_t step = 1, DType dtype = DType::I64);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);

// Host vectors in and out (row-major): from_vector makes a cpu tensor; to_vector reads any layout
// of a tensor on any device.
template <class T> Tensor from_vector(const std::vector<T>& v, const Shape& shape);
template <class T> std::vector<T> to_vector(const Tensor& t);

// ---------------------------------------------------------------- layout and copies
Tensor contiguous(const Tensor& t);  // t itself when already contiguous
Tensor clone(const Tensor& t);       // always a fresh contiguous copy
// src broadcast into dst's shape, casting. Across devices (cpu <-> cuda) the CUDA copy kernel moves
// the bytes; then src must have dst's shape.
void copy_(const Tensor& dst, const Tensor& src);
Tensor cast(const Tensor& t, DType dtype);          // round-to-nearest-even into f16/bf16

// ---------------------------------------------------------------- views (no copy)
Tensor reshape(const Tensor& t, const Shape& shape);  // one dim may be -1; copies a non-contiguous input
Tensor permute(const Tensor& t, const std::vector<int>& order);
Tensor transpose(const Tensor& t, int d0, int d1);
Tensor slice(const Tensor& t, int dim, int64_t start, int64_t end, int64_t step = 1);  // python-like bounds
Tensor select(const Tensor& t, int dim, int64_t index);  // drops `dim`
Tensor expand(const Tensor& t, const Shape& shape);      // size-1 dims broadcast to `shape`
Tensor squeeze(const Tensor& t, int dim);
Tensor unsqueeze(const Tensor& t, int dim);

// ---------------------------------------------------------------- joining and indexing
Tensor cat(const std::vector<Tensor>& ts, int dim);
Tensor stack(const std::vector<Tensor>& ts, int dim);
Tensor index_select(const Tensor& t, int dim, const Tensor& index);  // index: 1-d
// out[i][j] = t[index[i][j]][j] for dim 0, and so on: index has t's rank.
Tensor gather(const Tensor& t, int dim, const Tensor& index);
// The adjoints of the two above: zeros of `shape` with src added at the indexed places.
Tensor index_add(const Shape& shape, int dim, const Tensor& index, const Tensor& src);
Tensor scatter_add(const Shape& shape, int dim, const Tensor& index, const Tensor& src);

// ---------------------------------------------------------------- elementwise
enum class Unary { Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Erf, Abs, Relu, Sigmoid };
enum class Binary { Add, Sub, Mul, Div, Pow, Max, Min };
enum class Compare { Eq, Ne, Lt, Le, Gt, Ge };
const char* op_name(Unary op);
const char* op_name(Binary op);
const char* op_name(Compare op);

Tensor unary(Unary op, const Tensor& x);
Tensor binary(Binary op, const Tensor& a, const Tensor& b);  // broadcasting
Tensor compare(Compare op, const Tensor& a, const Tensor& b);  // broadcasting, bool result
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // broadcasting

inline Tensor neg(const Tensor& x) { return unary(Unary::Neg, x); }
inline Tensor exp(const Tensor& x) { return unary(Unary::Exp, x); }
inline Tensor log(const Tensor& x) { return unary(Unary::Log, x); }
inline Tensor sqrt(const Tensor& x) { return unary(Unary::Sqrt, x); }
inline Tensor rsqrt(const Tensor& x) { return unary(Unary::Rsqrt, x); }
inline Tensor tanh(const Tensor& x) { return unary(Unary::Tanh, x); }
inline Tensor erf(const Tensor& x) { return unary(Unary::Erf, x); }
inline Tensor abs(const Tensor& x) { return unary(Unary::Abs, x); }
inline Tensor relu(const Tensor& x) { return unary(Unary::Relu, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(Unary::Sigmoid, x); }
inline Tensor add(const Tensor& a, const Tensor& b) { return binary(Binary::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(Binary::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(Binary::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(Binary::Div, a, b); }
inline Tensor pow(const Tensor& a, const Tensor& b) { return binary(Binary::Pow, a, b); }
inline Tensor maximum(const Tensor& a, const Tensor& b) { return binary(Binary::Max, a, b); }
inline Tensor minimum(const Tensor& a, const Tensor& b) { return binary(Binary::Min, a, b); }
// With a scalar: the scalar takes the tensor's dtype.
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor pow(const Tensor& a, double s);

// In place, for optimizers and gradient accumulation only (never on tensors in a graph).
void add_(const Tensor& dst, const Tensor& src, double alpha = 1.0);  // dst += alpha * src
void mul_(const Tensor& dst, double s);
void fill_(const Tensor& dst, double value);

// ---------------------------------------------------------------- reductions
Tensor sum(const Tensor& t, int dim, bool keepdim = false);
Tensor sum(const Tensor& t);  // all elements, 0-dim result
Tensor mean(const Tensor& t, int dim, bool keepdim = false);
Tensor mean(const Tensor& t);
Tensor max(const Tensor& t, int dim, bool keepdim = false);
Tensor argmax(const Tensor& t, int dim, bool keepdim = false);  // i64, first maximum wins
std::pair<Tensor, Tensor> max_with_index(const Tensor& t, int dim, bool keepdim = false);  // both at once
// Sums a broadcast result back to `shape` (the gradient of expand / broadcasting).
Tensor sum_to(const Tensor& t, const Shape& shape);

// ---------------------------------------------------------------- matmul
// a [..., M, K] · b [..., K, N] -> [..., M, N], batch dims broadcast. trans_a / trans_b use the
// transposed last two dims of a / b (a [..., K, M], b [..., N, K]) without copying them.
// bf16 operands (f32 accumulation, bf16 result) are accepted on CUDA only.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// How CUDA multiplies f32 matrices (matmul and attention's products), process-wide: F32 (the
// default) is exact f32 arithmetic, as PyTorch's default; TF32 lets cuBLAS round the inputs to TF32
// (10-bit mantissa) on tensor cores, several times faster at about 1e-3 relative error. The CPU,
// f64 and bf16 products ignore it.
// Set it before work is queued, not while other threads multiply.
enum class MatmulPrecision { F32, TF32 };
void set_matmul_precision(MatmulPrecision p);
MatmulPrecision matmul_precision();
// Sets the precision for a scope and restores the previous one at its end.
class MatmulPrecisionGuard {
 public:
  explicit MatmulPrecisionGuard(MatmulPrecision p) : saved_(matmul_precision()) { set_matmul_precision(p); }
  ~MatmulPrecisionGuard() { set_matmul_precision(saved_); }
  MatmulPrecisionGuard(const MatmulPrecisionGuard&) = delete;
  MatmulPrecisionGuard& operator=(const MatmulPrecisionGuard&) = delete;

 private:
  MatmulPrecision saved_;
};

// ---------------------------------------------------------------- template definitions
template <class T> Tensor from_vector(const std::vector<T>& v, const Shape& shape) {
  HIPT_CHECK(static_cast<int64_t>(v.size()) == shape.numel(), "from_vector: {} values for shape {} ({} elements)",
             v.size(), shape.str(), shape.numel());
  Tensor t = ops::empty(shape, dtype_of<T>());
  if (!v.empty()) std::memcpy(t.raw_data(), v.data(), v.size() * sizeof(T));
  return t;
}

template <class T> std::vector<T> to_vector(const Tensor& t) {
  HIPT_CHECK(t.defined(), "to_vector: tensor is undefined");
  const Tensor h = t.to(Device{});
  Tensor c = ops::contiguous(h.dtype() == dtype_of<T>() ? h : ops::cast(h, dtype_of<T>()));
  std::vector<T> v(static_cast<size_t>(c.numel()));
  if (!v.empty()) std::memcpy(v.data(), c.raw_data(), v.size() * sizeof(T));
  return v;
}
template <> inline Tensor from_vector<bool>(const std::vector<bool>& v, const Shape& shape) {
  std::vector<uint8_t> b(v.begin(), v.end());
  Tensor t = from_vector<uint8_t>(b, shape);
  return Tensor(t.storage(), t.shape(), t.strides(), 0, DType::Bool);
}

}  // namespace hipt::ops
