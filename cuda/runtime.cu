// Device queries through the CUDA runtime. Linked against cudart only: with no driver,
// cudaGetDeviceCount fails with cudaErrorInsufficientDriver and we report that, instead of the
// binary failing to start as it would if it needed libcuda.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <chrono>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/runtime.h"

#ifndef HIPT_CUDA_ARCHITECTURES
#define HIPT_CUDA_ARCHITECTURES ""
#endif

namespace hipt::cuda {

namespace {

// Launched never: its attributes tell whether this binary has code the device can run.
__global__ void probe_kernel() {}

// "80-real,90" (CMAKE_CUDA_ARCHITECTURES) as "sm_80, sm_90, PTX compute_90".
std::string built_architectures() {
  std::vector<std::string> sass, ptx, other;
  std::stringstream in(HIPT_CUDA_ARCHITECTURES);
  for (std::string a; std::getline(in, a, ',');) {
    const size_t dash = a.find('-');
    const std::string num = a.substr(0, dash), kind = dash == std::string::npos ? "" : a.substr(dash + 1);
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) {
      other.push_back(a);  // "all", "native", ...
      continue;
    }
    if (kind != "virtual") sass.push_back("sm_" + num);
    if (kind != "real") ptx.push_back("PTX compute_" + num);
  }
  std::string out;
  for (const auto* list : {&sass, &ptx, &other})
    for (const auto& a : *list) out += (out.empty() ? "" : ", ") + a;
  return out.empty() ? std::string("unknown architectures") : out;
}

struct Runtime {
  int count = 0;        // devices the runtime sees
  std::string no_gpu;   // why there are none ("" when count > 0)
};
const Runtime& runtime() {
  static const Runtime r = [] {
    Runtime out;
    int n = 0;  // left unchanged on error
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      out.no_gpu = std::string("CUDA runtime: ") + cudaGetErrorString(e);
    } else if (n == 0) {
      out.no_gpu = "no CUDA device found";
    }
    out.count = e == cudaSuccess ? n : 0;
    return out;
  }();
  return r;
}

// Why cuda:index cannot run this binary's kernels ("" when it can). Probing a device creates its
// context, so each device is probed once, and only when asked about.
std::string probe_device(int index) {
  cudaDeviceProp p;
  HIPT_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  int current = 0;
  HIPT_CUDA_CHECK(cudaGetDevice(&current));
  HIPT_CUDA_CHECK(cudaSetDevice(index));
  cudaFuncAttributes attr;
  const cudaError_t e = cudaFuncGetAttributes(&attr, probe_kernel);
  if (e != cudaSuccess) cudaGetLastError();
  HIPT_CUDA_CHECK(cudaSetDevice(current));
  const std::string card = fmt::format("cuda:{} ({}, compute capability {}.{})", index, p.name, p.major, p.minor);
  if (e == cudaSuccess) return "";
  if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidKernelImage)
    return fmt::format("{} has no kernels in this binary, built for {}", card, built_architectures());
  if (e == cudaErrorUnsupportedPtxVersion)
    return fmt::format("{} cannot JIT this binary's PTX: the driver is older than the CUDA toolkit that built it "
                       "(built for {})", card, built_architectures());
  return fmt::format("{}: {}", card, cudaGetErrorString(e));
}

}  // namespace

bool compiled() { return true; }

std::string why_unusable(int index) {
  const Runtime& r = runtime();
  if (r.count == 0) return r.no_gpu;
  if (index < 0 || index >= r.count)
    return fmt::format("no device cuda:{}: this machine has {} CUDA device{} (cuda:0 to cuda:{})", index, r.count,
                       r.count == 1 ? "" : "s", r.count - 1);
  static std::mutex mu;
  static std::map<int, std::string> probed;
  std::lock_guard<std::mutex> lock(mu);
  auto it = probed.find(index);
  if (it == probed.end()) {
    std::string why;
    try {
      why = probe_device(index);
    } catch (const Error& e) {  // a failing query is itself the reason
      why = e.what();
    }
    it = probed.emplace(index, why).first;
  }
  return it->second;
}

int device_count() { return why_unusable(0).empty() ? runtime().count : 0; }

std::string why_no_gpu() { return why_unusable(0); }

std::string device_name(int index) {
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return p.name;
}

std::string compute_capability(int index) {
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, index) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return fmt::format("{}.{}", major, minor);
}

std::string runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

void synchronize(Device device) {
  if (device.type != DeviceType::CUDA) return;
  HIPT_CUDA_CHECK(cudaStreamSynchronize(stream_for(device)));
}

double elapsed_ms(Device device, const std::function<void()>& work) {
  if (device.type != DeviceType::CUDA) {
    const auto t0 = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  const cudaStream_t stream = stream_for(device);
  // Destroyed on every path, also when `work` throws.
  struct Events {
    cudaEvent_t start = nullptr, stop = nullptr;
    ~Events() {
      if (start) cudaEventDestroy(start);
      if (stop) cudaEventDestroy(stop);
    }
  } e;
  HIPT_CUDA_CHECK(cudaEventCreate(&e.start));
  HIPT_CUDA_CHECK(cudaEventCreate(&e.stop));
  HIPT_CUDA_CHECK(cudaEventRecord(e.start, stream));
  work();
  HIPT_CUDA_CHECK(cudaEventRecord(e.stop, stream));
  HIPT_CUDA_CHECK(cudaEventSynchronize(e.stop));
  float ms = 0;
  HIPT_CUDA_CHECK(cudaEventElapsedTime(&ms, e.start, e.stop));
  return ms;
}

// ---- shared by the kernel files (cuda/common.cuh, cuda/check.h) ----

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
