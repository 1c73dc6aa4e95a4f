// What the CPU can run, asked once at start-up (cpuid through the compiler's builtins).
#pragma once

namespace hipt::cpu {

bool has_avx2_fma();
bool has_avx512f();  // with DQ, BW, VL: what the AVX-512 GEMM kernel is compiled for
const char* simd_level();  // "avx512", "avx2" or "scalar": the best this CPU has

}  // namespace hipt::cpu
