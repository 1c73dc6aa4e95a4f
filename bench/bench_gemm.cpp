// SGEMM throughput on the ViT shapes (M = 8 images x 257 tokens = 2056) and a few square and
// attention shapes, in GFLOP/s of wall time. Built twice from this file: bench_gemm times
// hipt::cpu::sgemm, bench_gemm_openblas (HIPT_BENCH_OPENBLAS) times cblas_sgemm with the same
// names, so bench/gemm_side_by_side.sh can join them. Separate processes, so OpenBLAS's thread
// pool and ours never compete for the two cores.
//
// Benchmark names: gemm/<shape>/<MxNxK>_<op(A)op(B)>/threads:<n>. The thread count is set inside
// the benchmark (hipt::set_num_threads or openblas_set_num_threads); the script also exports
// HIPT_NUM_THREADS / OPENBLAS_NUM_THREADS to match.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#ifdef HIPT_BENCH_OPENBLAS
// The two OpenBLAS entry points we need, declared here rather than through cblas.h, whose
// location differs between the pthread/openmp/serial builds. blasint is 32-bit in these builds.
extern "C" {
void cblas_sgemm(int order, int trans_a, int trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc);
void openblas_set_num_threads(int n);
char* openblas_get_corename(void);
}
#else
#include "tensor/cpu/gemm.h"
#include "tensor/parallel.h"
#endif

namespace {

struct GemmShape {
  const char* name;
  int64_t M, N, K;
  bool ta, tb;
};

// The ViT-S/16 linear layers use x·Wᵀ (NT) with W [out, in]; dW = dYᵀ·X is TN.
const GemmShape kShapes[] = {
    {"vit_qkv", 2056, 1152, 384, false, true},
    {"vit_proj", 2056, 384, 384, false, true},
    {"vit_fc1", 2056, 1536, 384, false, true},
    {"vit_fc2", 2056, 384, 1536, false, true},
    {"vit4k_192x384", 2056, 192, 384, false, true},
    {"vit4k_192x192", 2056, 192, 192, false, true},
    {"nk_768x768", 2056, 768, 768, false, true},
    {"nk_1536x1536", 2056, 1536, 1536, false, true},
    {"nk_192x1536", 2056, 192, 1536, false, true},
    {"nk_1152x768", 2056, 1152, 768, false, false},
    {"dW_fc1", 1536, 384, 2056, true, false},
    {"attn_qk", 257, 257, 64, false, true},
    {"square", 1024, 1024, 1024, false, false},
};

void bm_gemm(benchmark::State& state, GemmShape s, int threads) {
#ifdef HIPT_BENCH_OPENBLAS
  openblas_set_num_threads(threads);
  state.SetLabel(openblas_get_corename());
#else
  hipt::set_num_threads(threads);
  state.SetLabel(hipt::cpu::gemm_kernel_name());
#endif
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> A(size_t(s.M * s.K)), B(size_t(s.K * s.N)), C(size_t(s.M * s.N));
  for (auto& x : A) x = u(rng);
  for (auto& x : B) x = u(rng);
  for (auto _ : state) {
#ifdef HIPT_BENCH_OPENBLAS
    cblas_sgemm(101 /*row major*/, s.ta ? 112 : 111, s.tb ? 112 : 111, int(s.M), int(s.N), int(s.K), 1.f, A.data(),
                int(lda), B.data(), int(ldb), 0.f, C.data(), int(s.N));
#else
    hipt::cpu::sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), s.N);
#endif
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * double(s.M) * double(s.N) * double(s.K), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (int threads : {1, 2})
    for (const GemmShape& s : kShapes) {
      std::string name = std::string("gemm/") + s.name + "/" + std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
                         std::to_string(s.K) + "_" + (s.ta ? "T" : "N") + (s.tb ? "T" : "N") +
                         "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), bm_gemm, s, threads)->UseRealTime()->Unit(benchmark::kMillisecond);
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
