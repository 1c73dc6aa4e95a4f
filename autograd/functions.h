// The differentiable ops: the public API for model code. Each has the raw op of tensor/ops.h as
// its forward and its backward rule right next to it in autograd/*.cpp. With grad mode off, or
// when no input requires grad, each is the raw op plus one check.
#pragma once
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"

namespace hipt {

// ---------------------------------------------------------------- elementwise (broadcasting)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);      // a > 0 where b's gradient is needed
Tensor maximum(const Tensor& a, const Tensor& b);  // ties send the gradient to a
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor pow(const Tensor& a, double s);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }

// ---------------------------------------------------------------- reductions
Tensor sum(const Tensor& t, int dim, bool keepdim = false);
Tensor sum(const Tensor& t);
Tensor mean(const Tensor& t, int dim, bool keepdim = false);
Tensor mean(const Tensor& t);
Tensor max(const Tensor& t, int dim, bool keepdim = false);  // gradient to the first maximum

// ---------------------------------------------------------------- movement
Tensor reshape(const Tensor& t, const Shape& shape);
Tensor permute(const Tensor& t, const std::vector<int>& order);
Tensor transpose(const Tensor& t, int d0, int d1);
Tensor slice(const Tensor& t, int dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& t, int dim, int64_t index);
Tensor expand(const Tensor& t, const Shape& shape);
Tensor squeeze(const Tensor& t, int dim);
Tensor unsqueeze(const Tensor& t, int dim);
Tensor contiguous(const Tensor& t);
Tensor cat(const std::vector<Tensor>& ts, int dim);
Tensor stack(const std::vector<Tensor>& ts, int dim);
Tensor index_select(const Tensor& t, int dim, const Tensor& index);
Tensor gather(const Tensor& t, int dim, const Tensor& index);

// ---------------------------------------------------------------- matmul
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

}  // namespace hipt
