// The starter layers: Linear and LayerNorm, initialised as PyTorch initialises them.
#pragma once
#include "nn/module.h"
#include "tensor/random.h"

namespace hipt::nn {

// y = x Wᵀ + b; x [..., in] -> [..., out]. weight [out, in], bias [out] (PyTorch layout).
// Init as torch.nn.Linear: W, b ~ U(-1/√in, 1/√in).
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias, Generator& gen, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;  // bias undefined when built without one
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
