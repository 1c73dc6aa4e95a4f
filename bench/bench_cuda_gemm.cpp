// GPU GEMM on the ViT shapes: hipt::ops::matmul against cuBLAS called directly on the same
// buffers, in f32 (exact), TF32 and bf16, timed with CUDA events on the stream hipt's ops run on.
// ViT-256 is 384 wide with 6 heads of 64, ViT-4K 192 wide with 6 heads of 32; both see 257 tokens
// per image, a batch of 64 images by default. The linear layers are x·Wᵀ with W [out, in], as
// nn::Linear runs them; attention is q·kᵀ and P·v over batch·heads.
//
//   bench_cuda_gemm [--json] [--batch N] [--iters N]
//
// Prints a table (or, with --json, one JSON array) of milliseconds per product and TFLOP/s for
// both, and hipt's time over cuBLAS's. Exits with status 1 and a message where no GPU is usable.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/runtime.h"
#include "tensor/ops.h"

namespace hipt::cuda {
// The stream every op on `device` runs on (cuda/runtime.cu; declared for kernel files in cuda/common.cuh).
cudaStream_t stream_for(Device device);
}  // namespace hipt::cuda

namespace {

using hipt::Device;
using hipt::DeviceType;
using hipt::DType;
using hipt::Tensor;
namespace ops = hipt::ops;

const Device kGpu{DeviceType::CUDA, 0};

void fail(const std::string& what) {
  std::fprintf(stderr, "error: bench_cuda_gemm: %s\n", what.c_str());
  std::exit(1);
}
void check_cuda(cudaError_t e, const char* call) {
  if (e != cudaSuccess) fail(std::string(call) + ": " + cudaGetErrorString(e));
}
void check_cublas(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(std::string(call) + ": " + cublasGetStatusString(s));
}
#define CHECK_CUDA(call) check_cuda((call), #call)
#define CHECK_CUBLAS(call) check_cublas((call), #call)

// C [batch, M, N] = A [batch, M, K] · op(B), with B [N, K] read transposed (trans_b) or [K, N];
// B is one matrix shared by the batch (a weight) or one per batch element.
struct Product {
  const char* name;
  int64_t batch, M, N, K;
  bool trans_b, batched_b;
};

std::vector<Product> products(int64_t images) {
  const int64_t T = 257, rows = images * T;
  return {
      {"vit256.qkv", 1, rows, 1152, 384, true, false},
      {"vit256.fc1", 1, rows, 1536, 384, true, false},
      {"vit256.fc2", 1, rows, 384, 1536, true, false},
      {"vit256.qk", images * 6, T, T, 64, true, true},
      {"vit256.pv", images * 6, T, 64, T, false, true},
      {"vit4k.qkv", 1, rows, 576, 192, true, false},
      {"vit4k.fc1", 1, rows, 768, 192, true, false},
      {"vit4k.fc2", 1, rows, 192, 768, true, false},
      {"vit4k.qk", images * 6, T, T, 32, true, true},
      {"vit4k.pv", images * 6, T, 32, T, false, true},
  };
}

Tensor random_on_gpu(const hipt::Shape& shape, DType dtype, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  for (float& x : v) x = dist(gen);
  Tensor t = ops::from_vector(v, shape);
  return (dtype == DType::F32 ? t : ops::cast(t, dtype)).to(kGpu);
}

// Milliseconds per call of f, averaged over `iters` calls after two warm-up calls.
template <class F> double time_ms(cudaStream_t stream, int iters, F&& f) {
  f();
  f();
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  CHECK_CUDA(cudaEventRecord(start, stream));
  for (int i = 0; i < iters; ++i) f();
  CHECK_CUDA(cudaEventRecord(stop, stream));
  CHECK_CUDA(cudaEventSynchronize(stop));
  float ms = 0;
  CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  return static_cast<double>(ms) / iters;
}

// The product through cuBLAS directly: row-major C = A · op(B) is column-major Cᵀ = op(B)ᵀ · Aᵀ.
// f32: cublasSgemm (cublasSgemmStridedBatched); TF32 and bf16: cublasGemmEx (StridedBatchedEx).
void cublas_product(cublasHandle_t h, const Product& p, const std::string& precision, const Tensor& a,
                    const Tensor& b, const Tensor& c) {
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(p.N), n = static_cast<int>(p.M), k = static_cast<int>(p.K);
  const int ldb = static_cast<int>(p.trans_b ? p.K : p.N), lda = k, ldc = m;
  const long long sb = p.batched_b ? p.N * p.K : 0, sa = p.M * p.K, sc = p.M * p.N;
  const int count = static_cast<int>(p.batch);
  const float one = 1.f, zero = 0.f;
  if (precision == "f32") {
    const float* pa = static_cast<const float*>(a.raw_data());
    const float* pb = static_cast<const float*>(b.raw_data());
    float* pc = static_cast<float*>(c.raw_data());
    if (count == 1)
      CHECK_CUBLAS(cublasSgemm(h, op_b, CUBLAS_OP_N, m, n, k, &one, pb, ldb, pa, lda, &zero, pc, ldc));
    else
      CHECK_CUBLAS(cublasSgemmStridedBatched(h, op_b, CUBLAS_OP_N, m, n, k, &one, pb, ldb, sb, pa, lda, sa, &zero, pc,
                                             ldc, sc, count));
    return;
  }
  const cudaDataType type = precision == "bf16" ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute = precision == "tf32" ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  if (count == 1)
    CHECK_CUBLAS(cublasGemmEx(h, op_b, CUBLAS_OP_N, m, n, k, &one, b.raw_data(), type, ldb, a.raw_data(), type, lda,
                              &zero, c.raw_data(), type, ldc, compute, CUBLAS_GEMM_DEFAULT));
  else
    CHECK_CUBLAS(cublasGemmStridedBatchedEx(h, op_b, CUBLAS_OP_N, m, n, k, &one, b.raw_data(), type, ldb, sb,
                                            a.raw_data(), type, lda, sa, &zero, c.raw_data(), type, ldc, sc, count,
                                            compute, CUBLAS_GEMM_DEFAULT));
}

struct Row {
  std::string product, precision;
  Product p;
  double hipt_ms, cublas_ms;
};

double tflops(const Product& p, double ms) {
  return 2.0 * static_cast<double>(p.batch * p.M) * static_cast<double>(p.N * p.K) / (ms * 1e-3) / 1e12;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  int64_t images = 64;
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if ((arg == "--batch" || arg == "--iters") && i + 1 < argc) {
      const long v = std::strtol(argv[++i], nullptr, 10);
      if (v <= 0) fail(arg + " wants a positive number, got " + argv[i]);
      if (arg == "--batch")
        images = v;
      else
        iters = static_cast<int>(v);
    } else {
      fail("unknown argument '" + arg + "' (usage: bench_cuda_gemm [--json] [--batch N] [--iters N])");
    }
  }
  if (hipt::cuda::device_count() == 0) fail("no usable GPU: " + hipt::cuda::why_no_gpu());
  hipt::cuda::register_backend();

  cudaStream_t stream = hipt::cuda::stream_for(kGpu);
  cublasHandle_t handle = nullptr;
  CHECK_CUBLAS(cublasCreate(&handle));
  CHECK_CUBLAS(cublasSetStream(handle, stream));

  std::vector<Row> rows;
  uint32_t seed = 1;
  for (const Product& p : products(images)) {
    for (const char* name : {"f32", "tf32", "bf16"}) {
      const std::string precision = name;
      const DType dt = precision == "bf16" ? DType::BF16 : DType::F32;
      const Tensor a = random_on_gpu({p.batch, p.M, p.K}, dt, seed++);
      const hipt::Shape bs = p.trans_b ? hipt::Shape{p.N, p.K} : hipt::Shape{p.K, p.N};
      const Tensor b = p.batched_b ? random_on_gpu({p.batch, bs[0], bs[1]}, dt, seed++) : random_on_gpu(bs, dt, seed++);
      const Tensor c = ops::empty({p.batch, p.M, p.N}, dt, kGpu);
      ops::MatmulPrecisionGuard guard(precision == "tf32" ? ops::MatmulPrecision::TF32 : ops::MatmulPrecision::F32);
      const double hipt_ms = time_ms(stream, iters, [&] { ops::matmul(a, b, false, p.trans_b); });
      const double cublas_ms = time_ms(stream, iters, [&] { cublas_product(handle, p, precision, a, b, c); });
      rows.push_back({p.name, precision, p, hipt_ms, cublas_ms});
    }
  }
  CHECK_CUBLAS(cublasDestroy(handle));

  if (json) {
    std::printf("[\n");
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::printf("  {\"product\": \"%s\", \"precision\": \"%s\", \"batch\": %lld, \"M\": %lld, \"N\": %lld, "
                  "\"K\": %lld, \"hipt_ms\": %.4f, \"cublas_ms\": %.4f, \"hipt_tflops\": %.2f, "
                  "\"cublas_tflops\": %.2f}%s\n",
                  r.product.c_str(), r.precision.c_str(), static_cast<long long>(r.p.batch),
                  static_cast<long long>(r.p.M), static_cast<long long>(r.p.N), static_cast<long long>(r.p.K),
                  r.hipt_ms, r.cublas_ms, tflops(r.p, r.hipt_ms), tflops(r.p, r.cublas_ms),
                  i + 1 < rows.size() ? "," : "");
    }
    std::printf("]\n");
    return 0;
  }
  std::printf("GPU: %s, %lld images of 257 tokens, %d iterations\n", hipt::cuda::device_name(0).c_str(),
              static_cast<long long>(images), iters);
  std::printf("%-12s %-5s %18s %9s %9s %8s %8s %7s\n", "product", "prec", "batch x M x N x K", "hipt ms", "cuBLAS ms",
              "hipt TF", "cuBLAS TF", "ratio");
  for (const Row& r : rows) {
    const std::string dims = std::to_string(r.p.batch) + "x" + std::to_string(r.p.M) + "x" + std::to_string(r.p.N) +
                             "x" + std::to_string(r.p.K);
    std::printf("%-12s %-5s %18s %9.3f %9.3f %8.1f %8.1f %7.2f\n", r.product.c_str(), r.precision.c_str(),
                dims.c_str(), r.hipt_ms, r.cublas_ms, tflops(r.p, r.hipt_ms), tflops(r.p, r.cublas_ms),
                r.hipt_ms / r.cublas_ms);
  }
  return 0;
}
