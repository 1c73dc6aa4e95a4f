#include "tensor/cpu/cpu_features.h"

namespace hipt::cpu {

bool has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return v;
#else
  return false;
#endif
}

bool has_avx512f() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return v;
#else
  return false;
#endif
}

const char* simd_level() { return has_avx512f() ? "avx512" : has_avx2_fma() ? "avx2" : "scalar"; }

}  // namespace hipt::cpu
