// Image-shaped raw ops: argument checks and output shapes, then the device's kernels.
#include "tensor/image_ops.h"

#include <cmath>

#include "tensor/backend.h"
#include "tensor/checks.h"
#include "tensor/ops.h"

namespace hipt::ops {
namespace {

// PyTorch's output size for a given scale: floor(in · scale), computed in double.
int64_t scaled_size(int64_t in, double scale) { return static_cast<int64_t>(std::floor(static_cast<double>(in) * scale)); }

void check_scales(const char* op, const Tensor& t, double scale_h, double scale_w) {
  HIPT_CHECK(std::isfinite(scale_h) && std::isfinite(scale_w) && scale_h > 0 && scale_w > 0,
             "{}: scale factors must be finite and > 0, got ({}, {}) for {}", op, scale_h, scale_w, t.str());
}

}  // namespace

Tensor bicubic_resize(const Tensor& x, double scale_h, double scale_w) {
  const char* op = "bicubic_resize";
  auto k = kernel(op, x, &Backend::bicubic_resize);
  check_floating(op, x);
  HIPT_CHECK(x.dim() == 4, "{}: x must be [N, C, H, W], got {}", op, x.str());
  check_scales(op, x, scale_h, scale_w);
  const int64_t H = x.size(2), W = x.size(3);
  const int64_t OH = scaled_size(H, scale_h), OW = scaled_size(W, scale_w);
  HIPT_CHECK(H >= 1 && W >= 1 && OH >= 1 && OW >= 1,
             "{}: input {}x{} with scales ({}, {}) gives output {}x{}; both must be non-empty", op, H, W, scale_h,
             scale_w, OH, OW);
  Tensor xc = contiguous(x);
  Tensor y = empty({x.size(0), x.size(1), OH, OW}, x.dtype(), x.device());
  k(y, xc, scale_h, scale_w);
  return y;
}

Tensor bicubic_resize_backward(const Tensor& g, int64_t in_h, int64_t in_w, double scale_h, double scale_w) {
  const char* op = "bicubic_resize_backward";
  auto k = kernel(op, g, &Backend::bicubic_resize_backward);
  check_floating(op, g);
  HIPT_CHECK(g.dim() == 4, "{}: grad must be [N, C, OH, OW], got {}", op, g.str());
  check_scales(op, g, scale_h, scale_w);
  HIPT_CHECK(in_h >= 1 && in_w >= 1 && g.size(2) == scaled_size(in_h, scale_h) && g.size(3) == scaled_size(in_w, scale_w),
             "{}: grad {} does not match input {}x{} at scales ({}, {}) (expected {}x{})", op, g.str(), in_h, in_w,
             scale_h, scale_w, scaled_size(in_h, scale_h), scaled_size(in_w, scale_w));
  Tensor gc = contiguous(g);
  Tensor dx = empty({g.size(0), g.size(1), in_h, in_w}, g.dtype(), g.device());
  k(dx, gc, scale_h, scale_w);
  return dx;
}

}  // namespace hipt::ops
