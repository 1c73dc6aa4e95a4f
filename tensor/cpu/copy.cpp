// Strided copy with dtype conversion, and fill.
#include <type_traits>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"

namespace hipt::cpu {

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape s = shape;
  int off = shape.size() - t.dim();
  for (int d = 0; d < shape.size(); ++d) {
    int td = d - off;
    s[d] = (td < 0 || t.shape()[td] == 1) ? 0 : t.strides()[td];
  }
  return s;
}

namespace {

template <class D, class S> inline D convert(S s) {
  if constexpr (std::is_same_v<D, S>) {
    return s;
  } else if constexpr (std::is_same_v<D, bool>) {
    if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>)
      return static_cast<float>(s) != 0.0f;
    else
      return s != S(0);
  } else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>) {
    return D(static_cast<float>(s));
  } else if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>) {
    return static_cast<D>(static_cast<float>(s));
  } else {
    return static_cast<D>(s);
  }
}

template <class D, class S> void copy_typed(const Tensor& dst, const Tensor& src) {
  D* d = static_cast<D*>(dst.raw_data());
  const S* s = static_cast<const S*>(src.raw_data());
  auto L = make_layout<2>(dst.shape(), {dst.strides(), broadcast_strides(src, dst.shape())});
  for_each_row<2>(L, [&](const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t n) {
    D* dp = d + off[0];
    const S* sp = s + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) dp[i] = convert<D>(sp[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) dp[i * st[0]] = convert<D>(sp[i * st[1]]);
    }
  });
}

}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  HIPT_DISPATCH_ALL(dst.dtype(), D, HIPT_DISPATCH_ALL(src.dtype(), S, copy_typed<D, S>(dst, src)));
}

void fill(const Tensor& dst, double value) {
  HIPT_DISPATCH_ALL(dst.dtype(), D, {
    D v = convert<D>(value);
    D* d = static_cast<D*>(dst.raw_data());
    auto L = make_layout<1>(dst.shape(), {dst.strides()});
    for_each_row<1>(L, [&](const std::array<int64_t, 1>& off, const std::array<int64_t, 1>& st, int64_t n) {
      for (int64_t i = 0; i < n; ++i) d[off[0] + i * st[0]] = v;
    });
  });
}

}  // namespace hipt::cpu
