// Row primitives for the fused nn kernels (softmax, layernorm, gelu, attention): reductions and
// exp over one contiguous row. The f32 versions run AVX2+FMA code when the CPU has it (picked at
// run time, so the library stays portable); the f64 versions are plain loops, since f64 serves
// gradcheck and references rather than speed.
//
// f32 exp is a Cody-Waite range reduction plus a degree-7 Taylor polynomial: within 1 ulp of
// std::exp for x >= -87.3 (tests/test_nn_ops.cpp NnOpsVec checks it over the whole range), and 0
// below, where the true value is under FLT_MIN.
#pragma once
#include <cstdint>

namespace hipt::cpu::vec {

float max(const float* x, int64_t n);  // n >= 1
double max(const double* x, int64_t n);
// Sums accumulate in double, also for f32 rows: a layernorm mean off by a few ulps of a large
// row offset would show up as a relative error in every output.
double sum(const float* x, int64_t n);
double sum(const double* x, int64_t n);
float dot(const float* a, const float* b, int64_t n);
double dot(const double* a, const double* b, int64_t n);
// sum of (x[i] - c)², the second pass of a two-pass variance
double sq_dev_sum(const float* x, double c, int64_t n);
double sq_dev_sum(const double* x, double c, int64_t n);
// y[i] = exp(x[i] - shift); returns the sum of the y. y may alias x.
float exp_sum(float* y, const float* x, float shift, int64_t n);
double exp_sum(double* y, const double* x, double shift, int64_t n);

// y = erf(x) (f32 only: the vector form, exposed for its accuracy test).
void erf(float* y, const float* x, int64_t n);
// GELU, exact erf form, and its backward dx = g · gelu'(x). y/dx may alias x.
void gelu(float* y, const float* x, int64_t n);
void gelu(double* y, const double* x, int64_t n);
void gelu_backward(float* dx, const float* x, const float* g, int64_t n);
void gelu_backward(double* dx, const double* x, const double* g, int64_t n);

float exp(float x);  // the scalar form of the f32 exp above, for tests

}  // namespace hipt::cpu::vec
