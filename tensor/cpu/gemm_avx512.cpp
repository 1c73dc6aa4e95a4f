// SGEMM micro-kernel for AVX-512 (compiled with -mavx512f/dq/bw/vl -mfma, called only after
// gemm.cpp checked the CPU has all four). Sized for a Sapphire-Rapids-class core (L1d 48 KiB,
// L2 2 MiB, 2 FMA-512 pipes, latency 4):
//   MR x NR = 6 x 32: 12 zmm accumulators (enough chains for 2 pipes x 4 cycles), 2 B vectors and
//     a broadcast; the A panel is packed exactly as for the AVX2 kernel (MR = 6).
//   KC = 256: B micro-panel 256 x 32 x 4 B = 32 KiB, two thirds of L1d.
//   MC = 192: A block 192 KiB, a tenth of L2, so the B block's panels stream past it.
//   NC = 3072: B block 3 MiB in L3.
// Packing uses the driver's portable code (gemm.cpp). Not run on the development machine (AMD Zen
// 3, no AVX-512): its tests skip there.
// No standard-library headers here (see gemm_kernels.h for why).
#include <immintrin.h>

#include "tensor/cpu/gemm_kernels.h"

namespace hipt::cpu::gemm_detail {
namespace {

constexpr int MR = 6, NR = 32;

// c[6, 32] (row stride ldc) = alpha * ap[k, 6]ᵀ · bp[k, 32] + beta * c
void micro_6x32(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
  __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
  __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
  __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
  for (int i = 0; i < MR; ++i) {  // C is needed only after the k loop: fetch its 12 lines meanwhile
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
#define HIPT_ROW(i, r0, r1)             \
  a = _mm512_set1_ps(ap[i]);            \
  r0 = _mm512_fmadd_ps(a, b0, r0);      \
  r1 = _mm512_fmadd_ps(a, b1, r1);
#pragma GCC unroll 4
  for (int64_t p = 0; p < k; ++p) {
    __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16), a;
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
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#define HIPT_STORE(i, r0, r1)                                                                                        \
  if (beta == 0.f) {                                                                                                 \
    _mm512_storeu_ps(c + (i) * ldc, _mm512_mul_ps(va, r0));                                                          \
    _mm512_storeu_ps(c + (i) * ldc + 16, _mm512_mul_ps(va, r1));                                                     \
  } else {                                                                                                           \
    _mm512_storeu_ps(c + (i) * ldc, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc), _mm512_mul_ps(va, r0)));     \
    _mm512_storeu_ps(c + (i) * ldc + 16,                                                                             \
                     _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc + 16), _mm512_mul_ps(va, r1)));               \
  }
  HIPT_STORE(0, c00, c01)
  HIPT_STORE(1, c10, c11)
  HIPT_STORE(2, c20, c21)
  HIPT_STORE(3, c30, c31)
  HIPT_STORE(4, c40, c41)
  HIPT_STORE(5, c50, c51)
#undef HIPT_STORE
}

const SgemmKernel kAvx512{"avx512", MR, NR, /*mc=*/192, /*kc=*/256, /*nc=*/3072, micro_6x32, nullptr, nullptr};

}  // namespace

const SgemmKernel* avx512_kernel() { return &kAvx512; }

}  // namespace hipt::cpu::gemm_detail
