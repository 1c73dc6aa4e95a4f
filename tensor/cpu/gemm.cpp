// SGEMM driver: BLIS-style packing and cache blocking around a register-tile micro-kernel.
//
//   for jc in N by NC:              B block  [KC x NC] packed once, lives in L3
//     for pc in K by KC:            (the first K block applies beta, later ones accumulate)
//       pack op(B)[pc, jc] into NR-wide k-major panels
//       for ic in M by MC:          A block  [MC x KC] packed, lives in L2
//         pack op(A)[ic, pc] into MR-tall k-major panels
//         for jr in NC by NR:       B micro-panel [KC x NR] stays in L1 across the ir loop
//           for ir in MC by MR:     micro-kernel: C[MR x NR] tile in registers
//
// All four transpose cases are handled by the packing routines, never by copying a transposed
// operand. MR/NR/MC/KC/NC belong to the micro-kernel (gemm_avx2.cpp, gemm_avx512.cpp, the
// portable one below) because they follow from its register count and the caches it was tuned
// for; each file says why it picked its numbers. Blocks are balanced (K = 384 with KC = 256 is
// two blocks of 192, not 256 + 128) so no pass runs on a sliver.
//
// Threads: C is cut into one rectangle per thread (a tm x tn grid, picked by a cost model that
// weighs the tile work against the packing each thread then repeats), and each thread runs the
// serial blocked loop above on its own rectangle with its own packing buffers. One parallel_for
// per call, no barriers; the price is that threads sharing a column range each pack the same B
// block, which costs K*N element copies against (M/threads)*N*K FMAs, under 1% on the ViT shapes.
// Nested calls (matmul's per-head parallel_for) run serially.
//
// Packing buffers are thread_local and only grow (at most MC*KC + KC*NC floats per thread, ~4
// MiB), so the many small per-head products allocate nothing after their first call.
//
// Kernel choice: the best the CPU runs, or HIPT_GEMM_KERNEL=avx512|avx2|scalar. Forcing a kernel
// this CPU cannot run (or an unknown name) makes every sgemm call throw hipt::Error saying so:
// silently running another kernel would make a benchmark or test report the wrong thing.
#include "tensor/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_kernels.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

namespace hipt::cpu {
namespace {

using gemm_detail::SgemmKernel;

constexpr int kMaxTile = 16 * 32;  // largest MR * NR of any kernel: the edge-tile scratch size

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// ------------------------------------------------------------------ portable kernel and packing

constexpr int kScalarMR = 6, kScalarNR = 16;

// c[6, 16] (row stride ldc) = alpha * ap[k, 6]ᵀ · bp[k, 16] + beta * c
// Plain C++ for CPUs without AVX2 and as the tests' second opinion; the compiler may still
// vectorise it with the baseline SSE2.
void micro_scalar(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  float acc[kScalarMR][kScalarNR] = {};
  for (int64_t p = 0; p < k; ++p, ap += kScalarMR, bp += kScalarNR)
    for (int i = 0; i < kScalarMR; ++i)
      for (int j = 0; j < kScalarNR; ++j) acc[i][j] += ap[i] * bp[j];
  for (int i = 0; i < kScalarMR; ++i)
    for (int j = 0; j < kScalarNR; ++j) {
      float* cij = c + i * ldc + j;
      *cij = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;
    }
}

// dst[ceil(m/MR) panels of k x MR] = op(A) rows [0, m), zero-padded (layout in gemm_kernels.h).
template <int MR>
void pack_a_portable(float* dst, const float* a, int64_t lda, bool trans, int64_t m, int64_t k) {
  for (int64_t i0 = 0; i0 < m; i0 += MR, dst += k * MR) {
    const int64_t mr = std::min<int64_t>(MR, m - i0);
    for (int64_t p = 0; p < k; ++p)
      for (int i = 0; i < MR; ++i)
        dst[p * MR + i] = i >= mr ? 0.f : trans ? a[p * lda + i0 + i] : a[(i0 + i) * lda + p];
  }
}

// dst[ceil(n/NR) panels of k x NR] = op(B) cols [0, n), zero-padded.
template <int NR>
void pack_b_portable(float* dst, const float* b, int64_t ldb, bool trans, int64_t k, int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += NR, dst += k * NR) {
    const int64_t nr = std::min<int64_t>(NR, n - j0);
    for (int64_t p = 0; p < k; ++p)
      for (int j = 0; j < NR; ++j)
        dst[p * NR + j] = j >= nr ? 0.f : trans ? b[(j0 + j) * ldb + p] : b[p * ldb + j0 + j];
  }
}

// The portable kernel's blocks assume nothing about the caches beyond "a few hundred KiB of L2".
const SgemmKernel kScalar{"scalar", kScalarMR, kScalarNR, 96, 256, 4080, micro_scalar,
                          pack_a_portable<kScalarMR>, pack_b_portable<kScalarNR>};

// An ISA kernel with the portable packing filled in where it brings none of its own.
SgemmKernel with_packing(const SgemmKernel& k) {
  SgemmKernel r = k;
  HIPT_CHECK(k.mr == 6 && (k.nr == 16 || k.nr == 32) && k.mr * k.nr <= kMaxTile,
             "sgemm: kernel {} has an unsupported tile {}x{}", k.name, k.mr, k.nr);
  if (!r.pack_a) r.pack_a = pack_a_portable<6>;
  if (!r.pack_b) r.pack_b = k.nr == 16 ? pack_b_portable<16> : pack_b_portable<32>;
  return r;
}

// ------------------------------------------------------------------ kernel choice

const SgemmKernel* kernel_by_name(const std::string& name, const char* who) {
  if (name == "scalar") return &kScalar;
  if (name == "avx2") {
    HIPT_CHECK(has_avx2_fma(), "{}: the avx2 GEMM kernel was asked for but this CPU lacks AVX2/FMA", who);
    static const SgemmKernel k = with_packing(*gemm_detail::avx2_kernel());
    return &k;
  }
  if (name == "avx512") {
    HIPT_CHECK(has_avx512f(),
               "{}: the avx512 GEMM kernel was asked for but this CPU lacks AVX-512 (F/DQ/BW/VL); best here is {}",
               who, has_avx2_fma() ? "avx2" : "scalar");
    static const SgemmKernel k = with_packing(*gemm_detail::avx512_kernel());
    return &k;
  }
  throw Error(fmt::format("{}: unknown GEMM kernel '{}' (expected avx512, avx2 or scalar)", who, name));
}

// A throwing initialiser leaves the static unset, so a bad HIPT_GEMM_KERNEL fails every call.
const SgemmKernel* default_kernel() {
  static const SgemmKernel* k = [] {
    if (const char* env = std::getenv("HIPT_GEMM_KERNEL"); env && *env)
      return kernel_by_name(env, "HIPT_GEMM_KERNEL");
    return kernel_by_name(simd_level(), "sgemm");
  }();
  return k;
}

std::atomic<const SgemmKernel*> g_forced{nullptr};

const SgemmKernel& active_kernel() {
  const SgemmKernel* f = g_forced.load(std::memory_order_acquire);
  return f ? *f : *default_kernel();
}

// ------------------------------------------------------------------ blocked serial GEMM

// Grow-only 64-byte-aligned scratch. thread_local: every pool thread (and every caller) keeps its
// own, so concurrent sgemm calls never share packing space and repeat calls never allocate.
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;  // floats
  ~Scratch() { std::free(p); }
  float* get(int64_t n) {
    if (static_cast<size_t>(n) > cap) {
      std::free(p);
      size_t bytes = static_cast<size_t>(round_up(n * int64_t(sizeof(float)), 64));
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      HIPT_CHECK(p, "sgemm: cannot allocate {} bytes of packing space", bytes);
      cap = bytes / sizeof(float);
    }
    return p;
  }
};
thread_local Scratch t_apack, t_bpack;

// The block size <= max (a multiple of `multiple`) that cuts `total` into equal-ish blocks.
int64_t balanced_block(int64_t total, int64_t max, int64_t multiple) {
  return std::min(max, round_up(ceil_div(total, ceil_div(total, max)), multiple));
}

// C[M, N] = alpha * op(A) · op(B) + beta * C on this thread; A, B point at op()(0, 0).
void sgemm_blocked(const SgemmKernel& kr, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int MR = kr.mr, NR = kr.nr;
  const int64_t KC = balanced_block(K, kr.kc, 8), MC = balanced_block(M, kr.mc, MR),
                NC = balanced_block(N, kr.nc, NR);
  float* bpack = t_bpack.get(KC * NC);
  float* apack = t_apack.get(MC * KC);
  alignas(64) float edge[kMaxTile];
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const float beta_p = pc == 0 ? beta : 1.f;
      kr.pack_b(bpack, tb ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, tb, kc, nc);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        kr.pack_a(apack, ta ? A + pc * lda + ic : A + ic * lda + pc, lda, ta, mc, kc);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const float* bp = bpack + jr * kc;  // panel jr/NR starts at (jr/NR) * kc * NR
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            const float* ap = apack + ir * kc;
            float* c = C + (ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              kr.micro(kc, ap, bp, c, ldc, alpha, beta_p);
              continue;
            }
            // Edge tile: the kernel always writes a full tile, so let it write scratch.
            kr.micro(kc, ap, bp, edge, NR, alpha, 0.f);
            for (int64_t i = 0; i < mr; ++i)
              for (int64_t j = 0; j < nr; ++j) {
                float* cij = c + i * ldc + j;
                *cij = beta_p == 0.f ? edge[i * NR + j] : edge[i * NR + j] + beta_p * *cij;
              }
          }
        }
      }
    }
  }
}

// Below this many multiply-adds one core finishes in roughly the time a pool wake-up takes.
constexpr int64_t kMinParallelWork = int64_t(1) << 21;

// C = beta * C (alpha == 0 or K == 0): beta == 0 writes zeros without reading C.
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

// ------------------------------------------------------------------ f64: plain loops

template <class T>
void gemm_plain(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc) {
  parallel_for(0, M, 16, [&](int64_t lo, int64_t hi) {
    std::vector<T> row(static_cast<size_t>(N));
    for (int64_t i = lo; i < hi; ++i) {
      std::fill(row.begin(), row.end(), T(0));
      for (int64_t k = 0; k < K; ++k) {
        T a = ta ? A[k * lda + i] : A[i * lda + k];
        if (tb)
          for (int64_t j = 0; j < N; ++j) row[j] += a * B[j * ldb + k];
        else
          for (int64_t j = 0; j < N; ++j) row[j] += a * B[k * ldb + j];
      }
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = alpha * row[j] + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
  });
}

}  // namespace

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  HIPT_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm: negative size M={} N={} K={}", M, N, K);
  const SgemmKernel& kr = active_kernel();  // first, so a bad HIPT_GEMM_KERNEL fails even on empty calls
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) return scale_c(M, N, beta, C, ldc);

  int threads = in_parallel_region() ? 1 : num_threads();
  if (M * N * K < kMinParallelWork) threads = 1;
  if (threads == 1) return sgemm_blocked(kr, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);

  // Grid tm x tn = threads: minimise the slowest thread's tile work plus what it packs
  // (A rows x K and B cols x K; a packed element costs about as much as 16 multiply-adds).
  const int64_t mp = ceil_div(M, kr.mr), np = ceil_div(N, kr.nr);
  int tm = 1;
  double best = -1;
  for (int t = 1; t <= threads; ++t) {
    if (threads % t) continue;
    const double rows = double(ceil_div(mp, t) * kr.mr), cols = double(ceil_div(np, threads / t) * kr.nr);
    const double cost = rows * cols * double(K) + 16.0 * double(K) * (rows + cols);
    if (best < 0 || cost < best) best = cost, tm = t;
  }
  const int tn = threads / tm;
  const int64_t rows = ceil_div(mp, tm) * kr.mr, cols = ceil_div(np, tn) * kr.nr;
  parallel_for(0, threads, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t i0 = (t / tn) * rows, j0 = (t % tn) * cols;
      const int64_t m = std::min(rows, M - i0), n = std::min(cols, N - j0);
      if (m <= 0 || n <= 0) continue;
      sgemm_blocked(kr, ta, tb, m, n, K, alpha, ta ? A + i0 : A + i0 * lda, lda, tb ? B + j0 * ldb : B + j0, ldb,
                    beta, C + i0 * ldc + j0, ldc);
    }
  });
}

void dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_plain<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* gemm_kernel_name() { return active_kernel().name; }

bool gemm_kernel_supported(const char* name) {
  const std::string n = name ? name : "";
  return n == "scalar" || (n == "avx2" && has_avx2_fma()) || (n == "avx512" && has_avx512f());
}

void set_gemm_kernel_for_testing(const char* name) {
  g_forced.store(name ? kernel_by_name(name, "set_gemm_kernel_for_testing") : nullptr, std::memory_order_release);
}

}  // namespace hipt::cpu
