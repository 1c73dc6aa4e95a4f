// The starter layers: Linear, WeightNormLinear and LayerNorm, initialised as PyTorch initialises them.
#pragma once
#include "nn/module.h"
#include "tensor/random.h"

namespace hipt::nn {

// Layers of a 16-bit dtype (bf16 for a bf16 forward on a GPU) draw their random init in f32, the
// dtype the random kernels have, and store it cast: init_dtype(bf16) is f32, any other dtype itself.
DType init_dtype(DType dtype);
Tensor init_uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype);
// fresh + other without a second buffer when no graph is recorded (`fresh` must be a tensor the
// caller just made that nothing else holds, of the result's shape); bf16 adds out of place.
Tensor add_into(const Tensor& fresh, const Tensor& other);

// y = x Wᵀ + b; x [..., in] -> [..., out]. weight [out, in], bias [out] (PyTorch layout).
// Init as torch.nn.Linear: W, b ~ U(-1/√in, 1/√in).
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias, Generator& gen, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;  // bias undefined when built without one
};

// Linear with a weight-normalised weight, as torch.nn.utils.weight_norm(nn.Linear(in, out), dim=0):
// W = g · v / ‖v‖, each row of v divided by its Euclidean norm and scaled by its g, so the layer
// learns each row's direction (v) apart from its length (g). Parameters in PyTorch's order and
// names: bias [out] (when built with one), weight_g [out, 1], weight_v [out, in]. Init: v and the
// bias as Linear (same draws from `gen`), g = ‖v‖, so W starts equal to Linear's weight.
// To keep the lengths fixed (DINO's last layer with norm_last_layer), fill weight_g with 1 and
// call freeze_g(): weight_g then no longer requires grad and optimizers leave it out.
class WeightNormLinear : public Module {
 public:
  WeightNormLinear(int64_t in, int64_t out, bool bias, Generator& gen, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;
  Tensor weight() const;  // g · v / ‖v‖ [out, in], differentiable in g and v
  void freeze_g() { weight_g.requires_grad_(false); }

  Tensor bias, weight_g, weight_v;  // bias undefined when built without one
};

// Over the last dim: (x - mean) / sqrt(var + eps) * weight + bias; weight = 1, bias = 0 at init.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;
  double eps;
};

}  // namespace hipt::nn
