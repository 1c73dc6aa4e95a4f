// Scaled dot-product attention on the GPU as GEMM + row softmax + GEMM (contract:
// tensor/cpu/nn_kernels.h attention and attention_backward). The products go through the batched
// GEMM of cuda/blas.cuh over the (batch, head) dims with q/k/v's own strides, so the qkv
// projection's permuted views are read in place. The row softmax and its backward are the small
// one-block-per-row kernels below, with statistics in f32 (f64 for f64). f32 products follow
// ops::matmul_precision() as matmul's do.
//
// bf16: the scores S = q kᵀ · scale are written by cuBLAS in f32 (bf16 inputs, f32 accumulation)
// and the softmax reads them in f32; P is stored in bf16 (probs is a bf16 tensor, and P · v is a
// bf16 GEMM). The backward likewise keeps dP = g vᵀ in f32 and stores dS in bf16 for the dq/dk GEMMs.
#include <type_traits>

#include "cuda/blas.cuh"
#include "cuda/kernels.h"
#include "tensor/ops.h"

namespace hipt::cuda {
namespace {

__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }

struct MaxOp {
  template <class A> __device__ A operator()(A x, A y) const { return x > y ? x : y; }
};
struct SumOp {
  template <class A> __device__ A operator()(A x, A y) const { return x + y; }
};

// The reduction of v over the block, returned to every thread. `smem` holds one value per warp;
// the leading barrier lets a block reduce again right after the previous reduction was read.
template <class A, class Op> __device__ A block_reduce(A v, Op op, A* smem) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = (blockDim.x + 31) / 32;
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  A r = smem[0];
  for (int w = 1; w < warps; ++w) r = op(r, smem[w]);
  return r;
}

// p [rows, n] = softmax(s [rows, n]) along n, statistics in A. p may be s (in place): each
// element is read and then written by the same thread.
template <class A, class TS, class TP>
__global__ void softmax_rows_kernel(TP* p, const TS* s, int64_t rows, int64_t n) {
  __shared__ A smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const TS* x = s + r * n;
    TP* y = p + r * n;
    A m = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = MaxOp()(m, static_cast<A>(x[j]));
    m = block_reduce(m, MaxOp(), smem);
    A sum = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) sum += exp_of(static_cast<A>(x[j]) - m);
    const A inv = A(1) / block_reduce(sum, SumOp(), smem);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) y[j] = static_cast<TP>(exp_of(static_cast<A>(x[j]) - m) * inv);
  }
}

// ds [rows, n] = p ⊙ (dp - rowsum(dp ⊙ p)), statistics in A. ds may be dp (in place).
template <class A, class TD, class TP, class TO>
__global__ void softmax_backward_rows_kernel(TO* ds, const TD* dp, const TP* p, int64_t rows, int64_t n) {
  __shared__ A smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const TD* d = dp + r * n;
    const TP* pr = p + r * n;
    TO* o = ds + r * n;
    A dot = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) dot += static_cast<A>(d[j]) * static_cast<A>(pr[j]);
    dot = block_reduce(dot, SumOp(), smem);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
      o[j] = static_cast<TO>(static_cast<A>(pr[j]) * (static_cast<A>(d[j]) - dot));
  }
}

// One block per row (a grid-stride loop past 2^20 rows), one warp up to a full block per row.
struct RowLaunch {
  unsigned blocks;
  int threads;
};
RowLaunch row_launch(int64_t rows, int64_t n) {
  const int64_t threads = std::min<int64_t>(kThreads, std::max<int64_t>(32, (n + 31) / 32 * 32));
  return {static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t{1} << 20))),
          static_cast<int>(threads)};
}

// The (batch, head) dims of a GEMM over [B, H, ...] tensors: A's, B's and C's strides on each.
GemmBatch heads(int64_t B, int64_t H, const int64_t (&sa)[2], const int64_t (&sb)[2], const int64_t (&sc)[2]) {
  GemmBatch g;
  g.add(B, sa[0], sb[0], sc[0]);
  g.add(H, sa[1], sb[1], sc[1]);
  return g;
}

// The storage type of the scores and dP: f32 for bf16 (cuBLAS writes them in f32), T otherwise.
template <class T> using score_t = std::conditional_t<std::is_same_v<T, __nv_bfloat16>, float, T>;
template <class T> DType score_dtype() { return std::is_same_v<T, double> ? DType::F64 : DType::F32; }

template <class T>
void attention_impl(const Tensor& out, const Tensor& probs, const Tensor& q, const Tensor& k, const Tensor& v,
                    double scale) {
  using S = score_t<T>;
  const DType dt = q.dtype();
  const Device dev = q.device();
  const int64_t B = q.shape()[0], H = q.shape()[1], Tq = q.shape()[2], Tk = k.shape()[2], D = q.shape()[3];
  HIPT_CHECK(!probs.defined() || probs.dtype() == dt, "attention: probs {} must have q's dtype {}", probs.str(),
             dtype_name(dt));
  // P: the caller's probs or a scratch; the scores S are P itself unless they are f32 under bf16.
  const Tensor p = probs.defined() ? probs : ops::empty({B, H, Tq, Tk}, dt, dev);
  const Tensor s = std::is_same_v<S, T> ? p : ops::empty({B, H, Tq, Tk}, score_dtype<T>(), dev);
  const int64_t qs[2] = {q.strides()[0], q.strides()[1]}, ks[2] = {k.strides()[0], k.strides()[1]},
                vs[2] = {v.strides()[0], v.strides()[1]}, ps[2] = {H * Tq * Tk, Tq * Tk}, os[2] = {H * Tq * D, Tq * D};
  // S = q kᵀ · scale
  gemm("attention", dev, dt, s.dtype(), Tq, Tk, D, scale, {q.raw_data(), false, q.strides()[2]},
       {k.raw_data(), true, k.strides()[2]}, 0.0, s.raw_data(), Tk, heads(B, H, qs, ks, ps));
  // P = softmax(S) along the keys
  const int64_t rows = B * H * Tq;
  const RowLaunch l = row_launch(rows, Tk);
  softmax_rows_kernel<S, S, T><<<l.blocks, l.threads, 0, stream_for(q)>>>(
      static_cast<T*>(p.raw_data()), static_cast<const S*>(s.raw_data()), rows, Tk);
  HIPT_CUDA_CHECK_LAUNCH();
  // out = P v
  gemm("attention", dev, dt, dt, Tq, D, Tk, 1.0, {p.raw_data(), false, Tk}, {v.raw_data(), false, v.strides()[2]},
       0.0, out.raw_data(), D, heads(B, H, ps, vs, os));
}

// With P the probs and dO = g:  dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP - rowsum(dP ⊙ P)),
// dQ = dS K · scale,  dK = dSᵀ Q · scale.
template <class T>
void attention_backward_impl(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                             const Tensor& k, const Tensor& v, const Tensor& probs, double scale) {
  using S = score_t<T>;
  const DType dt = q.dtype();
  const Device dev = q.device();
  const int64_t B = q.shape()[0], H = q.shape()[1], Tq = q.shape()[2], Tk = k.shape()[2], D = q.shape()[3];
  HIPT_CHECK(probs.dtype() == dt, "attention_backward: probs {} must have q's dtype {}", probs.str(), dtype_name(dt));
  const int64_t qs[2] = {q.strides()[0], q.strides()[1]}, ks[2] = {k.strides()[0], k.strides()[1]},
                vs[2] = {v.strides()[0], v.strides()[1]}, gs[2] = {g.strides()[0], g.strides()[1]},
                ps[2] = {H * Tq * Tk, Tq * Tk}, qo[2] = {H * Tq * D, Tq * D}, ko[2] = {H * Tk * D, Tk * D};
  const GemmMatrix pm{probs.raw_data(), false, Tk}, gm{g.raw_data(), false, g.strides()[2]};
  if (dv.defined())  // dV = Pᵀ g
    gemm("attention_backward", dev, dt, dt, Tk, D, Tq, 1.0, {pm.ptr, true, Tk}, gm, 0.0, dv.raw_data(), D,
         heads(B, H, ps, gs, ko));
  if (!dq.defined() && !dk.defined()) return;
  // dP = g vᵀ (f32 under bf16), then dS in T (in place unless bf16)
  const Tensor dp = ops::empty({B, H, Tq, Tk}, score_dtype<T>(), dev);
  const Tensor ds = std::is_same_v<S, T> ? dp : ops::empty({B, H, Tq, Tk}, dt, dev);
  gemm("attention_backward", dev, dt, dp.dtype(), Tq, Tk, D, 1.0, gm, {v.raw_data(), true, v.strides()[2]}, 0.0,
       dp.raw_data(), Tk, heads(B, H, gs, vs, ps));
  const int64_t rows = B * H * Tq;
  const RowLaunch l = row_launch(rows, Tk);
  softmax_backward_rows_kernel<S, S, T, T><<<l.blocks, l.threads, 0, stream_for(q)>>>(
      static_cast<T*>(ds.raw_data()), static_cast<const S*>(dp.raw_data()), static_cast<const T*>(probs.raw_data()),
      rows, Tk);
  HIPT_CUDA_CHECK_LAUNCH();
  if (dq.defined())  // dQ = dS k · scale
    gemm("attention_backward", dev, dt, dt, Tq, D, Tk, scale, {ds.raw_data(), false, Tk},
         {k.raw_data(), false, k.strides()[2]}, 0.0, dq.raw_data(), D, heads(B, H, ps, ks, qo));
  if (dk.defined())  // dK = dSᵀ q · scale
    gemm("attention_backward", dev, dt, dt, Tk, D, Tq, scale, {ds.raw_data(), true, Tk},
         {q.raw_data(), false, q.strides()[2]}, 0.0, dk.raw_data(), D, heads(B, H, ps, qs, ko));
}

void attention(const Tensor& out, const Tensor& probs, const Tensor& q, const Tensor& k, const Tensor& v,
               double scale) {
  if (out.numel() == 0) return;
  HIPT_CUDA_DISPATCH("attention", q.dtype(), T, attention_impl<T>(out, probs, q, k, v, scale));
}

void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& probs, double scale) {
  if (q.numel() == 0 || k.numel() == 0) return;
  HIPT_CUDA_DISPATCH("attention_backward", q.dtype(), T,
                     attention_backward_impl<T>(dq, dk, dv, g, q, k, v, probs, scale));
}

}  // namespace

void register_attention_kernels(Backend& table) {
  table.attention = attention;
  table.attention_backward = attention_backward;
}

}  // namespace hipt::cuda
