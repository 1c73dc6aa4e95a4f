// Slide-level training throughput on the CPU, in bags/s: one step of the train-slide loop
// (forward in train mode with dropout, cross-entropy, loss/gc, backward, Adam with coupled L2) on
// one bag of M regions. M = 38 is the TCGA average (hipt-model.md §6.2).
//
//   Frozen/M     the default: the ViT-4K frozen, the bag is its region features [M, 192]
//   Finetune/M   --finetune-vit4k: the ViT-4K trains too, the bag is patch features [M, 256, 384]
//
// bench/slide_train_torch.py times the same steps with the PyTorch reference modules.
//   HIPT_NUM_THREADS=2 ./build/bin/bench_slide_train --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>

#include "autograd/nn_functions.h"
#include "hipt/train/slide_trainer.h"

using namespace hipt;

namespace {

Tensor randn(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (float& x : v) x = nd(rng);
  return ops::from_vector(v, s);
}

void TrainStep(benchmark::State& state, bool finetune) {
  const int64_t M = state.range(0);
  train::SlideTrainOptions o;
  o.finetune_vit4k = finetune;
  auto model = train::make_slide_model(2, o, "");
  model->train();
  auto optimizer = train::make_slide_optimizer(*model, o);
  const Tensor x = finetune ? randn({M, 256, 384}, 1) : randn({M, 192}, 1);
  for (auto _ : state) {
    Tensor loss = train::slide_loss(train::slide_forward(*model, x), o.task, 1, false, 0);
    backward(mul(loss, 1.0 / static_cast<double>(o.gc)));
    optimizer->step();
    optimizer->zero_grad();
    benchmark::DoNotOptimize(loss.raw_data());
  }
  state.counters["bags/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

void Frozen(benchmark::State& state) { TrainStep(state, false); }
void Finetune(benchmark::State& state) { TrainStep(state, true); }
BENCHMARK(Frozen)->Arg(38)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Finetune)->Arg(38)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
