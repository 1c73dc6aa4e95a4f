// CPU kernels behind tensor/image_ops.h. Outputs first; the op in tensor/image_ops.cpp has checked
// shapes and dtypes and allocated contiguous outputs.
#pragma once
#include "tensor/tensor.h"

namespace hipt::cpu {

// y [P, OH, OW] = bicubic resize of x [P, H, W] (both contiguous, P = N·C planes).
void bicubic_resize(const Tensor& y, const Tensor& x, double scale_h, double scale_w);
// dx [P, H, W] = adjoint of the above applied to g [P, OH, OW] (both contiguous).
void bicubic_resize_backward(const Tensor& dx, const Tensor& g, double scale_h, double scale_w);

}  // namespace hipt::cpu
