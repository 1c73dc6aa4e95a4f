// The bf16 flash-attention kernels on tensor cores (nvcuda::wmma, 16 x 16 x 16 fragments, bf16
// inputs, f32 accumulation; sm_80 and newer): the tile loops of cuda/flash_attention.cu (which
// describes the algorithm and holds the entry points) with the products on tensor cores.
#include <mma.h>

#include "cuda/flash_attention.cuh"

namespace hipt::cuda::flash {
namespace {

// ---------------------------------------------------------------- forward, bf16 on tensor cores

// The same tile loop for bf16 with both products on tensor cores (nvcuda::wmma, 16 x 16 x 16
// fragments, bf16 inputs, f32 accumulation). 128 threads: warp w owns query rows [16w, 16w + 16)
// of the tile, and of S, P and O only those rows, so within a key tile the warps meet only at the
// K/V load. A fragment's element-to-lane layout is opaque, so S and the output accumulator O live
// in shared memory (f32): lanes 2r and 2r + 1 own row r, half of its columns each, for the softmax
// merge and for rescaling O by α. The weights P are rounded to bf16 for the P·V product; l sums
// them in f32.
namespace wmma = nvcuda::wmma;
constexpr int kWmmaThreads = 128, kWmmaQ = 64, kWmmaK = 64;

// Row strides (elements) of the shared tiles, padded against bank conflicts; each keeps a 16-row
// block and a 16-column step on the 32-byte alignment wmma loads and stores require.
template <int D> struct WmmaLayout {
  static constexpr int kLdQK = D + 8, kLdS = kWmmaK + 4, kLdP = kWmmaK + 8, kLdO = D + 4;
  static constexpr size_t kQ = 0, kK = kQ + 2 * kWmmaQ * kLdQK, kV = kK + 2 * kWmmaK * kLdQK,
                          kS = kV + 2 * kWmmaK * kLdQK, kP = kS + 4 * kWmmaQ * kLdS, kO = kP + 2 * kWmmaQ * kLdP,
                          kBytes = kO + 4 * kWmmaQ * kLdO;  // byte offsets of sQ, sK, sV, sS, sP, sO
};

// Rows [t0, t0 + ROWS) of an [n, D] bf16 matrix into a [ROWS, ld] bf16 tile; rows past n are 0.
template <int ROWS, int D>
__device__ void load_bf16_tile(__nv_bfloat16* tile, int ld, const __nv_bfloat16* src, int64_t st, int64_t t0,
                               int64_t n) {
  if (reinterpret_cast<uintptr_t>(src) % 16 == 0 && st % 8 == 0) {  // 8 elements (16 bytes) at a time
    for (int e = threadIdx.x; e < ROWS * D / 8; e += kWmmaThreads) {
      const int r = e / (D / 8), d = e % (D / 8) * 8;
      *reinterpret_cast<uint4*>(tile + r * ld + d) =
          t0 + r < n ? *reinterpret_cast<const uint4*>(src + (t0 + r) * st + d) : make_uint4(0, 0, 0, 0);
    }
    return;
  }
  for (int e = threadIdx.x; e < ROWS * D; e += kWmmaThreads) {
    const int r = e / D, d = e % D;
    tile[r * ld + d] = t0 + r < n ? src[(t0 + r) * st + d] : __float2bfloat16(0.0f);
  }
}

template <int D>
__global__ void __launch_bounds__(kWmmaThreads)
    flash_forward_wmma_kernel(Rows<__nv_bfloat16> out, Rows<float> lse, Rows<const __nv_bfloat16> q,
                              Rows<const __nv_bfloat16> k, Rows<const __nv_bfloat16> v, Problem<float> p) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = WmmaLayout<D>;
  constexpr int CD = D / 16, CK = kWmmaK / 16, HALF_K = kWmmaK / 2, HALF_D = D / 2;
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem + L::kQ);
  __nv_bfloat16* sK = reinterpret_cast<__nv_bfloat16*>(smem + L::kK);
  __nv_bfloat16* sV = reinterpret_cast<__nv_bfloat16*>(smem + L::kV);
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  float* sS = reinterpret_cast<float*>(smem + L::kS) + 16 * warp * L::kLdS;  // this warp's 16 rows
  __nv_bfloat16* sP = reinterpret_cast<__nv_bfloat16*>(smem + L::kP) + 16 * warp * L::kLdP;
  float* sO = reinterpret_cast<float*>(smem + L::kO) + 16 * warp * L::kLdO;
  const int64_t b = blockIdx.x / p.H, h = blockIdx.x % p.H, q0 = query_tile() * kWmmaQ;
  const int row = lane / 2, half = lane % 2;  // this lane's row of the warp's 16, and half of it
  const int64_t i = q0 + 16 * warp + row;

  load_bf16_tile<kWmmaQ, D>(sQ, L::kLdQK, q.at(b, h), q.st, q0, p.Tq);
  for (int d = 0; d < HALF_D; ++d) sO[row * L::kLdO + half * HALF_D + d] = 0.0f;
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> q_frag[CD];
#pragma unroll
  for (int c = 0; c < CD; ++c) wmma::load_matrix_sync(q_frag[c], sQ + 16 * warp * L::kLdQK + 16 * c, L::kLdQK);
  am::OnlineSoftmax<float> st = am::online_softmax_empty<float>();

  // The tile loop (as in flash_forward_kernel).
  const int64_t k_end = p.key_end(q0 + kWmmaQ);
  for (int64_t k0 = 0; k0 < k_end; k0 += kWmmaK) {
    __syncthreads();  // every warp has finished with the previous K and V
    load_bf16_tile<kWmmaK, D>(sK, L::kLdQK, k.at(b, h), k.st, k0, p.Tk);
    load_bf16_tile<kWmmaK, D>(sV, L::kLdQK, v.at(b, h), v.st, k0, p.Tk);
    __syncthreads();
    // S = Q Kᵀ for this warp's rows: Kᵀ is K read column-major.
#pragma unroll
    for (int n = 0; n < CK; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s_frag;
      wmma::fill_fragment(s_frag, 0.0f);
#pragma unroll
      for (int c = 0; c < CD; ++c) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> k_frag;
        wmma::load_matrix_sync(k_frag, sK + 16 * n * L::kLdQK + 16 * c, L::kLdQK);
        wmma::mma_sync(s_frag, q_frag[c], k_frag, s_frag);
      }
      wmma::store_matrix_sync(sS + 16 * n, s_frag, L::kLdS, wmma::mem_row_major);
    }
    __syncwarp();
    // The merge, for this lane's half row; the pair's shuffles give both lanes the row's max and sum.
    float tile_max = -INFINITY;
    for (int c = 0; c < HALF_K; ++c) {
      const int col = half * HALF_K + c;
      const float s = p.visible(i, k0 + col) ? sS[row * L::kLdS + col] * p.scale : -INFINITY;
      sS[row * L::kLdS + col] = s;
      tile_max = fmaxf(tile_max, s);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float alpha = am::online_softmax_rescale(st, tile_max);
    float sum = 0;
    for (int c = 0; c < HALF_K; ++c) {
      const int col = half * HALF_K + c;
      const float w = am::online_softmax_weight(st, sS[row * L::kLdS + col]);
      sP[row * L::kLdP + col] = __float2bfloat16(w);
      sum += w;
    }
    am::online_softmax_add(st, sum + __shfl_xor_sync(0xffffffffu, sum, 1));
    if (alpha != 1.0f)
      for (int d = 0; d < HALF_D; ++d) sO[row * L::kLdO + half * HALF_D + d] *= alpha;
    __syncwarp();
    // O += P V for this warp's rows.
#pragma unroll
    for (int c = 0; c < CD; ++c) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o_frag;
      wmma::load_matrix_sync(o_frag, sO + 16 * c, L::kLdO, wmma::mem_row_major);
#pragma unroll
      for (int n = 0; n < CK; ++n) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> p_frag;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> v_frag;
        wmma::load_matrix_sync(p_frag, sP + 16 * n, L::kLdP);
        wmma::load_matrix_sync(v_frag, sV + 16 * n * L::kLdQK + 16 * c, L::kLdQK);
        wmma::mma_sync(o_frag, p_frag, v_frag, o_frag);
      }
      wmma::store_matrix_sync(sO + 16 * c, o_frag, L::kLdO, wmma::mem_row_major);
    }
    __syncwarp();
  }

  if (i < p.Tq) {
    const float inv_l = am::online_softmax_inv_l(st);
    __nv_bfloat16* orow = out.at(b, h) + i * out.st;
    for (int d = 0; d < HALF_D; ++d)
      orow[half * HALF_D + d] = __float2bfloat16(sO[row * L::kLdO + half * HALF_D + d] * inv_l);
    if (half == 0) lse.at(b, h)[i * lse.st] = am::online_softmax_lse(st);
  }
#else
  __trap();  // bf16 tensor-core fragments need sm_80; the build targets sm_80 and newer
#endif
}

// ---------------------------------------------------------------- backward, bf16 on tensor cores

// The backward's two tile kernels for bf16 with the five products on tensor cores. 128 threads;
// warp w owns 16 rows of the block's tile (keys in dK/dV, queries in dQ) and computes, for those
// rows only, the scores S and dP (f32, in its shared scratch), then P and dS elementwise (lanes 2r
// and 2r + 1 own row r, half of the columns each), rounded to bf16 for the products that follow.
// The dK, dV, dQ accumulators stay in fragments: they need no per-row arithmetic.
template <int D> struct WmmaBwdLayout {
  static constexpr int kLd = D + 8, kLdS = 68, kLdP = 72;  // 64-column scratch, padded
  static constexpr size_t kTile = 2 * 64 * kLd;             // bytes of one [64, D] bf16 tile
  // byte offsets: four bf16 tiles, lse and Δ of 64 rows, then per warp S and dP (f32, [16, kLdS])
  // and P and dS (bf16, [16, kLdP])
  static constexpr size_t kVec = 4 * kTile, kS = kVec + 2 * 64 * 4, kdP = kS + 4 * 64 * kLdS,
                          kP = kdP + 4 * 64 * kLdS, kdS = kP + 2 * 64 * kLdP, kBytes = kdS + 2 * 64 * kLdP;
};
using AccFrag = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
using RowFragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using RowFragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using ColFragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major>;

// out[16, 64] (f32, row stride ldo) = X[16, D] Yᵀ for Y [64, D]; bf16 tiles of row stride ld.
template <int D> __device__ void wmma_dot_t(float* out, int ldo, const __nv_bfloat16* X, const __nv_bfloat16* Y, int ld) {
#pragma unroll
  for (int n = 0; n < 4; ++n) {
    AccFrag acc;
    wmma::fill_fragment(acc, 0.0f);
#pragma unroll
    for (int c = 0; c < D / 16; ++c) {
      RowFragA x;
      ColFragB y;
      wmma::load_matrix_sync(x, X + 16 * c, ld);
      wmma::load_matrix_sync(y, Y + 16 * n * ld + 16 * c, ld);
      wmma::mma_sync(acc, x, y, acc);
    }
    wmma::store_matrix_sync(out + 16 * n, acc, ldo, wmma::mem_row_major);
  }
}
// acc[c] += L[16, 64] Z[64, D] (column block c), L bf16 of row stride ldl, Z of row stride ldz.
template <int D>
__device__ void wmma_accumulate(AccFrag (&acc)[D / 16], const __nv_bfloat16* L, int ldl, const __nv_bfloat16* Z, int ldz) {
#pragma unroll
  for (int c = 0; c < D / 16; ++c)
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      RowFragA l;
      RowFragB z;
      wmma::load_matrix_sync(l, L + 16 * n, ldl);
      wmma::load_matrix_sync(z, Z + 16 * n * ldz + 16 * c, ldz);
      wmma::mma_sync(acc[c], l, z, acc[c]);
    }
}
// Rows [t0, t0 + 16) (those below n) of acc · factor into dst, through the warp's f32 scratch.
template <int D>
__device__ void wmma_store_rows(const Rows<__nv_bfloat16>& dst, int64_t b, int64_t h, int64_t t0, int64_t n,
                                const AccFrag (&acc)[D / 16], float factor, float* scratch, int lds) {
  const int lane = static_cast<int>(threadIdx.x % 32);
#pragma unroll
  for (int c = 0; c < D / 16; ++c) {
    wmma::store_matrix_sync(scratch, acc[c], lds, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      const int r = e / 16, col = e % 16;
      if (t0 + r < n) dst.at(b, h)[(t0 + r) * dst.st + 16 * c + col] = __float2bfloat16(scratch[r * lds + col] * factor);
    }
    __syncwarp();
  }
}

// Block (bh, key tile y of 64); warp w: keys [16w, 16w + 16). Sᵀ = K Qᵀ and dPᵀ = V Gᵀ per query
// tile, then dV += Pᵀ G and dK += dSᵀ Q.
template <int D>
__global__ void __launch_bounds__(kWmmaThreads)
    flash_backward_dkdv_wmma_kernel(Rows<__nv_bfloat16> dk, Rows<__nv_bfloat16> dv, Rows<const __nv_bfloat16> g,
                                    Rows<const __nv_bfloat16> q, Rows<const __nv_bfloat16> k,
                                    Rows<const __nv_bfloat16> v, Rows<const float> lse, const float* delta,
                                    Problem<float> p) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = WmmaBwdLayout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* sK = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* sV = reinterpret_cast<__nv_bfloat16*>(smem + L::kTile);
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem + 2 * L::kTile);
  __nv_bfloat16* sG = reinterpret_cast<__nv_bfloat16*>(smem + 3 * L::kTile);
  float* sL = reinterpret_cast<float*>(smem + L::kVec);
  float* sDelta = sL + 64;
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  float* sS = reinterpret_cast<float*>(smem + L::kS) + 16 * warp * L::kLdS;
  float* sdP = reinterpret_cast<float*>(smem + L::kdP) + 16 * warp * L::kLdS;
  __nv_bfloat16* sP = reinterpret_cast<__nv_bfloat16*>(smem + L::kP) + 16 * warp * L::kLdP;
  __nv_bfloat16* sdS = reinterpret_cast<__nv_bfloat16*>(smem + L::kdS) + 16 * warp * L::kLdP;
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H, k0 = static_cast<int64_t>(blockIdx.y) * 64;
  const int row = lane / 2, half = lane % 2;
  const int64_t j = k0 + 16 * warp + row;  // this lane's key

  load_bf16_tile<64, D>(sK, L::kLd, k.at(b, h), k.st, k0, p.Tk);
  load_bf16_tile<64, D>(sV, L::kLd, v.at(b, h), v.st, k0, p.Tk);
  AccFrag dk_acc[D / 16], dv_acc[D / 16];
#pragma unroll
  for (int c = 0; c < D / 16; ++c) wmma::fill_fragment(dk_acc[c], 0.0f), wmma::fill_fragment(dv_acc[c], 0.0f);
  for (int64_t q0 = p.causal ? k0 : 0; q0 < p.Tq; q0 += 64) {
    __syncthreads();  // every warp has finished with the previous Q, G, lse, Δ (and K, V are loaded)
    load_bf16_tile<64, D>(sQ, L::kLd, q.at(b, h), q.st, q0, p.Tq);
    load_bf16_tile<64, D>(sG, L::kLd, g.at(b, h), g.st, q0, p.Tq);
    load_vec<64>(sL, lse.at(b, h), lse.st, q0, p.Tq);
    load_vec<64>(sDelta, delta + bh * p.Tq, int64_t{1}, q0, p.Tq);
    __syncthreads();
    wmma_dot_t<D>(sS, L::kLdS, sK + 16 * warp * L::kLd, sQ, L::kLd);   // Sᵀ
    wmma_dot_t<D>(sdP, L::kLdS, sV + 16 * warp * L::kLd, sG, L::kLd);  // dPᵀ
    __syncwarp();
    for (int c = 0; c < 32; ++c) {
      const int col = half * 32 + c;  // query q0 + col
      const int64_t i = q0 + col;
      const float prob =
          i < p.Tq && p.visible(i, j) ? am::attention_prob(sS[row * L::kLdS + col] * p.scale, sL[col]) : 0.0f;
      sP[row * L::kLdP + col] = __float2bfloat16(prob);
      sdS[row * L::kLdP + col] = __float2bfloat16(am::attention_score_grad(prob, sdP[row * L::kLdS + col], sDelta[col]));
    }
    __syncwarp();
    wmma_accumulate<D>(dv_acc, sP, L::kLdP, sG, L::kLd);   // dV += Pᵀ G
    wmma_accumulate<D>(dk_acc, sdS, L::kLdP, sQ, L::kLd);  // dK += dSᵀ Q (· scale at the end)
  }
  wmma_store_rows<D>(dk, b, h, k0 + 16 * warp, p.Tk, dk_acc, p.scale, sS, L::kLdS);
  wmma_store_rows<D>(dv, b, h, k0 + 16 * warp, p.Tk, dv_acc, 1.0f, sS, L::kLdS);
#else
  __trap();
#endif
}

// Block (bh, query tile y of 64); warp w: queries [16w, 16w + 16). S = Q Kᵀ and dP = G Vᵀ per key
// tile, then dQ += dS K.
template <int D>
__global__ void __launch_bounds__(kWmmaThreads)
    flash_backward_dq_wmma_kernel(Rows<__nv_bfloat16> dq, Rows<const __nv_bfloat16> g, Rows<const __nv_bfloat16> q,
                                  Rows<const __nv_bfloat16> k, Rows<const __nv_bfloat16> v, Rows<const float> lse,
                                  const float* delta, Problem<float> p) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = WmmaBwdLayout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* sG = reinterpret_cast<__nv_bfloat16*>(smem + L::kTile);
  __nv_bfloat16* sK = reinterpret_cast<__nv_bfloat16*>(smem + 2 * L::kTile);
  __nv_bfloat16* sV = reinterpret_cast<__nv_bfloat16*>(smem + 3 * L::kTile);
  float* sL = reinterpret_cast<float*>(smem + L::kVec);
  float* sDelta = sL + 64;
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  float* sS = reinterpret_cast<float*>(smem + L::kS) + 16 * warp * L::kLdS;
  float* sdP = reinterpret_cast<float*>(smem + L::kdP) + 16 * warp * L::kLdS;
  __nv_bfloat16* sdS = reinterpret_cast<__nv_bfloat16*>(smem + L::kdS) + 16 * warp * L::kLdP;
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H, q0 = query_tile() * 64;
  const int row = lane / 2, half = lane % 2;
  const int64_t i = q0 + 16 * warp + row;  // this lane's query

  load_bf16_tile<64, D>(sQ, L::kLd, q.at(b, h), q.st, q0, p.Tq);
  load_bf16_tile<64, D>(sG, L::kLd, g.at(b, h), g.st, q0, p.Tq);
  load_vec<64>(sL, lse.at(b, h), lse.st, q0, p.Tq);
  load_vec<64>(sDelta, delta + bh * p.Tq, int64_t{1}, q0, p.Tq);
  AccFrag dq_acc[D / 16];
#pragma unroll
  for (int c = 0; c < D / 16; ++c) wmma::fill_fragment(dq_acc[c], 0.0f);
  const int64_t k_end = p.key_end(q0 + 64);
  for (int64_t k0 = 0; k0 < k_end; k0 += 64) {
    __syncthreads();  // every warp has finished with the previous K, V (and Q, G, lse, Δ are loaded)
    load_bf16_tile<64, D>(sK, L::kLd, k.at(b, h), k.st, k0, p.Tk);
    load_bf16_tile<64, D>(sV, L::kLd, v.at(b, h), v.st, k0, p.Tk);
    __syncthreads();
    wmma_dot_t<D>(sS, L::kLdS, sQ + 16 * warp * L::kLd, sK, L::kLd);   // S
    wmma_dot_t<D>(sdP, L::kLdS, sG + 16 * warp * L::kLd, sV, L::kLd);  // dP
    __syncwarp();
    const float l_i = sL[16 * warp + row], delta_i = sDelta[16 * warp + row];
    for (int c = 0; c < 32; ++c) {
      const int col = half * 32 + c;  // key k0 + col
      const float prob =
          i < p.Tq && p.visible(i, k0 + col) ? am::attention_prob(sS[row * L::kLdS + col] * p.scale, l_i) : 0.0f;
      sdS[row * L::kLdP + col] = __float2bfloat16(am::attention_score_grad(prob, sdP[row * L::kLdS + col], delta_i));
    }
    __syncwarp();
    wmma_accumulate<D>(dq_acc, sdS, L::kLdP, sK, L::kLd);  // dQ += dS K (· scale at the end)
  }
  wmma_store_rows<D>(dq, b, h, q0 + 16 * warp, p.Tq, dq_acc, p.scale, sS, L::kLdS);
#else
  __trap();
#endif
}

}  // namespace

template <int D>
void forward_bf16(cudaStream_t stream, int64_t BH, const Rows<__nv_bfloat16>& out, const Rows<float>& lse,
                  const Rows<const __nv_bfloat16>& q, const Rows<const __nv_bfloat16>& k,
                  const Rows<const __nv_bfloat16>& v, const Problem<float>& p) {
  launch("attention_lse", flash_forward_wmma_kernel<D>, BH, tiles(p.Tq, kWmmaQ), kWmmaThreads, WmmaLayout<D>::kBytes,
         stream, out, lse, q, k, v, p);
}

template <int D>
void backward_bf16(cudaStream_t stream, int64_t BH, const Rows<__nv_bfloat16>& dq, const Rows<__nv_bfloat16>& dk,
                   const Rows<__nv_bfloat16>& dv, const Rows<const __nv_bfloat16>& g,
                   const Rows<const __nv_bfloat16>& q, const Rows<const __nv_bfloat16>& k,
                   const Rows<const __nv_bfloat16>& v, const Rows<const float>& lse, const float* delta,
                   const Problem<float>& p) {
  const char* op = "attention_lse_backward";
  constexpr size_t smem = WmmaBwdLayout<D>::kBytes;
  launch(op, flash_backward_dkdv_wmma_kernel<D>, BH, tiles(p.Tk, 64), kWmmaThreads, smem, stream, dk, dv, g, q, k, v,
         lse, delta, p);
  launch(op, flash_backward_dq_wmma_kernel<D>, BH, tiles(p.Tq, 64), kWmmaThreads, smem, stream, dq, g, q, k, v, lse,
         delta, p);
}

#define HIPT_FLASH_BF16(D)                                                                                         \
  template void forward_bf16<D>(cudaStream_t, int64_t, const Rows<__nv_bfloat16>&, const Rows<float>&,             \
                                const Rows<const __nv_bfloat16>&, const Rows<const __nv_bfloat16>&,                 \
                                const Rows<const __nv_bfloat16>&, const Problem<float>&);                           \
  template void backward_bf16<D>(cudaStream_t, int64_t, const Rows<__nv_bfloat16>&, const Rows<__nv_bfloat16>&,    \
                                 const Rows<__nv_bfloat16>&, const Rows<const __nv_bfloat16>&,                      \
                                 const Rows<const __nv_bfloat16>&, const Rows<const __nv_bfloat16>&,                \
                                 const Rows<const __nv_bfloat16>&, const Rows<const float>&, const float*,          \
                                 const Problem<float>&);
HIPT_FLASH_BF16(32)
HIPT_FLASH_BF16(64)
HIPT_FLASH_BF16(128)

}  // namespace hipt::cuda::flash
