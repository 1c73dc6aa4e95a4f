// HIPT_HD marks plain arithmetic that both the CPU kernels and the CUDA kernels call: compiled as
// __host__ __device__ by nvcc and as ordinary inline code by the C++ compiler, so the CPU tests
// exercise the very formulas the GPU runs.
#pragma once

#if defined(__CUDACC__)
#define HIPT_HD __host__ __device__ inline
#else
#define HIPT_HD inline
#endif
