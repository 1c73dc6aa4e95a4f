// Philox-4x32-10 and the random tensors built on it (uniform, normal, truncated normal, dropout
// masks). Everything is a pure function of (seed, block counter), so any split of the blocks over
// threads, or over CUDA threads later, gives the same numbers.
//
// The stream (what a CUDA port must reproduce bit for bit):
//   Block b of seed s is philox4x32_10(counter = {lo32(b), hi32(b), 0, 0}, key = {lo32(s), hi32(s)})
//   -> four words w0..w3. A draw of n elements reserves `blocks` counters starting at the
//   generator's offset (first = gen.advance(blocks)) and uses blocks first, first+1, ... in order;
//   words of the last block that no element needs are discarded.
//   * f32 draws (uniform, trunc_normal, normal) and dropout masks of any dtype: 4 elements per
//     block, element i <- block first + i/4, word i%4. u24(w) = (w >> 8)·2^-24 in [0, 1).
//   * f64 draws (uniform, trunc_normal, normal): 2 elements per block, element i <- block
//     first + i/2, words (2j, 2j+1) with j = i%2 joined as x = w[2j+1]·2^32 + w[2j];
//     u53(x) = (x >> 11)·2^-53 in [0, 1).
//   So `blocks` = ceil(n/4) for f32 and masks, ceil(n/2) for f64.
//   * uniform: low + (high - low)·u, computed in double, then rounded to the dtype (so an f32
//     value can round up to `high` when high - low is large against high's ulp).
//   * normal, Box-Muller: f32 pairs words (w0, w1) -> elements 4b, 4b+1 and (w2, w3) -> 4b+2, 4b+3,
//     with u1 = u24(w_even) + 2^-24 in (0, 1] (so log never sees 0) and u2 = u24(w_odd);
//     r = sqrt(-2 ln u1), z_first = r·cos(2π u2), z_second = r·sin(2π u2). f64: block b gives
//     elements 2b, 2b+1 from u1 = u53(w1·2^32 + w0) + 2^-53 and u2 = u53(w3·2^32 + w2).
//     Output mean + std·z; the math runs in double for both dtypes.
//   * trunc_normal, as torch.nn.init.trunc_normal_ (inverse CDF): with Φ the standard normal CDF,
//     lo = Φ((a-mean)/std), hi = Φ((b-mean)/std), p = lo + (hi - lo)·u (u as for uniform),
//     x = mean + std·√2·erfinv(2p - 1), clamped to [a, b].
//   * dropout_mask: element i keeps (value 1/(1-p)) iff u24(word i%4 of block first + i/4) < 1 - p,
//     else 0; always the f32 layout, whatever the mask's dtype.
#include "tensor/random.h"

#include <cmath>

#include "tensor/backend.h"
#include "tensor/kernel_math.h"
#include "tensor/ops.h"
#include "tensor/philox.h"

namespace hipt {
namespace {

// Philox blocks a draw of n elements takes: 4 elements a block in f32 (and for every dropout mask),
// 2 in f64.
uint64_t blocks_for(int64_t n, DType dtype) {
  const int64_t per_block = dtype == DType::F64 ? 2 : 4;
  return static_cast<uint64_t>((n + per_block - 1) / per_block);
}

void check_float(const char* op, const Shape& shape, DType dtype) {
  HIPT_CHECK(dtype == DType::F32 || dtype == DType::F64, "{}: dtype {} not supported for shape {} (f32, f64)", op,
             dtype_name(dtype), shape.str());
}

}  // namespace

void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]) { philox::block_words(seed, counter, out); }

void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  for (int i = 0; i < 4; ++i) out[i] = counter[i];
  philox::philox_rounds<10>(out, key[0], key[1]);
}

double erfinv(double x) { return kmath::erfinv(x); }  // shared with the random kernels

namespace ops {

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype, Device device) {
  auto k = kernel("uniform", device, &Backend::uniform);
  check_float("uniform", shape, dtype);
  HIPT_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high,
             "uniform: need finite low <= high, got [{}, {}) for shape {}", low, high, shape.str());
  Tensor out = empty(shape, dtype, device);
  k(out, gen.seed(), gen.advance(blocks_for(out.numel(), dtype)), low, high);
  return out;
}

Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype, Device device) {
  auto k = kernel("normal", device, &Backend::normal);
  check_float("normal", shape, dtype);
  HIPT_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0,
             "normal: need finite mean and std >= 0, got mean {} std {} for shape {}", mean, std, shape.str());
  Tensor out = empty(shape, dtype, device);
  k(out, gen.seed(), gen.advance(blocks_for(out.numel(), dtype)), mean, std);
  return out;
}

Tensor trunc_normal(const Shape& shape, double mean, double std, double a, double b, Generator& gen, DType dtype,
                    Device device) {
  auto k = kernel("trunc_normal", device, &Backend::trunc_normal);
  check_float("trunc_normal", shape, dtype);
  HIPT_CHECK(std::isfinite(mean) && std::isfinite(std) && std > 0 && a < b,
             "trunc_normal: need finite mean, std > 0 and a < b, got mean {} std {} [{}, {}] for shape {}", mean,
             std, a, b, shape.str());
  Tensor out = empty(shape, dtype, device);
  k(out, gen.seed(), gen.advance(blocks_for(out.numel(), dtype)), mean, std, a, b);
  return out;
}

Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype, Device device) {
  auto k = kernel("dropout_mask", device, &Backend::dropout_mask);
  check_float("dropout_mask", shape, dtype);
  HIPT_CHECK(p >= 0 && p < 1, "dropout_mask: p must be in [0, 1), got {} for shape {}", p, shape.str());
  Tensor out = empty(shape, dtype, device);
  k(out, gen.seed(), gen.advance(blocks_for(out.numel(), DType::F32)), p);  // always the 4-per-block layout
  return out;
}

}  // namespace ops
}  // namespace hipt
