// The two-spirals task: a small MLP that must learn a non-linear boundary. It is the engine's
// end-to-end check (autograd + AdamW + cross-entropy), run by examples/ and its test.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "tensor/tensor.h"

namespace hipt {

struct SpiralsData {
  Tensor points;  // f32 [2n, 2]
  Tensor labels;  // i64 [2n], 0 or 1
};
// n points per arm, radius 0.05..1, 1.75 turns, Gaussian jitter of `noise` (deterministic per seed).
SpiralsData make_spirals(int64_t n, double noise, uint64_t seed);

struct SpiralsReport {
  std::vector<double> loss;  // per step
  double accuracy = 0;       // on the training points after the last step
  double seconds = 0;
};

// MLP 2 -> 64 -> 64 -> 2 with tanh, AdamW (lr 1e-2, wd 1e-4), full batch. `progress` is called
// after every step with (step, steps, loss).
SpiralsReport train_spirals(int steps, uint64_t seed,
                            const std::function<void(int, int, double)>& progress = nullptr);

}  // namespace hipt
