// The random fills on the CPU: Philox blocks split over threads. The stream is specified in
// tensor/random.cpp; the word-to-value maps live in tensor/kernel_math.h, shared with the CUDA
// kernels. Each element depends only on (seed, block), so the thread count never changes a number.
#include <algorithm>

#include "tensor/cpu/kernels.h"
#include "tensor/kernel_math.h"
#include "tensor/parallel.h"

namespace hipt::cpu {
namespace {

// Fills out[0, n) from consecutive blocks, Per elements each, made by `m` (kmath::make_block).
// Blocks are independent, so threads split them freely.
template <int Per, class T, class M> void fill_blocks(T* out, int64_t n, uint64_t seed, uint64_t first, const M& m) {
  const int64_t blocks = (n + Per - 1) / Per;
  parallel_for(0, blocks, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      double v[Per];
      kmath::block_values<Per>(m, seed, first, b, v);
      const int64_t base = b * Per, k = std::min<int64_t>(Per, n - base);
      for (int64_t j = 0; j < k; ++j) out[base + j] = static_cast<T>(v[j]);
    }
  });
}

// f32: 4 elements a block; f64: 2.
template <class M> void fill_layout(const char* op, const Tensor& out, uint64_t seed, uint64_t first, const M& m) {
  if (out.dtype() == DType::F32)
    fill_blocks<4>(out.data<float>(), out.numel(), seed, first, m);
  else if (out.dtype() == DType::F64)
    fill_blocks<2>(out.data<double>(), out.numel(), seed, first, m);
  else
    throw Error(fmt::format("{}: dtype {} not supported (f32, f64)", op, dtype_name(out.dtype())));
}

}  // namespace

void uniform(const Tensor& out, uint64_t seed, uint64_t first, double low, double high) {
  fill_layout("uniform", out, seed, first, kmath::UniformLike<kmath::UniformValue>{{low, high - low}});
}

void normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std) {
  fill_layout("normal", out, seed, first, kmath::NormalBlock{mean, std});
}

void trunc_normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std, double a, double b) {
  fill_layout("trunc_normal", out, seed, first,
              kmath::UniformLike<kmath::TruncNormalValue>{kmath::trunc_normal_value(mean, std, a, b)});
}

void dropout_mask(const Tensor& out, uint64_t seed, uint64_t first, double p) {
  const kmath::DropoutBlock m = kmath::dropout_block(p);
  HIPT_CHECK(out.dtype() == DType::F32 || out.dtype() == DType::F64, "dropout_mask: dtype {} not supported (f32, f64)",
             dtype_name(out.dtype()));
  if (out.dtype() == DType::F32)
    fill_blocks<4>(out.data<float>(), out.numel(), seed, first, m);
  else
    fill_blocks<4>(out.data<double>(), out.numel(), seed, first, m);
}

}  // namespace hipt::cpu
