// Row primitives of vec_rows.h. The AVX2 bodies carry a target attribute instead of the file
// being built with -mavx2, so no inline function of a shared header gets compiled for AVX2 and
// picked by the linker for a CPU without it.
#include "tensor/cpu/vec_rows.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "tensor/cpu/cpu_features.h"
#include "tensor/nn_math.h"

namespace hipt::cpu::vec {
namespace {

// e^x = 2^n · e^r with n = round(x / ln 2) and r = x - n·ln 2 in [-ln2/2, ln2/2]. ln 2 is split in
// two (the high part has few bits, so n·kLn2Hi is exact) to keep r accurate. The Taylor series to
// r^7 has truncation error |r|^8/8! < 6e-9 relative, well under half an ulp (6e-8).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpLo = -87.3365447f;  // ln(FLT_MIN): below it the result is denormal or 0
constexpr float kExpHi = 88.3762626f;   // ln(2^127 · 1.9): keeps n <= 127 so 2^n is a normal float
constexpr float kC2 = 1.f / 2, kC3 = 1.f / 6, kC4 = 1.f / 24, kC5 = 1.f / 120, kC6 = 1.f / 720, kC7 = 1.f / 5040;

inline float exp_scalar(float x) {
  if (!(x >= kExpLo)) return x < kExpLo ? 0.f : x;  // 0 below the range, NaN stays NaN
  if (x > kExpHi) return std::exp(x);               // overflow territory: rare, let libm decide
  float n = std::nearbyint(x * kLog2e);
  float r = std::fma(-n, kLn2Hi, x);
  r = std::fma(-n, kLn2Lo, r);
  float p = kC7;
  p = std::fma(p, r, kC6);
  p = std::fma(p, r, kC5);
  p = std::fma(p, r, kC4);
  p = std::fma(p, r, kC3);
  p = std::fma(p, r, kC2);
  p = std::fma(p, r, 1.f);
  p = std::fma(p, r, 1.f);
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpLo)), _mm256_set1_ps(kExpHi));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kC7);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC5));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  // Outside [kExpLo, kExpHi] the clamp gave a wrong finite value: 0 below, inf above, NaN for NaN.
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(kExpLo), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(kExpHi), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

__attribute__((target("avx2,fma"))) inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Two accumulators per loop hide the add/max latency; the tail runs scalar.
__attribute__((target("avx2,fma"))) float max_avx2(const float* x, int64_t n) {
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
  }
  for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
  float m = hmax8(_mm256_max_ps(m0, m1));
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// 8 floats widen to two vectors of 4 doubles.
__attribute__((target("avx2,fma"))) inline double hsum4d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

__attribute__((target("avx2,fma"))) double sum_avx2(const float* x, int64_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
  }
  double s = hsum4d(_mm256_add_pd(s0, s1));
  for (; i < n; ++i) s += x[i];
  return s;
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum8(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) double sq_dev_sum_avx2(const float* x, double c, int64_t n) {
  const __m256d vc = _mm256_set1_pd(c);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vc);
    __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), vc);
    s0 = _mm256_fmadd_pd(d0, d0, s0);
    s1 = _mm256_fmadd_pd(d1, d1, s1);
  }
  double s = hsum4d(_mm256_add_pd(s0, s1));
  for (; i < n; ++i) s += (x[i] - c) * (x[i] - c);
  return s;
}

__attribute__((target("avx2,fma"))) float exp_sum_avx2(float* y, const float* x, float shift, int64_t n) {
  const __m256 vs = _mm256_set1_ps(shift);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {  // two independent exp chains in flight
    const __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
    const __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vs));
    _mm256_storeu_ps(y + i, e0);
    _mm256_storeu_ps(y + i + 8, e1);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
    _mm256_storeu_ps(y + i, e);
    s0 = _mm256_add_ps(s0, e);
  }
  float s = hsum8(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) s += (y[i] = exp_scalar(x[i] - shift));
  return s;
}

// erf(z) = z · P(z²) for |z| <= 1, and 1 - e^(-z²) · R(1/|z|) (sign restored) above, with P and R
// near-minimax fits (mpmath chebyfit) of erf(√t)/√t on t in [0, 1] and of erfc(z)·e^(z²) on 1/z
// in [0.25, 1]. Fit errors are 3e-11 and 2e-9 absolute in erf, so the f32 evaluation's rounding
// dominates: within 1.1 ulp of the correctly rounded erf (NnOpsVec.ErfAndGeluAccuracy).
// Above |z| = 4, erfc < 2e-8 is under half an ulp of 1: the clamp returns exactly ±1.
// P(t) = P0 + t · Q(t); P0 carries most of the result, so it is split into hi + lo floats and
// added last with FMAs.
constexpr float kErfQ[] = {-9.667044571e-06f, 1.126595903e-04f, -8.484080406e-04f, 5.221031808e-03f,
                           -2.686543073e-02f, 1.128378250e-01f, -3.761263847e-01f};
constexpr float kErfP0Hi = 1.128379226e+00f, kErfP0Lo = -5.866935382e-08f;
constexpr float kErfR[] = {2.503254319e-02f, -1.478984446e-01f, 3.608618604e-01f, -4.298337486e-01f,
                           1.454773476e-01f, 2.825897937e-01f, -3.948595879e-01f, 2.484752126e-02f,
                           5.612146380e-01f, 1.516556858e-04f};
constexpr float kErfSplit = 1.f;

template <size_t N> __attribute__((target("avx2,fma"))) inline __m256 horner8(const float (&c)[N], __m256 x) {
  __m256 p = _mm256_set1_ps(c[0]);
  for (size_t i = 1; i < N; ++i) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));
  return p;
}

__attribute__((target("avx2,fma"))) inline __m256 erf8(__m256 z) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 a = _mm256_andnot_ps(sign, z);
  const __m256 t = _mm256_mul_ps(z, z);
  const __m256 tail = _mm256_mul_ps(_mm256_mul_ps(z, t), horner8(kErfQ, t));
  const __m256 small =
      _mm256_fmadd_ps(z, _mm256_set1_ps(kErfP0Hi), _mm256_fmadd_ps(z, _mm256_set1_ps(kErfP0Lo), tail));
  const __m256 ac = _mm256_min_ps(_mm256_max_ps(a, _mm256_set1_ps(kErfSplit)), _mm256_set1_ps(4.f));
  const __m256 r = horner8(kErfR, _mm256_div_ps(_mm256_set1_ps(1.f), ac));
  const __m256 q = _mm256_mul_ps(exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), ac), ac)), r);
  const __m256 large = _mm256_or_ps(_mm256_sub_ps(_mm256_set1_ps(1.f), q), _mm256_and_ps(sign, z));
  return _mm256_blendv_ps(small, large, _mm256_cmp_ps(a, _mm256_set1_ps(kErfSplit), _CMP_GT_OQ));
}

constexpr float kSqrtHalf = static_cast<float>(nn_math::kSqrtHalf);
constexpr float kInvSqrt2Pi = static_cast<float>(nn_math::kInvSqrt2Pi);

__attribute__((target("avx2,fma"))) void erf_avx2(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, erf8(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = std::erf(x[i]);
}

// Two vectors per iteration: erf8 is a long dependent chain (two Horner polynomials and an exp),
// and interleaving two chains nearly halves the time per element.
__attribute__((target("avx2,fma"))) inline __m256 gelu8(__m256 v) {
  const __m256 half = _mm256_set1_ps(0.5f);
  return _mm256_mul_ps(v, _mm256_fmadd_ps(half, erf8(_mm256_mul_ps(v, _mm256_set1_ps(kSqrtHalf))), half));
}

__attribute__((target("avx2,fma"))) void gelu_avx2(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = gelu8(_mm256_loadu_ps(x + i)), b = gelu8(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(y + i, a);
    _mm256_storeu_ps(y + i + 8, b);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gelu8(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = nn_math::gelu(x[i]);
}

__attribute__((target("avx2,fma"))) inline __m256 gelu_grad8(__m256 v, __m256 g) {
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 cdf = _mm256_fmadd_ps(half, erf8(_mm256_mul_ps(v, _mm256_set1_ps(kSqrtHalf))), half);
  const __m256 pdf = _mm256_mul_ps(_mm256_set1_ps(kInvSqrt2Pi),
                                   exp8(_mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_sub_ps(_mm256_setzero_ps(), v))));
  return _mm256_mul_ps(g, _mm256_fmadd_ps(v, pdf, cdf));
}

__attribute__((target("avx2,fma"))) void gelu_backward_avx2(float* dx, const float* x, const float* g, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = gelu_grad8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(g + i));
    const __m256 b = gelu_grad8(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(g + i + 8));
    _mm256_storeu_ps(dx + i, a);
    _mm256_storeu_ps(dx + i + 8, b);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dx + i, gelu_grad8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(g + i)));
  for (; i < n; ++i) dx[i] = g[i] * nn_math::gelu_grad(x[i]);
}

// Asked on first use, not at static-init time, when cpuid data may not be ready yet.
inline bool avx2() { return has_avx2_fma(); }

}  // namespace

float exp(float x) { return exp_scalar(x); }

float max(const float* x, int64_t n) {
  if (avx2()) return max_avx2(x, n);
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

double max(const double* x, int64_t n) {
  double m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

double sum(const float* x, int64_t n) {
  if (avx2()) return sum_avx2(x, n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

double sum(const double* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

float dot(const float* a, const float* b, int64_t n) {
  if (avx2()) return dot_avx2(a, b, n);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

double dot(const double* a, const double* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

double sq_dev_sum(const float* x, double c, int64_t n) {
  if (avx2()) return sq_dev_sum_avx2(x, c, n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (x[i] - c) * (x[i] - c);
  return s;
}

double sq_dev_sum(const double* x, double c, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (x[i] - c) * (x[i] - c);
  return s;
}

float exp_sum(float* y, const float* x, float shift, int64_t n) {
  if (avx2()) return exp_sum_avx2(y, x, shift, n);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += (y[i] = exp_scalar(x[i] - shift));
  return s;
}

double exp_sum(double* y, const double* x, double shift, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (y[i] = std::exp(x[i] - shift));
  return s;
}

void erf(float* y, const float* x, int64_t n) {
  if (avx2()) return erf_avx2(y, x, n);
  for (int64_t i = 0; i < n; ++i) y[i] = std::erf(x[i]);
}

void gelu(float* y, const float* x, int64_t n) {
  if (avx2()) return gelu_avx2(y, x, n);
  for (int64_t i = 0; i < n; ++i) y[i] = nn_math::gelu(x[i]);
}

void gelu(double* y, const double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = nn_math::gelu(x[i]);
}

// d/dx [x Φ(x)] = Φ(x) + x φ(x), Φ(x) = (1 + erf(x/√2)) / 2, φ(x) = e^(-x²/2) / √(2π)
// (nn_math::gelu_grad); the scalar forms are the formulas the CUDA kernels run.
void gelu_backward(float* dx, const float* x, const float* g, int64_t n) {
  if (avx2()) return gelu_backward_avx2(dx, x, g, n);
  for (int64_t i = 0; i < n; ++i) dx[i] = g[i] * nn_math::gelu_grad(x[i]);
}

void gelu_backward(double* dx, const double* x, const double* g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = g[i] * nn_math::gelu_grad(x[i]);
}

}  // namespace hipt::cpu::vec
