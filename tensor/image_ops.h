// Image-shaped ops, raw (no autograd).
#pragma once
#include "tensor/tensor.h"

namespace hipt::ops {

// Bicubic resize of x [N, C, H, W] with PyTorch's semantics for
// interpolate(mode='bicubic', align_corners=False, scale_factor=(scale_h, scale_w)):
// output H' = floor(H * scale_h), source coordinate (dst + 0.5) / scale - 0.5 with the *given*
// scale (not H'/H), Keys cubic A = -0.75, taps clamped to the border.
Tensor bicubic_resize(const Tensor& x, double scale_h, double scale_w);
// Its adjoint: dL/dx [N, C, in_h, in_w] from g = dL/dy.
Tensor bicubic_resize_backward(const Tensor& g, int64_t in_h, int64_t in_w, double scale_h, double scale_w);

}  // namespace hipt::ops
