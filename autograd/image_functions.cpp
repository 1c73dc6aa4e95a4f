// Differentiable image ops and dropout: forward through the raw ops, backward next to each.
#include "autograd/image_functions.h"

namespace hipt {

Tensor bicubic_resize(const Tensor& x, double scale_h, double scale_w) {
  Tensor y = ops::bicubic_resize(x, scale_h, scale_w);
  if (!needs_graph(x)) return y;
  const int64_t in_h = x.size(2), in_w = x.size(3);
  return record("bicubic_resize", y, {&x}, [=](const Tensor& g) -> Grads {
    return {ops::bicubic_resize_backward(g, in_h, in_w, scale_h, scale_w)};
  });
}

// Views only (reshape / permute) plus one contiguous copy, so the gradient comes from theirs:
// [B, C, H, W] -> [B, C, h, p, w, p] -> [B, h, w, C, p, p] -> [B, h·w, C·p·p].
Tensor patchify(const Tensor& x, int64_t p) {
  HIPT_CHECK(x.dim() == 4, "patchify: x must be [B, C, H, W], got {}", x.str());
  HIPT_CHECK(p >= 1 && x.size(2) % p == 0 && x.size(3) % p == 0,
             "patchify: H and W of {} must be multiples of the patch size {}", x.str(), p);
  const int64_t B = x.size(0), C = x.size(1), h = x.size(2) / p, w = x.size(3) / p;
  Tensor t = reshape(x, {B, C, h, p, w, p});
  t = contiguous(permute(t, {0, 2, 4, 1, 3, 5}));
  return reshape(t, {B, h * w, C * p * p});
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  HIPT_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got {} for {}", p, x.str());
  if (!training || p == 0) return x;
  Tensor mask = ops::dropout_mask(x.shape(), p, gen, x.dtype(), x.device());
  Tensor y = ops::mul(x, mask);
  if (!needs_graph(x)) return y;
  return record("dropout", y, {&x}, [mask](const Tensor& g) -> Grads { return {ops::mul(g, mask)}; });
}

}  // namespace hipt
