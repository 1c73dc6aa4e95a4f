// Counter-based random numbers (Philox-4x32-10). A Generator is a (seed, offset) pair: each draw
// uses the Philox blocks [offset, offset + blocks) (4 numbers per block in f32, 2 in f64) and
// advances the offset past them, so the same seed gives
// the same numbers whatever the thread count, and a CUDA kernel can produce the same stream.
// The exact stream (which block and word feeds which element) is specified at the top of
// tensor/random.cpp (the reference for a CUDA port).
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
  // The whole position of the stream, saved with a training state and restored to resume it.
  struct State {
    uint64_t seed, offset;
  };
  State state() const { return {seed_, offset_}; }
  void set_state(const State& s) {
    seed_ = s.seed;
    offset_ = s.offset;
  }
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
// The key is {lo32(seed), hi32(seed)}, the 128-bit counter {lo32(counter), hi32(counter), 0, 0}.
void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]);
// The bare Philox-4x32-10 bijection with a full 128-bit counter and 64-bit key, word 0 first
// (the Random123 known-answer vectors are stated this way).
void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

// Inverse error function on [-1, 1] (±inf at ±1, NaN outside), accurate to a few ulp in double.
double erfinv(double x);

// Random tensors on `device` (the same numbers on every device: the stream depends only on the
// generator's seed and offset).
namespace ops {
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::F32,
               Device device = {});
Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype = DType::F32,
              Device device = {});
// Normal(mean, std) restricted to [a, b] (absolute bounds, as torch.nn.init.trunc_normal_).
Tensor trunc_normal(const Shape& shape, double mean, double std, double a, double b, Generator& gen,
                    DType dtype = DType::F32, Device device = {});
// Bernoulli(keep_prob) mask scaled by 1/keep_prob, in x's dtype: what dropout multiplies by.
Tensor dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype = DType::F32, Device device = {});
}  // namespace ops

}  // namespace hipt
