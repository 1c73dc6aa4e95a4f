#include "nn/layers.h"

#include <cmath>

#include "autograd/nn_functions.h"

namespace hipt::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator& gen, DType dtype) {
  HIPT_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got in={} out={}", in, out);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = register_parameter("weight", ops::uniform({out, in}, -bound, bound, gen, dtype));
  if (with_bias) bias = register_parameter("bias", ops::uniform({out}, -bound, bound, gen, dtype));
}

Tensor Linear::forward(const Tensor& x) const {
  HIPT_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "Linear: input {} does not end in in_features {}",
             x.shape().str(), weight.size(1));
  Tensor y = matmul(x.dim() == 1 ? unsqueeze(x, 0) : x, weight, false, true);
  if (bias.defined()) {
    // Without a graph the product is ours alone: add the bias in place (no second [.., out] buffer).
    if (needs_graph(y, bias)) y = add(y, bias);
    else ops::add_(y, bias);
  }
  return x.dim() == 1 ? squeeze(y, 0) : y;
}

LayerNorm::LayerNorm(int64_t dim, double eps_, DType dtype) : eps(eps_) {
  weight = register_parameter("weight", ops::ones({dim}, dtype));
  bias = register_parameter("bias", ops::zeros({dim}, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

}  // namespace hipt::nn
