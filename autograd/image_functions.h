// Differentiable image-shaped and random ops.
#pragma once
#include "autograd/functions.h"
#include "tensor/image_ops.h"
#include "tensor/random.h"

namespace hipt {

Tensor bicubic_resize(const Tensor& x, double scale_h, double scale_w);  // [N, C, H, W]
// x [B, C, H, W] -> [B, (H/p)·(W/p), C·p·p], patches in row-major order, each flattened as
// (c, i, j): the layout a Conv2d(k = p, stride = p) weight [D, C, p, p] expects, so patch
// embedding is patchify + one matmul with the weight reshaped to [D, C·p·p].
Tensor patchify(const Tensor& x, int64_t p);
// Zeroes each element with probability p and scales the rest by 1/(1-p); identity when !training.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace hipt
