#include "nn/layers.h"

#include <cmath>

#include "autograd/nn_functions.h"

namespace hipt::nn {
namespace {

// x Wᵀ + b for Linear and WeightNormLinear; `who` names the layer in errors.
Tensor linear(const char* who, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  HIPT_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "{}: input {} does not end in in_features {}", who,
             x.shape().str(), weight.size(1));
  Tensor y = matmul(x.dim() == 1 ? unsqueeze(x, 0) : x, weight, false, true);
  if (bias.defined()) y = add_into(y, bias);  // the product is ours alone
  return x.dim() == 1 ? squeeze(y, 0) : y;
}

// The Euclidean norm of each row of v [out, in], as [out, 1].
Tensor row_norms(const Tensor& v) { return sqrt(sum(mul(v, v), 1, true)); }

}  // namespace

DType init_dtype(DType dtype) { return dtype == DType::BF16 || dtype == DType::F16 ? DType::F32 : dtype; }

Tensor init_uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  return ops::cast(ops::uniform(shape, low, high, gen, init_dtype(dtype)), dtype);
}

// In place through axpy, which has f32 and f64 kernels; bf16 through the out-of-place add.
Tensor add_into(const Tensor& fresh, const Tensor& other) {
  if (needs_graph(fresh, other) || fresh.dtype() == DType::BF16) return add(fresh, other);
  ops::add_(fresh, other);
  return fresh;
}

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator& gen, DType dtype) {
  HIPT_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got in={} out={}", in, out);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = register_parameter("weight", init_uniform({out, in}, -bound, bound, gen, dtype));
  if (with_bias) bias = register_parameter("bias", init_uniform({out}, -bound, bound, gen, dtype));
}

Tensor Linear::forward(const Tensor& x) const { return linear("Linear", x, weight, bias); }

WeightNormLinear::WeightNormLinear(int64_t in, int64_t out, bool with_bias, Generator& gen, DType dtype) {
  HIPT_CHECK(in > 0 && out > 0, "WeightNormLinear: sizes must be positive, got in={} out={}", in, out);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  Tensor v = init_uniform({out, in}, -bound, bound, gen, dtype);
  if (with_bias) bias = register_parameter("bias", init_uniform({out}, -bound, bound, gen, dtype));
  weight_g = register_parameter("weight_g", row_norms(v));
  weight_v = register_parameter("weight_v", v);
}

// PyTorch's _weight_norm(v, g, dim=0): v * (g / ‖v‖), the quotient taken on the [out, 1] column.
Tensor WeightNormLinear::weight() const { return mul(weight_v, div(weight_g, row_norms(weight_v))); }

Tensor WeightNormLinear::forward(const Tensor& x) const { return linear("WeightNormLinear", x, weight(), bias); }

LayerNorm::LayerNorm(int64_t dim, double eps_, DType dtype) : eps(eps_) {
  weight = register_parameter("weight", ops::ones({dim}, dtype));
  bias = register_parameter("bias", ops::zeros({dim}, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

}  // namespace hipt::nn
