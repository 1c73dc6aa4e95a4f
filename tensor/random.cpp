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

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace hipt {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule: golden ratio, sqrt(3)-1

// One Philox-4x32 block with R rounds (the key is bumped between rounds, not before the first).
template <int R> inline void philox_rounds(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int r = 0; r < R; ++r) {
    if (r > 0) {
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
  }
}

inline void block_words(uint64_t seed, uint64_t block, uint32_t w[4]) {
  w[0] = static_cast<uint32_t>(block);
  w[1] = static_cast<uint32_t>(block >> 32);
  w[2] = 0;
  w[3] = 0;
  philox_rounds<10>(w, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

inline double u24(uint32_t w) { return static_cast<double>(w >> 8) * 0x1p-24; }
inline double u53(uint32_t lo, uint32_t hi) {
  return static_cast<double>(((static_cast<uint64_t>(hi) << 32) | lo) >> 11) * 0x1p-53;
}

// Fills out[0, n) from consecutive blocks, PerBlock elements each: make(words, vals) turns one
// block into PerBlock values. Blocks are independent, so threads split them freely.
template <int PerBlock, class T, class Make>
void fill_blocks(T* out, int64_t n, uint64_t seed, uint64_t first, const Make& make) {
  const int64_t blocks = (n + PerBlock - 1) / PerBlock;
  parallel_for(0, blocks, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      uint32_t w[4];
      block_words(seed, first + static_cast<uint64_t>(b), w);
      double v[PerBlock];
      make(w, v);
      const int64_t base = b * PerBlock, m = std::min<int64_t>(PerBlock, n - base);
      for (int64_t j = 0; j < m; ++j) out[base + j] = static_cast<T>(v[j]);
    }
  });
}

// Elements per Philox block in the uniform layout: 4 in f32, 2 in f64.
int64_t per_block(DType dtype) { return dtype == DType::F64 ? 2 : 4; }

void check_float(const char* op, const Shape& shape, DType dtype) {
  HIPT_CHECK(dtype == DType::F32 || dtype == DType::F64, "{}: dtype {} not supported for shape {} (f32, f64)", op,
             dtype_name(dtype), shape.str());
}

// Draws one uniform u in [0, 1) per element (the uniform / trunc_normal layout) and stores f(u).
template <class F> Tensor draw_uniform_like(const Shape& shape, DType dtype, Generator& gen, const F& f) {
  Tensor out = ops::empty(shape, dtype);
  const int64_t n = out.numel();
  const uint64_t first = gen.advance(static_cast<uint64_t>((n + per_block(dtype) - 1) / per_block(dtype)));
  if (dtype == DType::F32) {
    fill_blocks<4>(out.data<float>(), n, gen.seed(), first, [&](const uint32_t w[4], double v[4]) {
      for (int j = 0; j < 4; ++j) v[j] = f(u24(w[j]));
    });
  } else {
    fill_blocks<2>(out.data<double>(), n, gen.seed(), first, [&](const uint32_t w[4], double v[2]) {
      v[0] = f(u53(w[0], w[1]));
      v[1] = f(u53(w[2], w[3]));
    });
  }
  return out;
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]) { block_words(seed, counter, out); }

void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  for (int i = 0; i < 4; ++i) out[i] = counter[i];
  philox_rounds<10>(out, key[0], key[1]);
}

// Inverse of erf on (-1, 1). A closed-form start (Winitzki's approximation, relative error
// ~2e-3) refined by Halley steps on erf(y) = x; above 0.5 the residual is taken through erfc and
// 1 - x (exact there), so the tails keep full relative precision where erf(y) is near 1.
double erfinv(double x) {
  if (std::isnan(x) || x < -1 || x > 1) return std::numeric_limits<double>::quiet_NaN();
  if (x == 1) return std::numeric_limits<double>::infinity();
  if (x == -1) return -std::numeric_limits<double>::infinity();
  if (x == 0) return x;  // keeps the sign of -0
  const double ax = std::fabs(x);
  const double one_minus = 1.0 - ax;  // exact for ax >= 0.5
  const double a = 0.147, ln = std::log(one_minus * (1.0 + ax));
  const double t = 2.0 / (M_PI * a) + 0.5 * ln;
  double y = std::sqrt(std::sqrt(t * t - ln / a) - t);
  const double two_over_sqrt_pi = 2.0 / std::sqrt(M_PI);
  for (int it = 0; it < 4; ++it) {
    const double f = ax < 0.5 ? std::erf(y) - ax : one_minus - std::erfc(y);
    const double fp = two_over_sqrt_pi * std::exp(-y * y);
    if (f == 0 || fp == 0) break;
    const double newton = f / fp;
    const double step = newton / (1.0 + y * newton);  // Halley: f'' = -2y f'
    y -= step;
    // Halley's error cubes each step: after a step below 1e-6·y the rest is below double precision.
    if (std::fabs(step) <= 1e-6 * y) break;
  }
  return x < 0 ? -y : y;
}

namespace ops {

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  check_float("uniform", shape, dtype);
  HIPT_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high,
             "uniform: need finite low <= high, got [{}, {}) for shape {}", low, high, shape.str());
  const double span = high - low;
  return draw_uniform_like(shape, dtype, gen, [=](double u) { return low + span * u; });
}

Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype) {
  check_float("normal", shape, dtype);
  HIPT_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0,
             "normal: need finite mean and std >= 0, got mean {} std {} for shape {}", mean, std, shape.str());
  Tensor out = ops::empty(shape, dtype);
  const int64_t n = out.numel();
  const double two_pi = 2.0 * M_PI;
  auto box_muller = [&](double u1, double u2, double* v) {
    const double r = std::sqrt(-2.0 * std::log(u1)), th = two_pi * u2;
    v[0] = mean + std * (r * std::cos(th));
    v[1] = mean + std * (r * std::sin(th));
  };
  if (dtype == DType::F32) {
    const uint64_t first = gen.advance(static_cast<uint64_t>((n + 3) / 4));
    fill_blocks<4>(out.data<float>(), n, gen.seed(), first, [&](const uint32_t w[4], double v[4]) {
      box_muller(u24(w[0]) + 0x1p-24, u24(w[1]), v);
      box_muller(u24(w[2]) + 0x1p-24, u24(w[3]), v + 2);
    });
  } else {
    const uint64_t first = gen.advance(static_cast<uint64_t>((n + 1) / 2));
    fill_blocks<2>(out.data<double>(), n, gen.seed(), first, [&](const uint32_t w[4], double v[2]) {
      box_muller(u53(w[0], w[1]) + 0x1p-53, u53(w[2], w[3]), v);
    });
  }
  return out;
}

Tensor trunc_normal(const Shape& shape, double mean, double std, double a, double b, Generator& gen, DType dtype) {
  check_float("trunc_normal", shape, dtype);
  HIPT_CHECK(std::isfinite(mean) && std::isfinite(std) && std > 0 && a < b,
             "trunc_normal: need finite mean, std > 0 and a < b, got mean {} std {} [{}, {}] for shape {}", mean,
             std, a, b, shape.str());
  const double lo = normal_cdf((a - mean) / std), hi = normal_cdf((b - mean) / std);
  const double scale = std * std::sqrt(2.0);
  return draw_uniform_like(shape, dtype, gen, [=](double u) {
    const double p = lo + (hi - lo) * u;
    const double x = mean + scale * erfinv(2.0 * p - 1.0);
    return std::min(std::max(x, a), b);
  });
}

Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype) {
  check_float("dropout_mask", shape, dtype);
  HIPT_CHECK(p >= 0 && p < 1, "dropout_mask: p must be in [0, 1), got {} for shape {}", p, shape.str());
  const double keep = 1.0 - p, value = 1.0 / keep;
  Tensor out = ops::empty(shape, dtype);
  const int64_t n = out.numel();
  const uint64_t first = gen.advance(static_cast<uint64_t>((n + 3) / 4));
  auto make = [&](const uint32_t w[4], double v[4]) {
    for (int j = 0; j < 4; ++j) v[j] = u24(w[j]) < keep ? value : 0.0;
  };
  if (dtype == DType::F32)
    fill_blocks<4>(out.data<float>(), n, gen.seed(), first, make);
  else
    fill_blocks<4>(out.data<double>(), n, gen.seed(), first, make);
  return out;
}

}  // namespace ops
}  // namespace hipt
