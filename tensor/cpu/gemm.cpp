// SGEMM driver: BLIS-style packing and cache blocking around a register-tile micro-kernel.
//
//   for each claim (a run of MR-row panels inside column block jc of NC), taken from a counter:
//     make sure op(B)[:, jc] is packed for every K block (once per call, shared; see Threads) B, L3
//     for pc in K by KC:                 (the first K block applies beta, later ones accumulate)
//       pack op(A)[claimed rows, pc] into MR-tall k-major panels (at most MC rows)  A block, L2
//       for jr in NC by NR:              B micro-panel [KC x NR] stays in L1 across the ir loop
//         for ir in rows by MR:          micro-kernel: C[MR x NR] tile in registers
//
// All four transpose cases are handled by the packing routines, never by copying a transposed
// operand. MR/NR/MC/KC/NC belong to the micro-kernel (gemm_avx2.cpp, gemm_avx512.cpp, the
// portable one below) because they follow from its register count and the caches it was tuned
// for; each file says why it picked its numbers. Blocks are balanced (K = 384 with KC = 256 is
// two blocks of 192, not 256 + 128) so no pass runs on a sliver.
//
// Threads: one parallel_for of num_threads() chunks; each thread claims runs of row panels from
// one shared atomic counter (column-block-major) until it runs out. Two things make 2 threads
// scale (measured on the 2-vCPU Zen 3 VM, docs/performance.md):
//  - B is packed once per call, not once per thread. Packing op(B) (an 8x8-transposing gather
//    for NT) took 2-3% of each thread's time on fc1 when every thread packed its own copy, and
//    the copies doubled the L3 footprint. Now the packed K x N lives in the caller's scratch
//    (the caller waits in parallel_for, so it outlives every worker); the first thread(s) to
//    reach a column block split its packing into column chunks claimed from a per-block counter,
//    and each waits only for the last chunk someone else is packing (spin, then yield). A late
//    worker (a pool wake-up is 25-80 us here) finds B packed and just computes.
//  - Claims are guided: at most MC rows, but at most 1/(2*threads) of what is left and at
//    least 4 panels (24 rows), so the threads finish within a small claim of each other. Equal
//    MC-row items left up to one item (~6% of the run) of tail when one core ran slower.
// Few rows (M under 2 * threads panels): the column blocks are split instead. Nested calls
// (matmul's per-head parallel_for) and small products run serially, packing B per column block
// into the thread's own scratch (K x NC, capped at 4 MiB unless K alone needs more).
//
// Packing buffers are thread_local and only grow (A: MC x KC; B: K x NC serial, K x N shared), so the many small per-head products allocate nothing after their first call.
//
// Kernel choice: the best the CPU runs, or HIPT_GEMM_KERNEL=avx512|avx2|scalar. Forcing a kernel
// this CPU cannot run (or an unknown name) makes every sgemm call throw hipt::Error saying so:
// silently running another kernel would make a benchmark or test report the wrong thing.
#include "tensor/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
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

// A spin-wait hint: PAUSE on x86 (part of SSE2, the baseline), nothing elsewhere.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

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

// dst[ceil(n/NR) panels of k x NR] = op(B) cols [0, n), zero-padded (layout in gemm_kernels.h).
template <int NR>
void pack_b_portable(float* dst, const float* b, int64_t ldb, bool trans, int64_t k, int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += NR, dst += k * NR) {
    const int64_t nr = std::min<int64_t>(NR, n - j0);
    for (int64_t p = 0; p < k; ++p)
      for (int j = 0; j < NR; ++j)
        dst[p * NR + j] = j >= nr ? 0.f : trans ? b[(j0 + j) * ldb + p] : b[p * ldb + j0 + j];
  }
}

// dst[ceil(m/MR) panels of k x MR] = op(A) rows [0, m): the rows of op(A) are the columns of
// op(A)ᵀ, so this is B's packing with the transpose flag flipped.
template <int MR>
void pack_a_portable(float* dst, const float* a, int64_t lda, bool trans, int64_t m, int64_t k) {
  pack_b_portable<MR>(dst, a, lda, !trans, k, m);
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

// One sgemm call: C[M, N] = alpha * op(A) · op(B) + beta * C; A, B point at op()(0, 0).
struct Problem {
  bool ta, tb;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
  const float* a_at(int64_t i, int64_t p) const { return ta ? A + p * lda + i : A + i * lda + p; }  // &op(A)(i, p)
  const float* b_at(int64_t p, int64_t j) const { return tb ? B + j * ldb + p : B + p * ldb + j; }  // &op(B)(p, j)
};

// How the call is cut: J column blocks (NC wide) x P MR-row panels. Threads claim runs of panels
// inside one column block (column-block-major), at most `chunk` panels (about MC rows) at a time.
struct Plan {
  int64_t KC, NC, J, P;
  int64_t chunk;      // most panels per claim (the A block of one claim fits L2)
  int64_t min_chunk;  // guided claims shrink towards this near the end
  int threads;
};

// With one thread, op(B)[:, block] (every K block) is packed once per column block and reused by
// all its rows; the block is capped so K x NC stays a few MiB of L3.
constexpr int64_t kBBlockFloats = int64_t(1) << 20;

Plan make_plan(const SgemmKernel& kr, const Problem& g, int threads) {
  Plan pl;
  const int64_t MR = kr.mr, NR = kr.nr, Q = ceil_div(g.N, NR);
  pl.threads = threads;
  pl.P = ceil_div(g.M, MR);
  pl.KC = balanced_block(g.K, kr.kc, 8);
  int64_t R = ceil_div(g.M, kr.mc);
  // Threads share one packed B of the whole K x N (packed once, cooperatively), so the per-thread
  // cap does not apply; the column blocks still keep NC and the active block's footprint bounded.
  const int64_t nc_cap = std::max<int64_t>(NR, std::min<int64_t>(kr.nc, kBBlockFloats / g.K / NR * NR));
  pl.J = ceil_div(g.N, nc_cap);
  if (threads > 1 && pl.P < 2 * threads) {
    pl.J = std::min(Q, round_up(pl.J, threads));  // a few rows, wide: split the columns
    R = 1;
  }
  pl.NC = ceil_div(Q, pl.J) * NR;
  pl.J = ceil_div(g.N, pl.NC);
  pl.chunk = ceil_div(pl.P, R);
  // Guided claims: a claim takes at most 1/(2*threads) of what is left, but at least 4 panels
  // (24 rows), so the last claims are small and the threads finish within a few panels of each
  // other even when one of them runs slower (a noisy neighbour, a lower clock).
  pl.min_chunk = threads > 1 ? std::min<int64_t>(pl.chunk, 4) : pl.chunk;
  return pl;
}

// State shared by the threads of one parallel call. B is packed once for all threads: the packed
// K x N lives in the caller's scratch; column block jb's NR-panels are packed in column chunks
// claimed from pack_next[jb] by whichever threads arrive first, and pack_done[jb] counts finished
// chunks. A thread computes on block jb only after pack_done[jb] reaches the chunk count.
struct Shared {
  std::atomic<int64_t> next{0};  // next unclaimed unit: jb * P + panel
  float* bpack = nullptr;        // K x round_up(N, NR) floats; block jb at K * jb * NC
  int64_t pack_cols = 0;         // columns per packing chunk (a multiple of NR)
  std::unique_ptr<std::atomic<int64_t>[]> pack_next, pack_done;
};

// Packs the column chunks [c0, c1) of column block jb: every K block of them.
void pack_b_cols(const SgemmKernel& kr, const Problem& g, const Plan& pl, float* blk, int64_t jc, int64_t ncb,
                 int64_t c0, int64_t c1, int64_t nc) {
  for (int64_t pc = 0; pc < g.K; pc += pl.KC) {
    const int64_t kc = std::min(pl.KC, g.K - pc);
    kr.pack_b(blk + pc * ncb + c0 * kc, g.b_at(pc, jc + c0), g.ldb, g.tb, kc, std::min(c1, nc) - c0);
  }
}

// Packs block jb together with the other threads, then waits until all of it is packed.
void pack_b_shared(const SgemmKernel& kr, const Problem& g, const Plan& pl, Shared& sh, int64_t jb) {
  const int64_t jc = jb * pl.NC, nc = std::min(pl.NC, g.N - jc), ncb = round_up(nc, kr.nr);
  float* blk = sh.bpack + g.K * jc;
  const int64_t chunks = ceil_div(ncb, sh.pack_cols);
  for (int64_t c = sh.pack_next[jb].fetch_add(1, std::memory_order_relaxed); c < chunks;
       c = sh.pack_next[jb].fetch_add(1, std::memory_order_relaxed)) {
    pack_b_cols(kr, g, pl, blk, jc, ncb, c * sh.pack_cols, (c + 1) * sh.pack_cols, nc);
    sh.pack_done[jb].fetch_add(1, std::memory_order_release);
  }
  // The wait is for at most one chunk another thread is packing. Spin briefly, then yield, so
  // a descheduled packer on a busy 2-core machine gets the core back.
  for (int spins = 0; sh.pack_done[jb].load(std::memory_order_acquire) < chunks; ++spins) {
    if (spins < 4096)
      cpu_relax();
    else
      std::this_thread::yield();
  }
}

// Runs claims until the shared counter runs out. Per claim: for each K block, pack the claim's A
// rows (at most MC x KC, stays in L2) and sweep the B block's NR-wide panels (KC x NR, stays in L1
// while the MR-row panels of A pass under it).
void run_items(const SgemmKernel& kr, const Problem& g, const Plan& pl, Shared& sh) {
  const int MR = kr.mr, NR = kr.nr;
  const int64_t units = pl.J * pl.P;
  const bool shared_b = sh.bpack != nullptr;
  float* bpack = shared_b ? nullptr : t_bpack.get(g.K * pl.NC);
  float* apack = t_apack.get(pl.chunk * MR * pl.KC);
  alignas(64) float edge[kMaxTile];
  int64_t packed_jc = -1;
  for (;;) {
    // Claim [u, u + n): panels of one column block, at most chunk, fewer near the end.
    int64_t u = sh.next.load(std::memory_order_relaxed), n = 0;
    for (;;) {
      if (u >= units) return;
      const int64_t block_end = (u / pl.P + 1) * pl.P;
      n = std::max(pl.min_chunk, std::min(pl.chunk, ceil_div(units - u, 2 * int64_t(pl.threads))));
      n = std::min(n, block_end - u);
      if (sh.next.compare_exchange_weak(u, u + n, std::memory_order_relaxed)) break;
    }
    const int64_t jb = u / pl.P, p0 = u % pl.P;
    const int64_t jc = jb * pl.NC, nc = std::min(pl.NC, g.N - jc);
    const int64_t ncb = round_up(nc, NR);  // packed width of this column block
    const int64_t i0 = p0 * MR, i1 = std::min(g.M, (p0 + n) * MR);
    const float* bblk;
    if (shared_b) {
      if (jb != packed_jc) pack_b_shared(kr, g, pl, sh, jb);
      bblk = sh.bpack + g.K * jc;
    } else {
      if (jb != packed_jc) pack_b_cols(kr, g, pl, bpack, jc, ncb, 0, ncb, nc);
      bblk = bpack;
    }
    packed_jc = jb;
    for (int64_t pc = 0; pc < g.K; pc += pl.KC) {  // K block pc starts at bblk + pc * ncb
      const int64_t kc = std::min(pl.KC, g.K - pc);
      const float beta = pc == 0 ? g.beta : 1.f;  // later K blocks accumulate onto the first
      kr.pack_a(apack, g.a_at(i0, pc), g.lda, g.ta, i1 - i0, kc);
      for (int64_t jr = 0; jr < nc; jr += NR) {
        const int64_t nr = std::min<int64_t>(NR, nc - jr);
        const float* bp = bblk + pc * ncb + jr * kc;  // panel jr/NR of the block: (jr/NR) * kc * NR
        for (int64_t ir = 0; ir < i1 - i0; ir += MR) {
          const int64_t mr = std::min<int64_t>(MR, i1 - i0 - ir);
          const float* ap = apack + ir * kc;
          float* c = g.C + (i0 + ir) * g.ldc + jc + jr;
          if (mr == MR && nr == NR) {
            kr.micro(kc, ap, bp, c, g.ldc, g.alpha, beta);
            continue;
          }
          // Edge tile: the kernel always writes a full tile, so let it write scratch.
          kr.micro(kc, ap, bp, edge, NR, g.alpha, 0.f);
          for (int64_t i = 0; i < mr; ++i)
            for (int64_t j = 0; j < nr; ++j) {
              float* cij = c + i * g.ldc + j;
              *cij = beta == 0.f ? edge[i * NR + j] : edge[i * NR + j] + beta * *cij;
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
  const Problem g{ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  const Plan pl = make_plan(kr, g, threads);
  Shared sh;
  if (threads == 1 || pl.J * pl.P <= pl.chunk) return run_items(kr, g, pl, sh);
  // The caller's scratch holds the shared packed B: it waits in parallel_for until all is done.
  const int64_t NR = kr.nr;
  sh.bpack = t_bpack.get(K * round_up(N, NR));
  const int64_t ncb = round_up(std::min(pl.NC, N), NR);
  sh.pack_cols = std::max<int64_t>(NR, round_up(ceil_div(ncb, 4 * int64_t(threads)), NR));
  sh.pack_next.reset(new std::atomic<int64_t>[static_cast<size_t>(pl.J)]);
  sh.pack_done.reset(new std::atomic<int64_t>[static_cast<size_t>(pl.J)]);
  for (int64_t j = 0; j < pl.J; ++j) sh.pack_next[j].store(0), sh.pack_done[j].store(0);
  parallel_for(0, threads, 1, [&](int64_t, int64_t) { run_items(kr, g, pl, sh); });
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
