// Tiled ("flash") attention on the GPU: the table entries attention_lse and attention_lse_backward
// (contract: tensor/cpu/nn_kernels.h). Memory is O(T) per row: the T x T scores never leave the
// chip. q, k, v and g are read in place through their (batch, head, time) strides.
//
// Forward: one block per (batch·head, query tile). It loops over the key tiles (stopping at the
// diagonal when causal), computes the scores S = q kᵀ · scale, masks them, merges them into the
// running softmax state of each row (tensor/attention_math.h: rescale the accumulator by α, add
// the weights' sum), stores the weights P in shared memory and adds P v to the accumulator. At the
// end out = accumulator / l and lse = m + log l.
//
// Backward, deterministic (each output element is summed by one thread in a fixed order, no
// atomics), in three kernels: Δ_i = Σ_d g_id out_id (one warp per row); dK and dV, one block per
// (batch·head, key tile) looping over the query tiles that see it, rebuilding P = e^(S - lse) and
// dS = P (g vᵀ - Δ) per tile; dQ, one block per (batch·head, query tile) looping over the key
// tiles, rebuilding the same dS. The split recomputes S once more instead of accumulating dQ
// across key-tile blocks with float atomics, whose order (and so whose bits) would vary.
//
// f32 and f64 run on CUDA cores: 256 threads as a 16 x 16 grid (tx = thread % 16, ty = thread / 16)
// over tiles in shared memory (rows padded by one element against bank conflicts). Thread (ty, tx)
// owns rows ty + 16 r and columns tx + 16 c of a score tile and of an output tile; a row's 16
// threads form a half-warp, so its max and sum are half-warp shuffles. bf16 runs the same loops on
// tensor cores (cuda/flash_attention_wmma.cu: nvcuda::wmma, f32 accumulation).
#include <algorithm>
#include <type_traits>

#include "cuda/flash_attention.cuh"
#include "cuda/kernels.h"
#include "tensor/ops.h"

namespace hipt::cuda {
namespace {

using namespace flash;

constexpr int kFlashThreads = 256;  // a 16 x 16 grid of threads

// Tile sizes of the CUDA-core kernels (multiples of 16). f32 forward: 64 x 64; the backward keeps
// four [rows, D] tiles, so its query tile is 32. f64 halves both. Shared memory: *_smem below.
template <class A> struct Tiles {
  static constexpr int kFwdQ = 64, kFwdK = 64, kBwdQ = 32, kBwdK = 64;
};
template <> struct Tiles<double> {
  static constexpr int kFwdQ = 32, kFwdK = 32, kBwdQ = 16, kBwdK = 32;
};


__device__ inline int tx() { return static_cast<int>(threadIdx.x % 16); }
__device__ inline int ty() { return static_cast<int>(threadIdx.x / 16); }

template <class A> __device__ A half_warp_max(A x) {
  for (int o = 8; o > 0; o /= 2) {
    const A y = __shfl_xor_sync(0xffffffffu, x, o);
    x = y > x ? y : x;
  }
  return x;
}
// The xor butterfly gives every lane of the half-warp the same bits (each step adds a commutative
// pair), so the 16 copies of a row's softmax state stay identical.
template <class A> __device__ A half_warp_sum(A x) {
  for (int o = 8; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Rows [t0, t0 + ROWS) of an [n, D] matrix with row stride st into a [ROWS, D + 1] tile; rows past n
// read as 0 (so they add nothing and make no NaN). 16-byte loads when every row start is 16-byte
// aligned (the usual case), one element at a time otherwise.
template <int ROWS, int D, class T, class A>
__device__ void load_tile(A* tile, const T* src, int64_t st, int64_t t0, int64_t n) {
  constexpr int V = 16 / sizeof(T);
  if (reinterpret_cast<uintptr_t>(src) % 16 == 0 && st % V == 0) {
    for (int e = threadIdx.x; e < ROWS * D / V; e += blockDim.x) {
      const int r = e / (D / V), d = e % (D / V) * V;
      alignas(16) T x[V] = {};
      if (t0 + r < n) *reinterpret_cast<uint4*>(x) = *reinterpret_cast<const uint4*>(src + (t0 + r) * st + d);
#pragma unroll
      for (int u = 0; u < V; ++u) tile[r * (D + 1) + d + u] = static_cast<A>(x[u]);
    }
    return;
  }
  for (int e = threadIdx.x; e < ROWS * D; e += blockDim.x) {
    const int r = e / D, d = e % D;
    tile[r * (D + 1) + d] = t0 + r < n ? load(src + (t0 + r) * st + d) : A(0);
  }
}
// The two tile products, each in one place.
// s[r][c] = Σ_d X[ty + 16r][d] · Y[tx + 16c][d]: this thread's part of X Yᵀ for tiles X [16 RM, D]
// and Y [16 RN, D] (row stride D + 1). S = Q Kᵀ and dP = G Vᵀ.
template <int RM, int RN, int D, class A> __device__ void tile_dot(A (&s)[RM][RN], const A* X, const A* Y) {
#pragma unroll
  for (int r = 0; r < RM; ++r)
#pragma unroll
    for (int c = 0; c < RN; ++c) s[r][c] = A(0);
#pragma unroll 4
  for (int d = 0; d < D; ++d) {
    A x[RM], y[RN];
#pragma unroll
    for (int r = 0; r < RM; ++r) x[r] = X[(ty() + 16 * r) * (D + 1) + d];
#pragma unroll
    for (int c = 0; c < RN; ++c) y[c] = Y[(tx() + 16 * c) * (D + 1) + d];
#pragma unroll
    for (int r = 0; r < RM; ++r)
#pragma unroll
      for (int c = 0; c < RN; ++c) s[r][c] += x[r] * y[c];
  }
}
// acc[r][c] += Σ_{j < N} L(ty + 16r, j) · Z[j][tx + 16c], with L(row, j) at L[row·l_row + j·l_col]
// (so L may be a score tile or its transpose) and Z [N, D] of row stride D + 1. O += P V,
// dQ += dS K, dV += Pᵀ G, dK += dSᵀ Q.
template <int RM, int CD, int N, int D, class A>
__device__ void tile_accumulate(A (&acc)[RM][CD], const A* L, int l_row, int l_col, const A* Z) {
#pragma unroll 4
  for (int j = 0; j < N; ++j) {
    A l[RM];
#pragma unroll
    for (int r = 0; r < RM; ++r) l[r] = L[(ty() + 16 * r) * l_row + j * l_col];
#pragma unroll
    for (int c = 0; c < CD; ++c) {
      const A z = Z[j * (D + 1) + tx() + 16 * c];
#pragma unroll
      for (int r = 0; r < RM; ++r) acc[r][c] += l[r] * z;
    }
  }
}

// Rows [t0, t0 + 16 RM) of an accumulator tile times `factor` into dst (rows at or past n skipped).
template <int RM, int CD, class T, class A>
__device__ void store_tile(const Rows<T>& dst, int64_t b, int64_t h, int64_t t0, int64_t n, const A (&acc)[RM][CD],
                           A factor) {
#pragma unroll
  for (int r = 0; r < RM; ++r) {
    const int64_t t = t0 + ty() + 16 * r;
    if (t >= n) continue;
    T* row = dst.at(b, h) + t * dst.st;
#pragma unroll
    for (int c = 0; c < CD; ++c) store(row + tx() + 16 * c, acc[r][c] * factor);
  }
}

// ---------------------------------------------------------------- forward

template <class A, int D> constexpr size_t forward_smem() {
  constexpr int BQ = Tiles<A>::kFwdQ, BK = Tiles<A>::kFwdK;
  return sizeof(A) * (static_cast<size_t>(BQ + 2 * BK) * (D + 1) + static_cast<size_t>(BQ) * (BK + 1));
}

// Block (bh, query tile y). Shared: Q [BQ, D+1], K and V [BK, D+1], P [BQ, BK+1].
template <class T, int D>
__global__ void __launch_bounds__(kFlashThreads)
    flash_forward_kernel(Rows<T> out, Rows<acc_t<T>> lse, Rows<const T> q, Rows<const T> k, Rows<const T> v,
                         Problem<acc_t<T>> p) {
  using A = acc_t<T>;
  constexpr int BQ = Tiles<A>::kFwdQ, BK = Tiles<A>::kFwdK, RM = BQ / 16, RN = BK / 16, CD = D / 16, LP = BK + 1;
  extern __shared__ __align__(128) unsigned char smem[];
  A* sQ = reinterpret_cast<A*>(smem);
  A* sK = sQ + BQ * (D + 1);
  A* sV = sK + BK * (D + 1);
  A* sP = sV + BK * (D + 1);
  const int64_t b = blockIdx.x / p.H, h = blockIdx.x % p.H, q0 = query_tile() * BQ;

  load_tile<BQ, D>(sQ, q.at(b, h), q.st, q0, p.Tq);
  A o[RM][CD] = {};  // the unnormalised output rows, Σ_j e^(s_j - m) v_j
  am::OnlineSoftmax<A> st[RM];
#pragma unroll
  for (int r = 0; r < RM; ++r) st[r] = am::online_softmax_empty<A>();

  // The tile loop: each key tile is merged into every row's state (see tensor/attention_math.h).
  const int64_t k_end = p.key_end(q0 + BQ);
  for (int64_t k0 = 0; k0 < k_end; k0 += BK) {
    __syncthreads();  // the previous tile's K, V and P are read (and Q is loaded, the first time)
    load_tile<BK, D>(sK, k.at(b, h), k.st, k0, p.Tk);
    load_tile<BK, D>(sV, v.at(b, h), v.st, k0, p.Tk);
    __syncthreads();
    A s[RM][RN];
    tile_dot<RM, RN, D>(s, sQ, sK);
#pragma unroll
    for (int r = 0; r < RM; ++r) {
      const int64_t i = q0 + ty() + 16 * r;
      A tile_max = -A(INFINITY);
#pragma unroll
      for (int c = 0; c < RN; ++c) {
        s[r][c] = p.visible(i, k0 + tx() + 16 * c) ? s[r][c] * p.scale : -A(INFINITY);
        tile_max = s[r][c] > tile_max ? s[r][c] : tile_max;
      }
      const A alpha = am::online_softmax_rescale(st[r], half_warp_max(tile_max));
      A sum = 0;
#pragma unroll
      for (int c = 0; c < RN; ++c) {
        const A w = am::online_softmax_weight(st[r], s[r][c]);
        sP[(ty() + 16 * r) * LP + tx() + 16 * c] = w;
        sum += w;
      }
      am::online_softmax_add(st[r], half_warp_sum(sum));
#pragma unroll
      for (int c = 0; c < CD; ++c) o[r][c] *= alpha;
    }
    __syncthreads();  // P complete
    tile_accumulate<RM, CD, BK, D>(o, sP, LP, 1, sV);
  }

#pragma unroll
  for (int r = 0; r < RM; ++r) {
    const int64_t i = q0 + ty() + 16 * r;
    if (i >= p.Tq) continue;
    const A inv_l = am::online_softmax_inv_l(st[r]);
    T* row = out.at(b, h) + i * out.st;
#pragma unroll
    for (int c = 0; c < CD; ++c) store(row + tx() + 16 * c, o[r][c] * inv_l);
    if (tx() == 0) lse.at(b, h)[i * lse.st] = am::online_softmax_lse(st[r]);
  }
}

// ---------------------------------------------------------------- backward

// delta[(b·H + h)·Tq + i] = Σ_d g[b, h, i, d] · out[b, h, i, d] for rows = B·H·Tq, one warp per row.
template <class T>
__global__ void flash_delta_kernel(acc_t<T>* delta, Rows<const T> g, Rows<const T> out, int64_t H, int64_t Tq, int D,
                                   int64_t rows) {
  using A = acc_t<T>;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < rows; row += warps) {
    const int64_t bh = row / Tq, i = row % Tq, b = bh / H, h = bh % H;
    const T* gr = g.at(b, h) + i * g.st;
    const T* outr = out.at(b, h) + i * out.st;
    A acc = 0;
    for (int d = lane; d < D; d += 32) acc += load(gr + d) * load(outr + d);
    for (int o = 16; o > 0; o /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) delta[row] = acc;
  }
}

// P and dS of one [BQ, BK] tile at (q0, k0), written to shared memory by the score layout:
// P = e^(S·scale - lse) where visible (0 elsewhere, and for query rows past Tq), dS = P (dP - Δ).
// sQ, sG: [BQ, D+1]; sK, sV: [BK, D+1]; sL, sDelta: [BQ]; sP (may be null), sdS: [BQ, BK+1].
template <int BQ, int BK, int D, class A>
__device__ void score_grads(A* sP, A* sdS, const A* sQ, const A* sG, const A* sK, const A* sV, const A* sL,
                            const A* sDelta, int64_t q0, int64_t k0, const Problem<A>& p) {
  constexpr int RM = BQ / 16, RN = BK / 16, LP = BK + 1;
  A s[RM][RN], dp[RM][RN];
  tile_dot<RM, RN, D>(s, sQ, sK);
  tile_dot<RM, RN, D>(dp, sG, sV);
#pragma unroll
  for (int r = 0; r < RM; ++r) {
    const int row = ty() + 16 * r;
    const int64_t i = q0 + row;
#pragma unroll
    for (int c = 0; c < RN; ++c) {
      const int col = tx() + 16 * c;
      const A prob = i < p.Tq && p.visible(i, k0 + col) ? am::attention_prob(s[r][c] * p.scale, sL[row]) : A(0);
      if (sP) sP[row * LP + col] = prob;
      sdS[row * LP + col] = am::attention_score_grad(prob, dp[r][c], sDelta[row]);
    }
  }
}

template <class A, int D> constexpr size_t backward_smem(bool dkdv) {
  constexpr size_t BQ = Tiles<A>::kBwdQ, BK = Tiles<A>::kBwdK;
  // Q, G, K, V tiles, dS (and P for dK/dV), lse and Δ.
  return sizeof(A) * ((2 * BQ + 2 * BK) * (D + 1) + (dkdv ? 2 : 1) * BQ * (BK + 1) + 2 * BQ);
}

// Block (bh, key tile y): dK and dV of BK keys, summed over the query tiles that see them.
template <class T, int D>
__global__ void __launch_bounds__(kFlashThreads)
    flash_backward_dkdv_kernel(Rows<T> dk, Rows<T> dv, Rows<const T> g, Rows<const T> q, Rows<const T> k,
                               Rows<const T> v, Rows<const acc_t<T>> lse, const acc_t<T>* delta, Problem<acc_t<T>> p) {
  using A = acc_t<T>;
  constexpr int BQ = Tiles<A>::kBwdQ, BK = Tiles<A>::kBwdK, RK = BK / 16, CD = D / 16, LP = BK + 1;
  static_assert(BK % BQ == 0, "a key tile starts at a query tile boundary");
  extern __shared__ __align__(128) unsigned char smem[];
  A* sK = reinterpret_cast<A*>(smem);
  A* sV = sK + BK * (D + 1);
  A* sQ = sV + BK * (D + 1);
  A* sG = sQ + BQ * (D + 1);
  A* sP = sG + BQ * (D + 1);
  A* sdS = sP + BQ * LP;
  A* sL = sdS + BQ * LP;
  A* sDelta = sL + BQ;
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H, k0 = static_cast<int64_t>(blockIdx.y) * BK;

  load_tile<BK, D>(sK, k.at(b, h), k.st, k0, p.Tk);
  load_tile<BK, D>(sV, v.at(b, h), v.st, k0, p.Tk);
  A dk_acc[RK][CD] = {}, dv_acc[RK][CD] = {};
  // Causal: queries before k0 see none of these keys.
  for (int64_t q0 = p.causal ? k0 : 0; q0 < p.Tq; q0 += BQ) {
    __syncthreads();  // the previous tile's Q, G, P, dS are read (and K, V loaded, the first time)
    load_tile<BQ, D>(sQ, q.at(b, h), q.st, q0, p.Tq);
    load_tile<BQ, D>(sG, g.at(b, h), g.st, q0, p.Tq);
    load_vec<BQ>(sL, lse.at(b, h), lse.st, q0, p.Tq);
    load_vec<BQ>(sDelta, delta + bh * p.Tq, int64_t{1}, q0, p.Tq);
    __syncthreads();
    score_grads<BQ, BK, D>(sP, sdS, sQ, sG, sK, sV, sL, sDelta, q0, k0, p);
    __syncthreads();  // P, dS complete
    tile_accumulate<RK, CD, BQ, D>(dv_acc, sP, 1, LP, sG);  // dV += Pᵀ G
    tile_accumulate<RK, CD, BQ, D>(dk_acc, sdS, 1, LP, sQ);  // dK += dSᵀ Q (· scale at the end)
  }
  store_tile(dk, b, h, k0, p.Tk, dk_acc, p.scale);
  store_tile(dv, b, h, k0, p.Tk, dv_acc, A(1));
}

// Block (bh, query tile y): dQ of BQ queries, summed over the key tiles they see.
template <class T, int D>
__global__ void __launch_bounds__(kFlashThreads)
    flash_backward_dq_kernel(Rows<T> dq, Rows<const T> g, Rows<const T> q, Rows<const T> k, Rows<const T> v,
                             Rows<const acc_t<T>> lse, const acc_t<T>* delta, Problem<acc_t<T>> p) {
  using A = acc_t<T>;
  constexpr int BQ = Tiles<A>::kBwdQ, BK = Tiles<A>::kBwdK, RM = BQ / 16, CD = D / 16, LP = BK + 1;
  extern __shared__ __align__(128) unsigned char smem[];
  A* sQ = reinterpret_cast<A*>(smem);
  A* sG = sQ + BQ * (D + 1);
  A* sK = sG + BQ * (D + 1);
  A* sV = sK + BK * (D + 1);
  A* sdS = sV + BK * (D + 1);
  A* sL = sdS + BQ * LP;
  A* sDelta = sL + BQ;
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H, q0 = query_tile() * BQ;

  load_tile<BQ, D>(sQ, q.at(b, h), q.st, q0, p.Tq);
  load_tile<BQ, D>(sG, g.at(b, h), g.st, q0, p.Tq);
  load_vec<BQ>(sL, lse.at(b, h), lse.st, q0, p.Tq);
  load_vec<BQ>(sDelta, delta + bh * p.Tq, int64_t{1}, q0, p.Tq);
  A dq_acc[RM][CD] = {};
  const int64_t k_end = p.key_end(q0 + BQ);
  for (int64_t k0 = 0; k0 < k_end; k0 += BK) {
    __syncthreads();  // the previous tile's K, dS are read (and Q, G, lse, Δ loaded, the first time)
    load_tile<BK, D>(sK, k.at(b, h), k.st, k0, p.Tk);
    load_tile<BK, D>(sV, v.at(b, h), v.st, k0, p.Tk);
    __syncthreads();
    score_grads<BQ, BK, D>(static_cast<A*>(nullptr), sdS, sQ, sG, sK, sV, sL, sDelta, q0, k0, p);
    __syncthreads();  // dS complete
    tile_accumulate<RM, CD, BK, D>(dq_acc, sdS, LP, 1, sK);  // dQ += dS K (· scale at the end)
  }
  store_tile(dq, b, h, q0, p.Tq, dq_acc, p.scale);
}

// ---------------------------------------------------------------- launching

// The shapes of the contract: q [B, H, Tq, D], k and v [B, H, Tk, D] (last stride 1), and for each
// output its shape; lse in f32 (f64 for f64 inputs).
struct Dims {
  int64_t B, H, Tq, Tk, D;
};
Dims check_operands(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& lse) {
  HIPT_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "{}: q, k, v must be [B, H, T, D], got {}, {}, {}", op,
             q.str(), k.str(), v.str());
  const Dims d{q.shape()[0], q.shape()[1], q.shape()[2], k.shape()[2], q.shape()[3]};
  HIPT_CHECK(k.shape() == v.shape() && k.shape()[0] == d.B && k.shape()[1] == d.H && k.shape()[3] == d.D,
             "{}: q {}, k {}, v {} do not fit [B, H, Tq, D], [B, H, Tk, D]", op, q.str(), k.str(), v.str());
  HIPT_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), "{}: q, k, v must share a dtype, got {}, {}, {}", op,
             q.str(), k.str(), v.str());
  HIPT_CHECK(d.D == 32 || d.D == 64 || d.D == 128, "{}: the CUDA flash kernel supports D = 32, 64 or 128, got D = {}",
             op, d.D);
  const DType lse_dtype = q.dtype() == DType::F64 ? DType::F64 : DType::F32;
  HIPT_CHECK(lse.dtype() == lse_dtype && lse.shape() == Shape({d.B, d.H, d.Tq}), "{}: lse must be {}[{}, {}, {}], got {}",
             op, dtype_name(lse_dtype), d.B, d.H, d.Tq, lse.str());
  return d;
}
void check_rows(const char* op, const char* name, const Tensor& t, const Shape& shape, DType dtype) {
  HIPT_CHECK(t.shape() == shape && t.dtype() == dtype, "{}: {} must be {}{}, got {}", op, name, dtype_name(dtype),
             shape.str(), t.str());
  HIPT_CHECK(t.numel() == 0 || t.strides()[3] == 1, "{}: {} must have last stride 1, got {}", op, name,
             t.strides().str());
}

template <class T, int D>
void forward_d(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v, const Dims& d,
               double scale, bool causal) {
  using A = acc_t<T>;
  const Problem<A> p{d.H, d.Tq, d.Tk, static_cast<A>(scale), causal};
  const char* op = "attention_lse";
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    forward_bf16<D>(stream_for(out), d.B * d.H, rows_of<T>(out), rows_of<A>(lse), rows_of<const T>(q),
                    rows_of<const T>(k), rows_of<const T>(v), p);
  else
    launch(op, flash_forward_kernel<T, D>, d.B * d.H, tiles(d.Tq, Tiles<A>::kFwdQ), kFlashThreads,
           forward_smem<A, D>(), stream_for(out), rows_of<T>(out), rows_of<A>(lse), rows_of<const T>(q),
           rows_of<const T>(k), rows_of<const T>(v), p);
}

template <class T, int D>
void backward_d(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q, const Tensor& k,
                const Tensor& v, const Tensor& out, const Tensor& lse, const Dims& d, double scale, bool causal) {
  using A = acc_t<T>;
  const char* op = "attention_lse_backward";
  const cudaStream_t stream = stream_for(out);
  const Problem<A> p{d.H, d.Tq, d.Tk, static_cast<A>(scale), causal};
  const Tensor delta = ops::empty({d.B, d.H, d.Tq}, lse.dtype(), out.device());
  const int64_t rows = d.B * d.H * d.Tq;
  if (rows > 0) {
    flash_delta_kernel<T><<<grid_for(rows * 32), kThreads, 0, stream>>>(
        static_cast<A*>(delta.raw_data()), rows_of<const T>(g), rows_of<const T>(out), d.H, d.Tq,
        static_cast<int>(d.D), rows);
    HIPT_CUDA_CHECK_LAUNCH();
  }
  const A* dl = static_cast<const A*>(delta.raw_data());
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    backward_bf16<D>(stream, d.B * d.H, rows_of<T>(dq), rows_of<T>(dk), rows_of<T>(dv), rows_of<const T>(g),
                     rows_of<const T>(q), rows_of<const T>(k), rows_of<const T>(v), rows_of<const A>(lse), dl, p);
  } else {
    launch(op, flash_backward_dkdv_kernel<T, D>, d.B * d.H, tiles(d.Tk, Tiles<A>::kBwdK), kFlashThreads,
           backward_smem<A, D>(true), stream, rows_of<T>(dk), rows_of<T>(dv), rows_of<const T>(g),
           rows_of<const T>(q), rows_of<const T>(k), rows_of<const T>(v), rows_of<const A>(lse), dl, p);
    launch(op, flash_backward_dq_kernel<T, D>, d.B * d.H, tiles(d.Tq, Tiles<A>::kBwdQ), kFlashThreads,
           backward_smem<A, D>(false), stream, rows_of<T>(dq), rows_of<const T>(g), rows_of<const T>(q),
           rows_of<const T>(k), rows_of<const T>(v), rows_of<const A>(lse), dl, p);
  }
}

// D as a template parameter: the tiles and the per-thread accumulators are sized at compile time.
#define HIPT_FLASH_DISPATCH_D(D, F, ...) \
  switch (D) {                            \
    case 32: F<T, 32>(__VA_ARGS__); break; \
    case 64: F<T, 64>(__VA_ARGS__); break; \
    default: F<T, 128>(__VA_ARGS__); break; \
  }

}  // namespace

void flash_attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                             double scale, bool causal) {
  const char* op = "attention_lse";
  const Dims d = check_operands(op, q, k, v, lse);
  check_rows(op, "out", out, q.shape(), q.dtype());
  for (const Tensor* t : {&q, &k, &v})
    HIPT_CHECK(t->numel() == 0 || t->strides()[3] == 1, "{}: q, k, v must have last stride 1, got {}", op, t->str());
  if (out.numel() == 0) return;
  HIPT_CUDA_DISPATCH(op, q.dtype(), T, HIPT_FLASH_DISPATCH_D(d.D, forward_d, out, lse, q, k, v, d, scale, causal));
}

void flash_attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                              const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, double scale,
                              bool causal) {
  const char* op = "attention_lse_backward";
  const Dims d = check_operands(op, q, k, v, lse);
  check_rows(op, "dq", dq, q.shape(), q.dtype());
  check_rows(op, "g", g, q.shape(), q.dtype());
  check_rows(op, "out", out, q.shape(), q.dtype());
  check_rows(op, "dk", dk, k.shape(), q.dtype());
  check_rows(op, "dv", dv, k.shape(), q.dtype());
  for (const Tensor* t : {&q, &k, &v})
    HIPT_CHECK(t->numel() == 0 || t->strides()[3] == 1, "{}: q, k, v must have last stride 1, got {}", op, t->str());
  if (d.B * d.H == 0) return;
  HIPT_CUDA_DISPATCH(op, q.dtype(), T,
                     HIPT_FLASH_DISPATCH_D(d.D, backward_d, dq, dk, dv, g, q, k, v, out, lse, d, scale, causal));
}

}  // namespace hipt::cuda
