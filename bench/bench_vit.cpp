// ViT-256 (vit_small, patch 16) on 256-px patches, batch 16: inference forward, and one training
// step (forward, mean-squared loss on the [CLS] output, backward, AdamW). img/s counters, real time.
// bench/vit_side_by_side.sh runs this next to PyTorch (bench/vit_torch.py) at 1 and 2 threads.
//
//   HIPT_NUM_THREADS=2 ./build/bin/bench_vit --benchmark_min_time=3
#include <benchmark/benchmark.h>

#include "autograd/nn_functions.h"
#include "hipt/models/vit.h"
#include "nn/optim.h"
#include "tensor/parallel.h"

using namespace hipt;

namespace {
constexpr int64_t kBatch = 16;

Tensor input() {
  Generator gen(1);
  return ops::uniform({kBatch, 3, 256, 256}, -1, 1, gen);
}

void BM_Vit256Forward(benchmark::State& state) {
  auto vit = vit256_small(0, /*init=*/false);  // Linear's own init: values do not change the speed
  vit->eval();
  Tensor x = input();
  NoGradGuard ng;
  vit->forward(x);  // warm-up: pos-embed cache, packing buffers
  for (auto _ : state) benchmark::DoNotOptimize(vit->forward(x));
  state.counters["img/s"] = benchmark::Counter(static_cast<double>(kBatch * state.iterations()),
                                               benchmark::Counter::kIsRate);
  state.counters["threads"] = num_threads();
}

void BM_Vit256TrainStep(benchmark::State& state) {
  auto vit = vit256_small(0, /*init=*/false);  // Linear's own init: values do not change the speed
  vit->train();
  Tensor x = input();
  Tensor target = ops::zeros({kBatch, 384});
  nn::AdamW opt(vit->parameters(), {5e-4, 0.9, 0.999, 1e-8, 0.04});
  auto step = [&] {
    opt.zero_grad();
    Tensor d = sub(vit->forward(x), target);
    Tensor loss = mean(mul(d, d));
    backward(loss);
    opt.step();
    return loss;
  };
  step();  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(step());
  state.counters["img/s"] = benchmark::Counter(static_cast<double>(kBatch * state.iterations()),
                                               benchmark::Counter::kIsRate);
  state.counters["threads"] = num_threads();
}
}  // namespace

BENCHMARK(BM_Vit256Forward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Vit256TrainStep)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
