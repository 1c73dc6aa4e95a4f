// Device queries through the CUDA runtime. Linked against cudart only: with no driver,
// cudaGetDeviceCount fails with cudaErrorInsufficientDriver and we report that, instead of the
// binary failing to start as it would if it needed libcuda.
#include <cuda_runtime.h>

#include <string>

#include "cuda/runtime.h"

namespace hipt::cuda {

bool compiled() { return true; }

int device_count() {
  int n = 0;  // left unchanged on error
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string why_no_gpu() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("CUDA runtime: ") + cudaGetErrorString(e);
  }
  return n > 0 ? std::string() : std::string("no CUDA device found");
}

std::string device_name(int index) {
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) return "";
  return p.name;
}

std::string runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace hipt::cuda
