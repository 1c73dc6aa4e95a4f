// Every CUDA runtime, cuBLAS and NCCL call goes through one of these checks: a failure throws
// hipt::Error naming the call, the file and the line, and the library's own words for the error.
#pragma once
#include <cuda_runtime.h>

#include "tensor/error.h"

namespace hipt::cuda {
[[noreturn]] void throw_cuda_error(const char* call, const char* file, int line, const char* what);
const char* cublas_status_name(int status);  // cublasStatus_t as words
}  // namespace hipt::cuda

#define HIPT_CUDA_CHECK(call)                                                       \
  do {                                                                              \
    cudaError_t hipt_err_ = (call);                                                 \
    if (hipt_err_ != cudaSuccess) {                                                 \
      cudaGetLastError(); /* clear a sticky-free error so the next call starts clean */ \
      ::hipt::cuda::throw_cuda_error(#call, __FILE__, __LINE__, cudaGetErrorString(hipt_err_)); \
    }                                                                               \
  } while (0)

// After a kernel launch: a bad launch configuration shows up here, not at the next call.
#define HIPT_CUDA_CHECK_LAUNCH() HIPT_CUDA_CHECK(cudaGetLastError())

#define HIPT_CUBLAS_CHECK(call)                                                     \
  do {                                                                              \
    int hipt_st_ = static_cast<int>(call);                                          \
    if (hipt_st_ != 0)                                                              \
      ::hipt::cuda::throw_cuda_error(#call, __FILE__, __LINE__, ::hipt::cuda::cublas_status_name(hipt_st_)); \
  } while (0)
