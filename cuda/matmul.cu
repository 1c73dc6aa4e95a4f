// Matrix products on cuBLAS: one handle per device on the device's stream, and the row-major
// batched GEMM of cuda/blas.cuh behind the matmul table entry (and attention.cu's products).
//
// cuBLAS is column-major. A row-major matrix X [r, c] with row stride ld is, to cuBLAS, the
// column-major Xᵀ [c, r] with leading dimension ld, so the row-major C = op(A) · op(B) is computed
// as the column-major Cᵀ = op(B)ᵀ · op(A)ᵀ: B is passed first, and each operand keeps its own
// transpose flag.
#include <climits>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/blas.cuh"
#include "cuda/kernels.h"
#include "tensor/ops.h"

namespace hipt::cuda {
namespace {

// cuBLAS asks for 32 MiB on Hopper and less on older GPUs.
constexpr size_t kWorkspaceBytes = size_t{32} << 20;

cudaDataType cuda_type(const char* op, DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::F64: return CUDA_R_64F;
    case DType::BF16: return CUDA_R_16BF;
    default: throw Error(fmt::format("{}: no CUDA GEMM for dtype {}", op, dtype_name(t)));
  }
}

void check_int(const char* op, const char* what, int64_t v) {
  HIPT_CHECK(v >= 0 && v <= INT_MAX, "{}: {} = {} is too large for cuBLAS (at most {})", op, what, v, INT_MAX);
}

// The leading dimension cuBLAS gets for a row-major matrix [rows, cols] with row stride ld. A
// single row is read without its stride, which may then be anything; cuBLAS still wants ld >= cols.
int64_t leading_dim(const char* op, const char* which, int64_t rows, int64_t cols, int64_t ld) {
  if (rows <= 1) return std::max<int64_t>(cols, 1);
  HIPT_CHECK(ld >= cols, "{}: {} has row stride {} below its row length {}: cuBLAS needs rows that do not overlap",
             op, which, ld, cols);
  return ld;
}

}  // namespace

cublasHandle_t cublas_handle(Device device) {
  cudaStream_t stream = stream_for(device);  // also makes `device` current, as cublasCreate needs
  static std::mutex mu;
  static std::vector<cublasHandle_t> handles;  // never destroyed: the driver may be gone at exit
  std::lock_guard<std::mutex> lock(mu);
  if (handles.size() <= static_cast<size_t>(device.index)) handles.resize(device.index + 1, nullptr);
  cublasHandle_t& h = handles[device.index];
  if (!h) {
    cublasHandle_t made = nullptr;
    HIPT_CUBLAS_CHECK(cublasCreate(&made));
    void* workspace = nullptr;
    HIPT_CUDA_CHECK(cudaMalloc(&workspace, kWorkspaceBytes));
    HIPT_CUBLAS_CHECK(cublasSetStream(made, stream));
    HIPT_CUBLAS_CHECK(cublasSetWorkspace(made, workspace, kWorkspaceBytes));
    // Default math: CUBLAS_COMPUTE_32F is exact f32, TF32 only where a call asks for it. bf16
    // outputs are reduced in f32, never in bf16.
    HIPT_CUBLAS_CHECK(cublasSetMathMode(
        made, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
    h = made;
  }
  return h;
}

void gemm(const char* op, Device device, DType in, DType out, int64_t M, int64_t N, int64_t K, double alpha,
          const GemmMatrix& a, const GemmMatrix& b, double beta, void* c, int64_t ldc, const GemmBatch& batch) {
  if (M == 0 || N == 0) return;
  const cudaDataType type_in = cuda_type(op, in), type_out = cuda_type(op, out);
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (in == DType::F64) {
    compute = CUBLAS_COMPUTE_64F;
  } else if (in == DType::F32 && ops::matmul_precision() == ops::MatmulPrecision::TF32) {
    compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  }
  HIPT_CHECK(in == out || (in == DType::BF16 && out == DType::F32), "{}: no CUDA GEMM from {} to {}", op,
             dtype_name(in), dtype_name(out));
  // The scalars have the compute type's precision.
  const double alpha_d = alpha, beta_d = beta;
  const float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
  const void* palpha = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* pbeta = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&beta_d) : &beta_f;

  const int64_t lda = a.trans ? leading_dim(op, "A", K, M, a.ld) : leading_dim(op, "A", M, K, a.ld);
  const int64_t ldb = b.trans ? leading_dim(op, "B", N, K, b.ld) : leading_dim(op, "B", K, N, b.ld);
  HIPT_CHECK(ldc >= N, "{}: output row stride {} below its row length {}", op, ldc, N);
  const std::pair<const char*, int64_t> dims[] = {{"M", M}, {"N", N}, {"K", K}, {"lda", lda}, {"ldb", ldb}, {"ldc", ldc}};
  for (const auto& [what, v] : dims) check_int(op, what, v);

  // The batch without its size-1 dims; then its longest inner run of dims along which A, B and C
  // all advance by one uniform stride: one strided-batched call, repeated over the outer dims.
  GemmBatch bt;
  for (int d = 0; d < batch.ndim; ++d)
    if (batch.size[d] != 1) bt.add(batch.size[d], batch.stride[0][d], batch.stride[1][d], batch.stride[2][d]);
  int inner = bt.ndim;  // the first dim of the inner run
  int64_t count = 1, stride[3] = {0, 0, 0};
  for (int d = bt.ndim - 1; d >= 0; --d) {
    if (d == bt.ndim - 1) {
      for (int k = 0; k < 3; ++k) stride[k] = bt.stride[k][d];
    } else {
      bool uniform = count * bt.size[d] <= INT_MAX;
      for (int k = 0; k < 3; ++k) uniform = uniform && bt.stride[k][d] == stride[k] * count;
      if (!uniform) break;
    }
    count *= bt.size[d];
    inner = d;
  }
  check_int(op, "batch count", count);
  int64_t outer = 1;
  for (int d = 0; d < inner; ++d) outer *= bt.size[d];

  cublasHandle_t handle = cublas_handle(device);
  const cublasOperation_t op_a = a.trans ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = b.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t size_in = static_cast<int64_t>(dtype_size(in)), size_out = static_cast<int64_t>(dtype_size(out));
  for (int64_t o = 0; o < outer; ++o) {
    int64_t off[3] = {0, 0, 0};
    for (int64_t d = inner - 1, rest = o; d >= 0; --d) {
      const int64_t i = rest % bt.size[d];
      rest /= bt.size[d];
      for (int k = 0; k < 3; ++k) off[k] += i * bt.stride[k][d];
    }
    const void* pa = static_cast<const char*>(a.ptr) + off[0] * size_in;
    const void* pb = static_cast<const char*>(b.ptr) + off[1] * size_in;
    void* pc = static_cast<char*>(c) + off[2] * size_out;
    if (count == 1) {
      HIPT_CUBLAS_CHECK(cublasGemmEx(handle, op_b, op_a, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K),
                                     palpha, pb, type_in, static_cast<int>(ldb), pa, type_in, static_cast<int>(lda),
                                     pbeta, pc, type_out, static_cast<int>(ldc), compute, CUBLAS_GEMM_DEFAULT));
    } else {
      HIPT_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
          handle, op_b, op_a, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), palpha, pb, type_in,
          static_cast<int>(ldb), stride[1], pa, type_in, static_cast<int>(lda), stride[0], pbeta, pc, type_out,
          static_cast<int>(ldc), stride[2], static_cast<int>(count), compute, CUBLAS_GEMM_DEFAULT));
    }
  }
}

namespace {

// The table entry (contract: tensor/cpu/kernels.h matmul), f32, f64 and bf16.
void matmul(const Tensor& out, const MatrixOperand& a, const MatrixOperand& b) {
  const int n = out.dim();
  const int64_t M = out.shape()[n - 2], N = out.shape()[n - 1];
  const int64_t K = a.trans ? a.t.shape()[n - 2] : a.t.shape()[n - 1];
  HIPT_CHECK(a.t.dtype() == out.dtype() && b.t.dtype() == out.dtype(), "matmul: operands {} and {} and output {} differ "
             "in dtype", a.t.str(), b.t.str(), out.str());
  if (out.numel() == 0) return;
  // Overlapping rows (an expanded row, stride 0) are beyond cuBLAS: such an operand is copied.
  auto readable = [n](const MatrixOperand& m) {
    const int64_t rows = m.t.shape()[n - 2], cols = m.t.shape()[n - 1];
    if (rows <= 1 || m.ld >= cols) return m;
    return MatrixOperand{ops::contiguous(m.t), m.trans, cols};
  };
  const MatrixOperand ra = readable(a), rb = readable(b);
  GemmBatch batch;
  for (int d = 0; d < n - 2; ++d) batch.add(out.shape()[d], ra.t.strides()[d], rb.t.strides()[d], out.strides()[d]);
  gemm("matmul", out.device(), out.dtype(), out.dtype(), M, N, K, 1.0, {ra.t.raw_data(), ra.trans, ra.ld},
       {rb.t.raw_data(), rb.trans, rb.ld}, 0.0, out.raw_data(), out.strides()[n - 2], batch);
}

}  // namespace

void register_matmul_kernels(Backend& table) { table.matmul = matmul; }

}  // namespace hipt::cuda
