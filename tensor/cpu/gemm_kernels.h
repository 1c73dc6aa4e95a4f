// Internal to tensor/cpu/gemm*.cpp: what one SGEMM micro-kernel offers the blocked driver in
// gemm.cpp. Each ISA file (gemm_avx2.cpp, gemm_avx512.cpp) is compiled with its own -m flags and
// fills one of these; gemm.cpp only calls through the pointers after checking the CPU.
//
// Packed layouts (the driver owns the buffers, 64-byte aligned):
//   A panel: op(A) rows [i0, i0+mr) x k, stored k-major: ap[k * mr + i]   (rows past m are 0)
//   B panel: op(B) cols [j0, j0+nr) x k, stored k-major: bp[k * nr + j]   (cols past n are 0)
//
// Keep this header free of inline functions and standard-library templates: anything inline it
// pulled into an -mavx512f translation unit could be merged by the linker with the portable copy
// and then run on a CPU without AVX-512.
#pragma once
#include <cstdint>

namespace hipt::cpu::gemm_detail {

// c[mr, nr] (row stride ldc) = alpha * ap[k, mr]ᵀ · bp[k, nr] + beta * c; beta == 0 never reads c.
using MicroKernel = void (*)(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, float alpha,
                             float beta);
// dst[ceil(m/mr) panels of k x mr] = rows [0, m) of op(A); a points at op(A)(0, 0), trans: A is stored [k, m].
using PackA = void (*)(float* dst, const float* a, int64_t lda, bool trans, int64_t m, int64_t k);
// dst[ceil(n/nr) panels of k x nr] = cols [0, n) of op(B); b points at op(B)(0, 0), trans: B is stored [n, k].
using PackB = void (*)(float* dst, const float* b, int64_t ldb, bool trans, int64_t k, int64_t n);

struct SgemmKernel {
  const char* name;
  int mr, nr;           // register tile
  int64_t mc, kc, nc;   // cache blocks: A block mc x kc in L2, B panel kc x nr in L1, B block kc x nc in L3
  MicroKernel micro;
  PackA pack_a;         // nullptr: the driver's portable packing
  PackB pack_b;
};

// Defined in gemm_avx2.cpp / gemm_avx512.cpp; only call them on a CPU that has the ISA.
const SgemmKernel* avx2_kernel();
const SgemmKernel* avx512_kernel();

}  // namespace hipt::cpu::gemm_detail
