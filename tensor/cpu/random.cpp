// The random fills on the CPU: Philox blocks split over threads (tensor/philox.h; the stream is
// specified in tensor/random.cpp). Each element depends only on (seed, block), so the thread count
// never changes a number.
#include <algorithm>
#include <cmath>

#include "tensor/cpu/kernels.h"
#include "tensor/parallel.h"
#include "tensor/philox.h"
#include "tensor/random.h"

namespace hipt::cpu {
namespace {

using philox::block_words;
using philox::u24;
using philox::u53;

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

// One uniform u in [0, 1) per element (the uniform / trunc_normal layout), stored as f(u).
template <class F> void draw_uniform_like(const Tensor& out, uint64_t seed, uint64_t first, const F& f) {
  const int64_t n = out.numel();
  if (out.dtype() == DType::F32) {
    fill_blocks<4>(out.data<float>(), n, seed, first, [&](const uint32_t w[4], double v[4]) {
      for (int j = 0; j < 4; ++j) v[j] = f(u24(w[j]));
    });
  } else {
    fill_blocks<2>(out.data<double>(), n, seed, first, [&](const uint32_t w[4], double v[2]) {
      v[0] = f(u53(w[0], w[1]));
      v[1] = f(u53(w[2], w[3]));
    });
  }
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

void uniform(const Tensor& out, uint64_t seed, uint64_t first, double low, double high) {
  const double span = high - low;
  draw_uniform_like(out, seed, first, [=](double u) { return low + span * u; });
}

void normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std) {
  const int64_t n = out.numel();
  const double two_pi = 2.0 * M_PI;
  auto box_muller = [&](double u1, double u2, double* v) {
    const double r = std::sqrt(-2.0 * std::log(u1)), th = two_pi * u2;
    v[0] = mean + std * (r * std::cos(th));
    v[1] = mean + std * (r * std::sin(th));
  };
  if (out.dtype() == DType::F32) {
    fill_blocks<4>(out.data<float>(), n, seed, first, [&](const uint32_t w[4], double v[4]) {
      box_muller(u24(w[0]) + 0x1p-24, u24(w[1]), v);
      box_muller(u24(w[2]) + 0x1p-24, u24(w[3]), v + 2);
    });
  } else {
    fill_blocks<2>(out.data<double>(), n, seed, first, [&](const uint32_t w[4], double v[2]) {
      box_muller(u53(w[0], w[1]) + 0x1p-53, u53(w[2], w[3]), v);
    });
  }
}

void trunc_normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std, double a, double b) {
  const double lo = normal_cdf((a - mean) / std), hi = normal_cdf((b - mean) / std);
  const double scale = std * std::sqrt(2.0);
  draw_uniform_like(out, seed, first, [=](double u) {
    const double p = lo + (hi - lo) * u;
    const double x = mean + scale * erfinv(2.0 * p - 1.0);
    return std::min(std::max(x, a), b);
  });
}

void dropout_mask(const Tensor& out, uint64_t seed, uint64_t first, double p) {
  const double keep = 1.0 - p, value = 1.0 / keep;
  auto make = [&](const uint32_t w[4], double v[4]) {
    for (int j = 0; j < 4; ++j) v[j] = u24(w[j]) < keep ? value : 0.0;
  };
  if (out.dtype() == DType::F32)
    fill_blocks<4>(out.data<float>(), out.numel(), seed, first, make);
  else
    fill_blocks<4>(out.data<double>(), out.numel(), seed, first, make);
}

}  // namespace hipt::cpu
