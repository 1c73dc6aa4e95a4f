// Elementwise kernels: unary math, broadcasting binary ops, comparisons, where, axpy.
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/elementwise_math.h"

namespace hipt::cpu {
namespace {

template <ops::Binary op, class T> void binary_typed(const Tensor& out, const Tensor& a, const Tensor& b) {
  T* o = out.data<T>();
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  auto L = make_layout<3>(out.shape(), {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape())});
  for_each_row<3>(L, [&](const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& st, int64_t n) {
    T* po = o + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = ew::binary_op<op>(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) po[i] = ew::binary_op<op>(x[i], yv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const T xv = *x;
      for (int64_t i = 0; i < n; ++i) po[i] = ew::binary_op<op>(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i * st[0]] = ew::binary_op<op>(x[i * st[1]], y[i * st[2]]);
    }
  });
}

template <class T> void binary_dispatch(ops::Binary op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    case ops::Binary::Add: return binary_typed<ops::Binary::Add, T>(out, a, b);
    case ops::Binary::Sub: return binary_typed<ops::Binary::Sub, T>(out, a, b);
    case ops::Binary::Mul: return binary_typed<ops::Binary::Mul, T>(out, a, b);
    case ops::Binary::Div: return binary_typed<ops::Binary::Div, T>(out, a, b);
    case ops::Binary::Pow: return binary_typed<ops::Binary::Pow, T>(out, a, b);
    case ops::Binary::Max: return binary_typed<ops::Binary::Max, T>(out, a, b);
    case ops::Binary::Min: return binary_typed<ops::Binary::Min, T>(out, a, b);
  }
}

}  // namespace

void unary(ops::Unary op, const Tensor& out, const Tensor& x) {
  HIPT_DISPATCH_FLOAT(ops::op_name(op), x.dtype(), T, {
    T* o = out.data<T>();
    const T* px = x.data<T>();
    auto L = make_layout<2>(out.shape(), {out.strides(), broadcast_strides(x, out.shape())});
    for_each_row<2>(L, [&](const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t n) {
      for (int64_t i = 0; i < n; ++i) o[off[0] + i * st[0]] = ew::unary_op<T>(op, px[off[1] + i * st[1]]);
    }, 1 << 13);
  });
}

void binary(ops::Binary op, const Tensor& out, const Tensor& a, const Tensor& b) {
  HIPT_DISPATCH_FLOAT(ops::op_name(op), out.dtype(), T, binary_dispatch<T>(op, out, a, b));
}

void compare(ops::Compare op, const Tensor& out, const Tensor& a, const Tensor& b) {
  HIPT_DISPATCH_ALL(a.dtype(), T, {
    bool* o = out.data<bool>();
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    auto L = make_layout<3>(out.shape(), {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape())});
    for_each_row<3>(L, [&](const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& st, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        o[off[0] + i * st[0]] = ew::compare_op(op, pa[off[1] + i * st[1]], pb[off[2] + i * st[2]]);
    });
  });
}

void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  HIPT_DISPATCH_ALL(out.dtype(), T, {
    T* o = static_cast<T*>(out.raw_data());
    const bool* c = cond.data<bool>();
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    const Shape& s = out.shape();
    auto L = make_layout<4>(s, {out.strides(), broadcast_strides(cond, s), broadcast_strides(a, s), broadcast_strides(b, s)});
    for_each_row<4>(L, [&](const std::array<int64_t, 4>& off, const std::array<int64_t, 4>& st, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        o[off[0] + i * st[0]] = c[off[1] + i * st[1]] ? pa[off[2] + i * st[2]] : pb[off[3] + i * st[3]];
    });
  });
}

void axpy(const Tensor& dst, const Tensor& src, double alpha) {
  HIPT_DISPATCH_FLOAT("add_", dst.dtype(), T, {
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    const T al = static_cast<T>(alpha);
    auto L = make_layout<2>(dst.shape(), {dst.strides(), broadcast_strides(src, dst.shape())});
    for_each_row<2>(L, [&](const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t n) {
      T* dp = d + off[0];
      const T* sp = s + off[1];
      if (st[0] == 1 && st[1] == 1) {
        for (int64_t i = 0; i < n; ++i) dp[i] += al * sp[i];
      } else {
        for (int64_t i = 0; i < n; ++i) dp[i * st[0]] += al * sp[i * st[1]];
      }
    });
  });
}

void scale(const Tensor& dst, double s) {
  HIPT_DISPATCH_FLOAT("mul_", dst.dtype(), T, {
    T* d = dst.data<T>();
    const T v = static_cast<T>(s);
    auto L = make_layout<1>(dst.shape(), {dst.strides()});
    for_each_row<1>(L, [&](const std::array<int64_t, 1>& off, const std::array<int64_t, 1>& st, int64_t n) {
      for (int64_t i = 0; i < n; ++i) d[off[0] + i * st[0]] *= v;
    });
  });
}

}  // namespace hipt::cpu
