// The per-element formulas of the elementwise ops and of max: one definition that the CPU kernels
// (tensor/cpu/elementwise.cpp, reduce.cpp) and the CUDA kernels (cuda/elementwise.cu, reduce.cu)
// both call. T is the arithmetic type: float or double (16-bit storage types compute in float).
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/hd.h"
#include "tensor/ops.h"

namespace hipt::ew {

template <class T> HIPT_HD T unary_op(ops::Unary op, T x) {
  switch (op) {
    case ops::Unary::Neg: return -x;
    case ops::Unary::Exp: return std::exp(x);
    case ops::Unary::Log: return std::log(x);
    case ops::Unary::Sqrt: return std::sqrt(x);
    case ops::Unary::Rsqrt: return T(1) / std::sqrt(x);
    case ops::Unary::Tanh: return std::tanh(x);
    case ops::Unary::Erf: return std::erf(x);
    case ops::Unary::Abs: return std::abs(x);
    case ops::Unary::Relu: return x > T(0) ? x : T(0);
    case ops::Unary::Sigmoid: return T(1) / (T(1) + std::exp(-x));
  }
  return x;
}

// The op is a template parameter so that a kernel's inner loop is one tight, vectorisable loop.
// Max and Min propagate NaN from either side.
template <ops::Binary op, class T> HIPT_HD T binary_op(T a, T b) {
  if constexpr (op == ops::Binary::Add) return a + b;
  if constexpr (op == ops::Binary::Sub) return a - b;
  if constexpr (op == ops::Binary::Mul) return a * b;
  if constexpr (op == ops::Binary::Div) return a / b;
  if constexpr (op == ops::Binary::Pow) return std::pow(a, b);
  if constexpr (op == ops::Binary::Max) return (a > b || std::isnan(a)) ? a : b;
  if constexpr (op == ops::Binary::Min) return (a < b || std::isnan(a)) ? a : b;
}

// The same with the op chosen at run time (for callers outside inner loops).
template <class T> HIPT_HD T binary_op(ops::Binary op, T a, T b) {
  switch (op) {
    case ops::Binary::Add: return binary_op<ops::Binary::Add>(a, b);
    case ops::Binary::Sub: return binary_op<ops::Binary::Sub>(a, b);
    case ops::Binary::Mul: return binary_op<ops::Binary::Mul>(a, b);
    case ops::Binary::Div: return binary_op<ops::Binary::Div>(a, b);
    case ops::Binary::Pow: return binary_op<ops::Binary::Pow>(a, b);
    case ops::Binary::Max: return binary_op<ops::Binary::Max>(a, b);
    case ops::Binary::Min: return binary_op<ops::Binary::Min>(a, b);
  }
  return a;
}

// Any comparable T (the integer dtypes and bool too); NaN compares unequal to everything.
template <class T> HIPT_HD bool compare_op(ops::Compare op, T a, T b) {
  switch (op) {
    case ops::Compare::Eq: return a == b;
    case ops::Compare::Ne: return a != b;
    case ops::Compare::Lt: return a < b;
    case ops::Compare::Le: return a <= b;
    case ops::Compare::Gt: return a > b;
    case ops::Compare::Ge: return a >= b;
  }
  return false;
}

// max along an axis, walked in order from a current best that is not NaN: does `v` replace it?
// A NaN wins (as in PyTorch) and a tie keeps the earlier element.
template <class T> HIPT_HD bool max_replaces(T v, T best) { return v > best || std::isnan(v); }

// The same rule for two partial results (value, index) of a tree reduction, in either order:
// does (va, ia) win over (vb, ib)? The first NaN wins, then the larger value, then the lower index,
// so any tree gives what the in-order walk gives. An index below 0 marks an empty partial.
template <class T> HIPT_HD bool max_pair_wins(T va, int64_t ia, T vb, int64_t ib) {
  if (ia < 0) return false;
  if (ib < 0) return true;
  const bool na = std::isnan(va), nb = std::isnan(vb);
  if (na || nb) return na && (!nb || ia < ib);
  return va > vb || (va == vb && ia < ib);
}

}  // namespace hipt::ew
