// Gradient clipping, applied to the parameters' grad() in place between backward() and the
// optimizer step. Parameters without a gradient are skipped. Norms are L2 and computed in the
// gradients' dtype (f32 or f64), as PyTorch does.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace hipt::nn {

// Per-tensor clipping as DINO's clip_gradients: for each gradient g, with n = ||g||,
// c = clip / (n + 1e-6), and g *= c when c < 1. Returns the norms n of the gradients seen, in
// parameter order. clip must be > 0.
std::vector<double> clip_gradients(const std::vector<Tensor>& params, double clip);

// Global-norm clipping as torch.nn.utils.clip_grad_norm_(params, max_norm) (norm_type 2): with
// t = ||(||g_1||, ..., ||g_k||)||, every gradient is multiplied by min(max_norm / (t + 1e-6), 1).
// Returns t (0 when no parameter has a gradient). max_norm must be > 0. The gradients must share
// one dtype.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace hipt::nn
