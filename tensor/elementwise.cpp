// Elementwise ops and reductions: argument checks, output shapes, then the device's kernels.
#include "tensor/backend.h"
#include "tensor/checks.h"
#include "tensor/ops.h"

namespace hipt::ops {

const char* op_name(Unary op) {
  static const char* names[] = {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "abs", "relu", "sigmoid"};
  return names[static_cast<int>(op)];
}
const char* op_name(Binary op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"};
  return names[static_cast<int>(op)];
}
const char* op_name(Compare op) {
  static const char* names[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  return names[static_cast<int>(op)];
}

Tensor unary(Unary op, const Tensor& x) {
  auto k = kernel(op_name(op), x, &Backend::unary);
  check_floating(op_name(op), x);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  k(op, out, x);
  return out;
}

namespace {
Shape binary_shape(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
  return broadcast_shapes(op, a.shape(), b.shape());
}
}  // namespace

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  auto k = kernel(op_name(op), a, &Backend::binary);
  Shape s = binary_shape(op_name(op), a, b);
  if (op == Binary::Add || op == Binary::Mul)  // the two a bf16 forward pass needs
    check_floating_or_cuda_bf16(op_name(op), a);
  else
    check_floating(op_name(op), a);
  Tensor out = empty(s, a.dtype(), a.device());
  k(op, out, a, b);
  return out;
}

Tensor compare(Compare op, const Tensor& a, const Tensor& b) {
  auto k = kernel(op_name(op), a, &Backend::compare);
  Shape s = binary_shape(op_name(op), a, b);
  Tensor out = empty(s, DType::Bool, a.device());
  k(op, out, a, b);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  auto k = kernel("where", cond, &Backend::where);
  HIPT_CHECK(cond.dtype() == DType::Bool, "where: condition must be bool, got {}", cond.str());
  Shape s = broadcast_shapes("where", cond.shape(), binary_shape("where", a, b));
  check_same_device("where", cond, a);
  Tensor out = empty(s, a.dtype(), a.device());
  k(out, cond, a, b);
  return out;
}

namespace {
// a op s with the scalar as a 0-dim tensor of a's dtype on a's device.
Tensor with_scalar(Binary op, const Tensor& a, double s) {
  kernel(op_name(op), a, &Backend::binary);  // the op's own name in a no-kernel error
  return binary(op, a, full({}, s, a.dtype(), a.device()));
}
}  // namespace

Tensor add(const Tensor& a, double s) { return with_scalar(Binary::Add, a, s); }
Tensor mul(const Tensor& a, double s) { return with_scalar(Binary::Mul, a, s); }
Tensor pow(const Tensor& a, double s) { return with_scalar(Binary::Pow, a, s); }

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  auto k = kernel("add_", dst, &Backend::axpy);
  binary_shape("add_", dst, src);
  check_writable("add_", dst);
  HIPT_CHECK(broadcast_shapes("add_", dst.shape(), src.shape()) == dst.shape(), "add_: {} does not broadcast to {}",
             src.shape().str(), dst.shape().str());
  k(dst, src, alpha);
}

void mul_(const Tensor& dst, double s) {
  auto k = kernel("mul_", dst, &Backend::scale);
  check_writable("mul_", dst);
  k(dst, s);
}

// ---------------------------------------------------------------- reductions

namespace {
Shape reduced_shape(const Shape& s, int d, bool keepdim) {
  Shape r = s;
  if (keepdim)
    r[d] = 1;
  else
    r.erase(d);
  return r;
}
}  // namespace

Tensor sum(const Tensor& t, int dim, bool keepdim) {
  auto k = kernel("sum", t, &Backend::sum);
  check_floating("sum", t);
  int d = wrap_dim("sum", dim, t.dim());
  Tensor x = contiguous(t);
  AxisSplit p = split_at_axis(x.shape(), d);
  Tensor out = empty(reduced_shape(x.shape(), d, keepdim), x.dtype(), x.device());
  k(out, x, p.outer, p.n, p.inner);
  return out;
}

Tensor sum(const Tensor& t) { return sum(reshape(t, {t.numel()}), 0, false); }

Tensor mean(const Tensor& t, int dim, bool keepdim) {
  kernel("mean", t, &Backend::sum);
  int d = wrap_dim("mean", dim, t.dim());
  Tensor s = sum(t, d, keepdim);
  mul_(s, 1.0 / static_cast<double>(t.shape()[d]));
  return s;
}

Tensor mean(const Tensor& t) {
  kernel("mean", t, &Backend::sum);
  Tensor s = sum(t);
  mul_(s, 1.0 / static_cast<double>(t.numel()));
  return s;
}

namespace {
std::pair<Tensor, Tensor> max_impl(const char* op, const Tensor& t, int dim, bool keepdim) {
  auto k = kernel(op, t, &Backend::max);
  check_floating(op, t);
  int d = wrap_dim(op, dim, t.dim());
  Tensor x = contiguous(t);
  HIPT_CHECK(x.shape()[d] > 0, "{}: dim {} of {} is empty", op, d, x.shape().str());
  AxisSplit p = split_at_axis(x.shape(), d);
  Shape rs = reduced_shape(x.shape(), d, keepdim);
  Tensor values = empty(rs, x.dtype(), x.device()), index = empty(rs, DType::I64, x.device());
  k(values, index, x, p.outer, p.n, p.inner);
  return {values, index};
}
}  // namespace

std::pair<Tensor, Tensor> max_with_index(const Tensor& t, int dim, bool keepdim) {
  return max_impl("max", t, dim, keepdim);
}
Tensor max(const Tensor& t, int dim, bool keepdim) { return max_impl("max", t, dim, keepdim).first; }
Tensor argmax(const Tensor& t, int dim, bool keepdim) { return max_impl("argmax", t, dim, keepdim).second; }

Tensor sum_to(const Tensor& t, const Shape& shape) {
  kernel("sum_to", t, &Backend::sum);
  if (t.shape() == shape) return t;
  HIPT_CHECK(broadcast_shapes("sum_to", shape, t.shape()) == t.shape(), "sum_to: {} is not a broadcast of {}",
             t.shape().str(), shape.str());
  Tensor r = t;
  int lead = t.dim() - shape.size();
  for (int i = 0; i < lead; ++i) r = sum(r, 0, false);
  for (int d = 0; d < shape.size(); ++d)
    if (shape[d] == 1 && r.shape()[d] != 1) r = sum(r, d, true);
  return r;
}

}  // namespace hipt::ops
