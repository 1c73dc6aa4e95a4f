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

// ---- shared by the kernel files (cuda/common.cuh, cuda/check.h) ----
#include <cublas_v2.h>

#include <mutex>
#include <vector>

#include "cuda/common.cuh"

namespace hipt::cuda {

void throw_cuda_error(const char* call, const char* file, int line, const char* what) {
  throw Error(fmt::format("CUDA: {} failed at {}:{}: {}", call, file, line, what));
}

const char* cublas_status_name(int status) { return cublasGetStatusString(static_cast<cublasStatus_t>(status)); }

cudaStream_t stream_for(Device device) {
  HIPT_CHECK(device.type == DeviceType::CUDA, "stream_for: {} is not a CUDA device", device.str());
  static std::mutex mu;
  static std::vector<cudaStream_t> streams;
  HIPT_CUDA_CHECK(cudaSetDevice(device.index));
  std::lock_guard<std::mutex> lock(mu);
  if (streams.size() <= static_cast<size_t>(device.index)) streams.resize(device.index + 1, nullptr);
  cudaStream_t& s = streams[device.index];
  if (!s) HIPT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape out = shape;
  const int lead = shape.size() - t.dim();
  for (int d = 0; d < shape.size(); ++d) {
    const int td = d - lead;
    out[d] = (td < 0 || t.shape()[td] == 1) ? 0 : t.strides()[td];
  }
  return out;
}

}  // namespace hipt::cuda
