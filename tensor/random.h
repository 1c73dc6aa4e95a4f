// Counter-based random numbers (Philox-4x32-10). A Generator is a (seed, offset) pair: each draw
// of n numbers uses counters [offset, offset + n) and advances the offset, so the same seed gives
// the same numbers whatever the thread count, and a CUDA kernel can produce the same stream.
// The exact stream is documented in docs/design.md ("Random numbers").
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace hipt {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }  // in 128-bit Philox blocks
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves `blocks` consecutive Philox counters and returns the first.
  uint64_t advance(uint64_t blocks) {
    uint64_t first = offset_;
    offset_ += blocks;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// One Philox-4x32-10 block: four 32-bit random words for (seed, counter).
void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]);

namespace ops {
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::F32);
Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype = DType::F32);
// Normal(mean, std) restricted to [a, b] (absolute bounds, as torch.nn.init.trunc_normal_).
Tensor trunc_normal(const Shape& shape, double mean, double std, double a, double b, Generator& gen,
                    DType dtype = DType::F32);
// Bernoulli(keep_prob) mask scaled by 1/keep_prob, in x's dtype: what dropout multiplies by.
Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype = DType::F32);
}  // namespace ops

}  // namespace hipt
