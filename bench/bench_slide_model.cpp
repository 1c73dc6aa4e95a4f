// The slide-level model and checkpoint reading on the CPU.
//
//   HiptLgpFc/M     forward of HIPT_LGP_FC (eval, no grad) on M regions [M, 256, 384]; M = 38 is
//                   the TCGA average (hipt-model.md §6.2). Compare with bench/slide_model_torch.py.
//   ReadPth         read_backbone_weights on a checkpoint given by HIPT_BENCH_PTH (skipped when
//                   unset): the teacher's storages only, as load_backbone reads them.
//
//   ./build/bin/bench_slide_model --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include "hipt/models/checkpoint.h"
#include "hipt/models/slide_model.h"

using namespace hipt;

namespace {

Tensor randn(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (float& x : v) x = nd(rng);
  return ops::from_vector(v, s);
}

void HiptLgpFcForward(benchmark::State& state) {
  const int64_t M = state.range(0);
  HiptLgpFc model(SlideModelConfig{});
  model.eval();
  Tensor x = randn({M, 256, 384}, 1);
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model.forward(x).logits.raw_data());
  state.counters["regions/s"] = benchmark::Counter(static_cast<double>(M), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(HiptLgpFcForward)->Arg(1)->Arg(38)->Unit(benchmark::kMillisecond)->UseRealTime();

void ReadPth(benchmark::State& state) {
  const char* path = std::getenv("HIPT_BENCH_PTH");
  if (!path) {
    state.SkipWithError("set HIPT_BENCH_PTH to a .pth file");
    return;
  }
  for (auto _ : state) {
    BackboneWeights w = read_backbone_weights(path);
    benchmark::DoNotOptimize(w.tensors.size());
  }
}
BENCHMARK(ReadPth)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
