// Attention and the row kernels (layernorm, softmax, gelu) on the CPU, at HIPT's shapes.
//
// Attention, B=8 H=6 T=257 (ViT-256: D=64; ViT-4K: D=32), q/k/v read as the model has them
// (permuted views of one qkv tensor), three variants side by side, each validated against the
// fused op before it is timed:
//   Fused      ops::attention: per (b, h), GEMM, in-place row softmax, GEMM; P stays in L2
//   Unfused    matmul(q, kᵀ) · scale, softmax op, matmul: the [B, H, T, T] scores round-trip memory
//   Primitive  as Unfused with exp(x - max) / sum from elementwise ops: the test oracle
// Forward, and forward + backward through autograd. FLOPs count the GEMMs only: 4·B·H·T²·D forward,
// 8·B·H·T²·D more backward. Row kernels report GB/s counting one read of x and one write of y,
// next to clone(x) (allocation + copy, no math) as their floor.
//
//   ./build/bin/bench_attention --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "autograd/nn_functions.h"
#include "tensor/parallel.h"

using namespace hipt;

namespace {

enum class Variant { Fused, Unfused, Primitive };
const char* variant_name(Variant v) {
  return v == Variant::Fused ? "fused" : v == Variant::Unfused ? "unfused" : "primitive";
}

Tensor randn(const Shape& s, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (float& x : v) x = nd(rng);
  return ops::from_vector(v, s);
}

Tensor attend(Variant variant, const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  if (variant == Variant::Fused) return attention(q, k, v, scale);
  Tensor s = mul(matmul(q, k, false, true), scale);
  Tensor p;
  if (variant == Variant::Unfused) {
    p = softmax(s, -1);
  } else {
    Tensor e = exp(sub(s, max(s, -1, true)));
    p = div(e, sum(e, -1, true));
  }
  return matmul(p, v);
}

struct Qkv {
  Tensor q, k, v;
};

// q, k, v as [B, H, T, D] views of one [B, T, 3, H, D] tensor (the qkv projection's output). The
// views themselves are the leaves, so the backward times attention and not select's scatter.
Qkv make_qkv(int64_t B, int64_t H, int64_t T, int64_t D, bool requires_grad) {
  Tensor p = ops::permute(randn({B, T, 3, H, D}, 1), {2, 0, 3, 1, 4});
  Qkv r{ops::select(p, 0, 0), ops::select(p, 0, 1), ops::select(p, 0, 2)};
  if (requires_grad)
    for (Tensor* t : {&r.q, &r.k, &r.v}) t->requires_grad_();
  return r;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<float> x = ops::to_vector<float>(a), y = ops::to_vector<float>(b);
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, static_cast<double>(std::abs(x[i] - y[i])));
  return m;
}

// args: T, D, threads, variant, backward
void BM_Attention(benchmark::State& state) {
  const int64_t B = 8, H = 6, T = state.range(0), D = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const auto variant = static_cast<Variant>(state.range(3));
  const bool with_backward = state.range(4) != 0;
  const double scale = 1 / std::sqrt(static_cast<double>(D));
  set_num_threads(threads);
  state.SetLabel(fmt::format("{} {}", variant_name(variant), with_backward ? "fwd+bwd" : "fwd"));

  Qkv in = make_qkv(B, H, T, D, with_backward);
  {
    NoGradGuard ng;
    double err = max_abs_diff(attend(variant, in.q, in.k, in.v, scale), attend(Variant::Fused, in.q, in.k, in.v, scale));
    if (err > 1e-4) {
      state.SkipWithError(fmt::format("{} differs from fused by {}", variant_name(variant), err).c_str());
      return;
    }
  }
  Tensor g = randn({B, H, T, D}, 2);
  for (auto _ : state) {
    if (with_backward) {
      for (Tensor* t : {&in.q, &in.k, &in.v}) t->zero_grad();
      Tensor out = attend(variant, in.q, in.k, in.v, scale);
      backward(out, g);
      benchmark::DoNotOptimize(out.raw_data());
    } else {
      NoGradGuard ng;
      Tensor out = attend(variant, in.q, in.k, in.v, scale);
      benchmark::DoNotOptimize(out.raw_data());
    }
  }
  const double flops = static_cast<double>(B * H * T * T * D) * (with_backward ? 12 : 4);
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  set_num_threads(2);
}

void attention_args(benchmark::internal::Benchmark* b) {
  for (int64_t bwd : {0, 1})
    for (int64_t D : {64, 32})
      for (int64_t threads : {1, 2})
        for (int64_t v : {0, 1, 2}) b->Args({257, D, threads, v, bwd});
  b->ArgNames({"T", "D", "threads", "variant", "bwd"});
}
BENCHMARK(BM_Attention)->Apply(attention_args)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- row kernels: args rows, cols, threads

template <class F> void row_kernel(benchmark::State& state, F&& op) {
  const int64_t rows = state.range(0), cols = state.range(1);
  set_num_threads(static_cast<int>(state.range(2)));
  Tensor x = randn({rows, cols}, 3);
  Tensor w = randn({cols}, 4), b = randn({cols}, 5);
  for (auto _ : state) {
    Tensor y = op(x, w, b);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["bytes"] =
      benchmark::Counter(static_cast<double>(2 * rows * cols * sizeof(float)), benchmark::Counter::kIsIterationInvariantRate);
  set_num_threads(2);
}

void BM_LayerNorm(benchmark::State& state) {
  row_kernel(state, [](const Tensor& x, const Tensor& w, const Tensor& b) { return ops::layer_norm(x, w, b, 1e-6); });
}
void BM_Softmax(benchmark::State& state) {
  row_kernel(state, [](const Tensor& x, const Tensor&, const Tensor&) { return ops::softmax(x, -1); });
}
void BM_Gelu(benchmark::State& state) {
  row_kernel(state, [](const Tensor& x, const Tensor&, const Tensor&) { return ops::gelu(x); });
}

// The floor for the three above: allocate y, read x, write y, no math.
void BM_CloneBaseline(benchmark::State& state) {
  row_kernel(state, [](const Tensor& x, const Tensor&, const Tensor&) { return ops::clone(x); });
}

void row_args(benchmark::internal::Benchmark* b) {
  for (int64_t cols : {384, 1536})
    for (int64_t threads : {1, 2}) b->Args({2056, cols, threads});
  b->ArgNames({"rows", "cols", "threads"});
}
BENCHMARK(BM_CloneBaseline)->Apply(row_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LayerNorm)->Apply(row_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Softmax)->Apply(row_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Gelu)->Apply(row_args)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
