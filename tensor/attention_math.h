// The arithmetic of tiled ("flash") attention, shared by the CPU kernel and the CUDA kernel
// (cuda/flash_attention.cu). A is the accumulation type: float for f32 and bf16 data, double for
// f64. tests/test_attention_math.cpp checks every function against a double reference.
//
// Online softmax. For one query row with scores s_j (already scaled, masked keys at -inf), the
// output is o = Σ_j e^(s_j - m) v_j / l with m = max_j s_j and l = Σ_j e^(s_j - m). The keys arrive
// in tiles; after the tiles seen so far the state is (m, l) for those keys and the unnormalised
// accumulator o~ = Σ_j e^(s_j - m) v_j. A new tile with row maximum t gives m' = max(m, t); every
// term seen so far was weighted by e^(-m) and must be by e^(-m'), so l and o~ are multiplied by
// α = e^(m - m') (≤ 1, no overflow), and the tile's keys add their weights p_j = e^(s_j - m') to l
// and p_j v_j to o~. After the last tile o = o~ / l and the log-sum-exp is lse = m + log l.
// Masked keys: a tile whose scores are all -inf leaves m = -inf while nothing is visible; then
// e^(m - m') would be e^(-inf + inf) = NaN, so α is 1 and every weight 0 while m' = -inf (the state
// stays empty: l = 0, o~ = 0). A row with no visible key at all ends with l = 0: its output is 0
// and its lse -inf.
//
// Backward. With P_ij = e^(s_ij - lse_i) rebuilt from the saved lse, dP = dO vᵀ and
// Δ_i = Σ_d dO_id · o_id (= Σ_j P_ij dP_ij), the score gradient is dS_ij = P_ij (dP_ij - Δ_i).
#pragma once
#include <stdint.h>

#include "tensor/hd.h"
#include "tensor/nn_math.h"

namespace hipt::attention_math {

// The running state of one query row: the max m of the scores seen and l = Σ e^(s - m) over them.
template <class A> struct OnlineSoftmax {
  A m;
  A l;
};
template <class A> HIPT_HD OnlineSoftmax<A> online_softmax_empty() { return {-A(INFINITY), A(0)}; }

// A new tile whose row maximum is `tile_max` (-inf when all its scores are masked): raises st.m to
// the new maximum, rescales st.l, and returns α, the factor the running output accumulator must
// be multiplied by.
template <class A> HIPT_HD A online_softmax_rescale(OnlineSoftmax<A>& st, A tile_max) {
  const A m_new = tile_max > st.m ? tile_max : st.m;
  const A alpha = m_new == -A(INFINITY) ? A(1) : nn_math::hd_exp(st.m - m_new);  // e^-inf = 0 when st was empty
  st.m = m_new;
  st.l *= alpha;
  return alpha;
}
// The weight of score s in the current state (after online_softmax_rescale): e^(s - m), 0 for a
// masked score.
template <class A> HIPT_HD A online_softmax_weight(const OnlineSoftmax<A>& st, A s) {
  return s == -A(INFINITY) ? A(0) : nn_math::hd_exp(s - st.m);
}
// Adds the sum of a tile's weights to l.
template <class A> HIPT_HD void online_softmax_add(OnlineSoftmax<A>& st, A weight_sum) { st.l += weight_sum; }

// The three steps above for a tile row of n scores held by one thread: s[j] becomes the weight
// e^(s_j - m_new); returns α.
template <class A> HIPT_HD A online_softmax_tile(OnlineSoftmax<A>& st, A* s, int64_t n) {
  A tile_max = -A(INFINITY);
  for (int64_t j = 0; j < n; ++j) tile_max = s[j] > tile_max ? s[j] : tile_max;
  const A alpha = online_softmax_rescale(st, tile_max);
  A sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = online_softmax_weight(st, s[j]);
    sum += s[j];
  }
  online_softmax_add(st, sum);
  return alpha;
}

// After the last tile: lse = m + log l (-inf for a row with no visible key), and the factor 1/l
// that normalises the accumulator (0 for such a row, whose output is then 0).
template <class A> HIPT_HD A online_softmax_lse(const OnlineSoftmax<A>& st) {
  return st.l > A(0) ? st.m + nn_math::hd_log(st.l) : -A(INFINITY);
}
template <class A> HIPT_HD A online_softmax_inv_l(const OnlineSoftmax<A>& st) {
  return st.l > A(0) ? A(1) / st.l : A(0);
}

// The causal mask, top-left aligned: key j is visible to query i iff j <= i.
HIPT_HD bool causal_visible(int64_t i, int64_t j) { return j <= i; }

// Backward: the probability P = e^(s - lse) of a visible score (0 when lse is -inf, a row that saw
// nothing), and the score gradient dS = P (dP - Δ).
template <class A> HIPT_HD A attention_prob(A s, A lse) {
  return lse == -A(INFINITY) ? A(0) : nn_math::hd_exp(s - lse);
}
template <class A> HIPT_HD A attention_score_grad(A p, A dp, A delta) { return p * (dp - delta); }

}  // namespace hipt::attention_math
