// SGEMM micro-kernel and packing for AVX2 + FMA (compiled with -mavx2 -mfma, called only after
// gemm.cpp checked the CPU). Tuned on AMD Zen 3 (L1d 32 KiB, L2 512 KiB per core, 2 FMA pipes of
// 8 floats, FMA latency 4 cycles):
//   MR x NR = 6 x 16: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of the 16 registers.
//     12 independent FMA chains cover 2 pipes x 4 cycles latency with room to spare; each k step
//     does 12 FMAs for 2 loads + 6 broadcasts, under Zen 3's 3 loads per cycle.
//   KC = 256: the B micro-panel the kernel re-reads for every A panel is 256 x 16 x 4 B = 16 KiB,
//     half of L1d, leaving the other half for the streaming A micro-panel (6 KiB) and C.
//   MC = 144: the packed A block (144 x 256 x 4 B = 144 KiB) stays in the 512 KiB L2 while every
//     B micro-panel of the block walks past it.
//   NC = 4080: the packed B block (4 MiB) lives in L3; the ViT shapes (N <= 1536) need one.
// No standard-library headers here (see gemm_kernels.h for why).
#include <immintrin.h>

#include "tensor/cpu/gemm_kernels.h"

namespace hipt::cpu::gemm_detail {
namespace {

constexpr int MR = 6, NR = 16;

// c[6, 16] (row stride ldc) = alpha * ap[k, 6]ᵀ · bp[k, 16] + beta * c
void micro_6x16(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // The C tile is touched only after the k loop; start pulling its 12 lines in now.
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
#define HIPT_ROW(i, r0, r1)                  \
  a = _mm256_broadcast_ss(ap + (i));         \
  r0 = _mm256_fmadd_ps(a, b0, r0);           \
  r1 = _mm256_fmadd_ps(a, b1, r1);
#pragma GCC unroll 4
  for (int64_t p = 0; p < k; ++p) {
    __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8), a;
    HIPT_ROW(0, c00, c01)
    HIPT_ROW(1, c10, c11)
    HIPT_ROW(2, c20, c21)
    HIPT_ROW(3, c30, c31)
    HIPT_ROW(4, c40, c41)
    HIPT_ROW(5, c50, c51)
    ap += MR;
    bp += NR;
  }
#undef HIPT_ROW
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#define HIPT_STORE(i, r0, r1)                                                                          \
  if (beta == 0.f) {                                                                                   \
    _mm256_storeu_ps(c + (i) * ldc, _mm256_mul_ps(va, r0));                                            \
    _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_mul_ps(va, r1));                                        \
  } else {                                                                                             \
    _mm256_storeu_ps(c + (i) * ldc, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc), _mm256_mul_ps(va, r0)));         \
    _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc + 8), _mm256_mul_ps(va, r1))); \
  }
  HIPT_STORE(0, c00, c01)
  HIPT_STORE(1, c10, c11)
  HIPT_STORE(2, c20, c21)
  HIPT_STORE(3, c30, c31)
  HIPT_STORE(4, c40, c41)
  HIPT_STORE(5, c50, c51)
#undef HIPT_STORE
}

// r[0..8) rows in, columns out: r[j][i] = old r[i][j].
inline void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// dst[panels of k x 6] = op(A) rows [0, m) (see PackA).
void pack_a(float* dst, const float* a, int64_t lda, bool trans, int64_t m, int64_t k) {
  for (int64_t i0 = 0; i0 < m; i0 += MR, dst += k * MR) {
    const int64_t mr = m - i0 < MR ? m - i0 : MR;
    if (trans) {  // op(A)(i, p) = a[p * lda + i]: each k step is a short contiguous row
      if (mr == MR) {
        for (int64_t p = 0; p < k; ++p) {
          const float* s = a + p * lda + i0;
          _mm_storeu_ps(dst + p * MR, _mm_loadu_ps(s));
          _mm_storel_pi(reinterpret_cast<__m64*>(dst + p * MR + 4),
                        _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(s + 4)));
        }
        continue;
      }
      for (int64_t p = 0; p < k; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = i < mr ? a[p * lda + i0 + i] : 0.f;
      continue;
    }
    // op(A)(i, p) = a[i * lda + p]: gather 6 rows; 8 k at a time through a register transpose.
    const float* row = a + i0 * lda;
    int64_t p = 0;
    if (mr == MR) {
      for (; p + 8 <= k; p += 8) {
        __m256 r[8];
        for (int i = 0; i < MR; ++i) r[i] = _mm256_loadu_ps(row + i * lda + p);
        r[6] = r[7] = _mm256_setzero_ps();
        transpose8(r);
        for (int q = 0; q < 8; ++q) {
          float* d = dst + (p + q) * MR;
          _mm_storeu_ps(d, _mm256_castps256_ps128(r[q]));
          _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(r[q], 1));
        }
      }
    }
    for (; p < k; ++p)
      for (int i = 0; i < MR; ++i) dst[p * MR + i] = i < mr ? row[i * lda + p] : 0.f;
  }
}

// dst[panels of k x 16] = op(B) cols [0, n) (see PackB).
void pack_b(float* dst, const float* b, int64_t ldb, bool trans, int64_t k, int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += NR, dst += k * NR) {
    const int64_t nr = n - j0 < NR ? n - j0 : NR;
    if (!trans) {  // op(B)(p, j) = b[p * ldb + j]: one 16-float row per k step
      if (nr == NR) {
        for (int64_t p = 0; p < k; ++p) {
          _mm256_store_ps(dst + p * NR, _mm256_loadu_ps(b + p * ldb + j0));
          _mm256_store_ps(dst + p * NR + 8, _mm256_loadu_ps(b + p * ldb + j0 + 8));
        }
      } else {
        for (int64_t p = 0; p < k; ++p)
          for (int j = 0; j < NR; ++j) dst[p * NR + j] = j < nr ? b[p * ldb + j0 + j] : 0.f;
      }
      continue;
    }
    // op(B)(p, j) = b[j * ldb + p] (x·Wᵀ with W [N, K]): transpose 8 x 8 blocks of W rows.
    const float* col = b + j0 * ldb;
    int64_t p = 0;
    if (nr == NR) {
      for (; p + 8 <= k; p += 8) {
        for (int h = 0; h < 2; ++h) {
          __m256 r[8];
          for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(col + (h * 8 + j) * ldb + p);
          transpose8(r);
          for (int q = 0; q < 8; ++q) _mm256_store_ps(dst + (p + q) * NR + h * 8, r[q]);
        }
      }
    }
    for (; p < k; ++p)
      for (int j = 0; j < NR; ++j) dst[p * NR + j] = j < nr ? col[j * ldb + p] : 0.f;
  }
}

const SgemmKernel kAvx2{"avx2", MR, NR, /*mc=*/144, /*kc=*/256, /*nc=*/4080, micro_6x16, pack_a, pack_b};

}  // namespace

const SgemmKernel* avx2_kernel() { return &kAvx2; }

}  // namespace hipt::cpu::gemm_detail
