// The fused nn kernels on the GPU: softmax / log_softmax, cross-entropy, layer_norm and gelu,
// forward and backward, with the contracts of tensor/cpu/nn_kernels.h. The per-element formulas
// and the row-statistics merges are tensor/nn_math.h, shared with the CPU kernels.
//
// Row ops give each row a group of G threads: one warp (G = 32, eight rows per block) for rows of
// up to kWarpRowMax elements, the whole block (G = kThreads) above. Statistics are in acc_t<T>
// (f32 for bf16). Every reduction merges in an order fixed by the launch geometry alone, and the
// sums across rows (the cross-entropy mean, the layer_norm weight and bias gradients) go through a
// scratch buffer of partials summed in index order: the same bits on every run, no atomics.
#include <cstring>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tensor/nn_math.h"

namespace hipt::cuda {
namespace {

namespace nm = ::hipt::nn_math;

constexpr int kWarp = 32;
constexpr int64_t kWarpRowMax = 1024;

template <class T> T* ptr(const Tensor& t) { return static_cast<T*>(t.raw_data()); }
template <class T> T* ptr_or_null(const Tensor& t) { return t.defined() ? ptr<T>(t) : nullptr; }

// ---------------------------------------------------------------- group reductions

// A trivially copyable value moved across lanes one 32-bit word at a time.
template <class S> __device__ inline S shfl_down(S s, int delta) {
  static_assert(sizeof(S) % 4 == 0, "shuffled values are whole words");
  int w[sizeof(S) / 4];
  memcpy(w, &s, sizeof(S));
  for (int i = 0; i < static_cast<int>(sizeof(S) / 4); ++i) w[i] = __shfl_down_sync(0xffffffffu, w[i], delta);
  memcpy(&s, w, sizeof(S));
  return s;
}
template <class S> __device__ inline S shfl_lane0(S s) {
  int w[sizeof(S) / 4];
  memcpy(w, &s, sizeof(S));
  for (int i = 0; i < static_cast<int>(sizeof(S) / 4); ++i) w[i] = __shfl_sync(0xffffffffu, w[i], 0);
  memcpy(&s, w, sizeof(S));
  return s;
}

// The merge of the values of all G threads of a group (G = kWarp: the thread's warp; G = kThreads:
// the block), the same on every thread of the group. All threads of the group must call it.
template <int G, class S, class Merge> __device__ S group_reduce(S s, Merge merge) {
  static_assert(G == kWarp || G == kThreads, "a group is a warp or the block");
  for (int d = kWarp / 2; d > 0; d >>= 1) s = merge(s, shfl_down(s, d));
  if constexpr (G == kWarp) {
    return shfl_lane0(s);
  } else {
    __shared__ S warps[kThreads / kWarp];
    if (threadIdx.x % kWarp == 0) warps[threadIdx.x / kWarp] = s;
    __syncthreads();
    s = warps[0];
    for (int w = 1; w < kThreads / kWarp; ++w) s = merge(s, warps[w]);
    __syncthreads();  // the next reduction may overwrite `warps`
    return s;
  }
}

template <class A> struct Pair {
  A a, b;
};
struct Add {
  template <class A> __device__ A operator()(A x, A y) const { return x + y; }
  template <class A> __device__ Pair<A> operator()(Pair<A> x, Pair<A> y) const { return {x.a + y.a, x.b + y.b}; }
};
struct MergeSoftmax {
  template <class A> __device__ nm::SoftmaxStat<A> operator()(nm::SoftmaxStat<A> x, nm::SoftmaxStat<A> y) const {
    return nm::softmax_stat_merge(x, y);
  }
};
struct MergeWelford {
  template <class A> __device__ nm::Welford<A> operator()(nm::Welford<A> x, nm::Welford<A> y) const {
    return nm::welford_merge(x, y);
  }
};

// Row r of the group this thread belongs to, stepping over the grid; lane is its rank in the group.
template <int G> struct RowLoop {
  static constexpr int kRowsPerBlock = kThreads / G;
  __device__ static int64_t first() { return static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / G; }
  __device__ static int64_t step() { return static_cast<int64_t>(gridDim.x) * kRowsPerBlock; }
  __device__ static int lane() { return static_cast<int>(threadIdx.x % G); }
};

// Launches kernel<G> over `rows` rows of n elements with the group size n calls for.
#define HIPT_LAUNCH_ROWS(kernel, rows, n, stream, ...)                                                   \
  do {                                                                                                  \
    if ((n) <= kWarpRowMax)                                                                             \
      kernel<kWarp><<<grid_for((rows), kThreads / kWarp), kThreads, 0, (stream)>>>(__VA_ARGS__);        \
    else                                                                                                \
      kernel<kThreads><<<grid_for((rows), 1), kThreads, 0, (stream)>>>(__VA_ARGS__);                    \
    HIPT_CUDA_CHECK_LAUNCH();                                                                           \
  } while (0)

// The softmax statistics of row xr [n], reduced over the group.
template <int G, class T> __device__ nm::SoftmaxStat<acc_t<T>> row_softmax_stat(const T* xr, int64_t n) {
  using A = acc_t<T>;
  nm::SoftmaxStat<A> s = nm::softmax_stat_empty<A>();
  for (int64_t i = RowLoop<G>::lane(); i < n; i += G) s = nm::softmax_stat_push(s, load(xr + i));
  return group_reduce<G>(s, MergeSoftmax{});
}

// ---------------------------------------------------------------- softmax

// y may alias x: each element is read before the same thread writes it.
template <int G, class T> __global__ void softmax_kernel(T* y, const T* x, int64_t rows, int64_t n, bool log) {
  using A = acc_t<T>;
  using L = RowLoop<G>;
  for (int64_t r = L::first(); r < rows; r += L::step()) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    const nm::SoftmaxStat<A> s = row_softmax_stat<G>(xr, n);
    if (nm::is_inf(s.max)) {
      for (int64_t i = L::lane(); i < n; i += G) store(yr + i, A(NAN));
    } else if (log) {
      const A lse = s.max + nm::hd_log(s.sum);
      for (int64_t i = L::lane(); i < n; i += G) store(yr + i, load(xr + i) - lse);
    } else {
      const A inv = A(1) / s.sum;
      for (int64_t i = L::lane(); i < n; i += G) store(yr + i, nm::hd_exp(load(xr + i) - s.max) * inv);
    }
  }
}

template <int G, class T>
__global__ void softmax_backward_kernel(T* __restrict__ dx, const T* __restrict__ y, const T* __restrict__ g,
                                        int64_t rows, int64_t n, bool log) {
  using A = acc_t<T>;
  using L = RowLoop<G>;
  for (int64_t r = L::first(); r < rows; r += L::step()) {
    const T *yr = y + r * n, *gr = g + r * n;
    T* dr = dx + r * n;
    A s = 0;  // log: Σ g; plain: Σ g⊙y
    for (int64_t i = L::lane(); i < n; i += G) s += log ? load(gr + i) : load(gr + i) * load(yr + i);
    s = group_reduce<G>(s, Add{});
    for (int64_t i = L::lane(); i < n; i += G)
      store(dr + i, log ? nm::log_softmax_grad(load(yr + i), load(gr + i), s)
                        : nm::softmax_grad(load(yr + i), load(gr + i), s));
  }
}

void softmax_op(const Tensor& y, const Tensor& x, bool log) {
  if (x.numel() == 0) return;
  const int64_t n = x.shape()[x.dim() - 1], rows = x.numel() / n;
  HIPT_CUDA_DISPATCH(log ? "log_softmax" : "softmax", x.dtype(), T, {
    HIPT_LAUNCH_ROWS(softmax_kernel, rows, n, stream_for(x), ptr<T>(y), ptr<const T>(x), rows, n, log);
  });
}

void softmax_backward_op(const Tensor& dx, const Tensor& y, const Tensor& g, bool log) {
  if (y.numel() == 0) return;
  const int64_t n = y.shape()[y.dim() - 1], rows = y.numel() / n;
  HIPT_CUDA_DISPATCH(log ? "log_softmax_backward" : "softmax_backward", y.dtype(), T, {
    HIPT_LAUNCH_ROWS(softmax_backward_kernel, rows, n, stream_for(y), ptr<T>(dx), ptr<const T>(y), ptr<const T>(g),
                     rows, n, log);
  });
}

// ---------------------------------------------------------------- cross-entropy

// loss_rows[r] = logsumexp(x[r]) - x[r, target[r]] (NaN for a row whose max is ±inf).
template <int G, class T, class I>
__global__ void cross_entropy_rows_kernel(double* __restrict__ loss_rows, const T* __restrict__ x,
                                          const I* __restrict__ target, int64_t N, int64_t C) {
  using A = acc_t<T>;
  using L = RowLoop<G>;
  for (int64_t r = L::first(); r < N; r += L::step()) {
    const T* xr = x + r * C;
    const nm::SoftmaxStat<A> s = row_softmax_stat<G>(xr, C);
    if (L::lane() != 0) continue;
    const A lse = nm::is_inf(s.max) ? A(NAN) : s.max + nm::hd_log(s.sum);
    loss_rows[r] = static_cast<double>(lse - load(xr + target[r]));
  }
}

// loss = Σ loss_rows / N in double, by one block in a fixed order.
template <class T> __global__ void mean_kernel(T* __restrict__ loss, const double* __restrict__ loss_rows, int64_t N) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < N; i += kThreads) s += loss_rows[i];
  s = group_reduce<kThreads>(s, Add{});
  if (threadIdx.x == 0) *loss = static_cast<T>(s / static_cast<double>(N));
}

template <int G, class T, class I>
__global__ void cross_entropy_backward_kernel(T* __restrict__ dx, const T* __restrict__ x,
                                              const I* __restrict__ target, int64_t N, int64_t C, acc_t<T> gn) {
  using A = acc_t<T>;
  using L = RowLoop<G>;
  for (int64_t r = L::first(); r < N; r += L::step()) {
    const T* xr = x + r * C;
    T* dr = dx + r * C;
    const nm::SoftmaxStat<A> s = row_softmax_stat<G>(xr, C);
    const bool nan_row = nm::is_inf(s.max);
    const A inv = A(1) / s.sum;
    const int64_t t = static_cast<int64_t>(target[r]);
    for (int64_t i = L::lane(); i < C; i += G) {
      const A p = nan_row ? A(NAN) : nm::hd_exp(load(xr + i) - s.max) * inv;
      store(dr + i, nm::cross_entropy_grad(p, gn, i == t));
    }
  }
}

void cross_entropy_op(const Tensor& loss, const Tensor& x, const Tensor& target) {
  const int64_t N = x.shape()[0], C = x.shape()[1];
  const cudaStream_t stream = stream_for(x);
  Tensor loss_rows = ops::empty({N}, DType::F64, x.device());
  HIPT_CUDA_DISPATCH_F32_F64("cross_entropy", x.dtype(), T, {
    if (target.dtype() == DType::I64)
      HIPT_LAUNCH_ROWS(cross_entropy_rows_kernel, N, C, stream, ptr<double>(loss_rows), ptr<const T>(x),
                       ptr<const int64_t>(target), N, C);
    else
      HIPT_LAUNCH_ROWS(cross_entropy_rows_kernel, N, C, stream, ptr<double>(loss_rows), ptr<const T>(x),
                       ptr<const int32_t>(target), N, C);
    mean_kernel<T><<<1, kThreads, 0, stream>>>(ptr<T>(loss), ptr<const double>(loss_rows), N);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

void cross_entropy_backward_op(const Tensor& dx, const Tensor& x, const Tensor& target, double g) {
  const int64_t N = x.shape()[0], C = x.shape()[1];
  if (N == 0 || C == 0) return;
  const cudaStream_t stream = stream_for(x);
  HIPT_CUDA_DISPATCH_F32_F64("cross_entropy_backward", x.dtype(), T, {
    const T gn = static_cast<T>(g / static_cast<double>(N));
    if (target.dtype() == DType::I64)
      HIPT_LAUNCH_ROWS(cross_entropy_backward_kernel, N, C, stream, ptr<T>(dx), ptr<const T>(x),
                       ptr<const int64_t>(target), N, C, gn);
    else
      HIPT_LAUNCH_ROWS(cross_entropy_backward_kernel, N, C, stream, ptr<T>(dx), ptr<const T>(x),
                       ptr<const int32_t>(target), N, C, gn);
  });
}

// ---------------------------------------------------------------- layer_norm

// mean and rstd are stored as M (see with_stat_type); y uses them unrounded (the same values for
// f32 and f64).
template <int G, class T, class M>
__global__ void layer_norm_kernel(T* __restrict__ y, M* __restrict__ mean, M* __restrict__ rstd,
                                  const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                  int64_t rows, int64_t D, acc_t<T> eps) {
  using A = acc_t<T>;
  using L = RowLoop<G>;
  for (int64_t r = L::first(); r < rows; r += L::step()) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    const A shift = load(xr);  // see nn_math::Welford
    nm::Welford<A> s{0, 0, 0};
    for (int64_t i = L::lane(); i < D; i += G) s = nm::welford_push(s, load(xr + i) - shift);
    s = group_reduce<G>(s, MergeWelford{});
    const A mu = shift + s.mean, rs = nm::layer_norm_rstd(s.m2 / static_cast<A>(D), eps);
    if (L::lane() == 0) {
      store(mean + r, mu);
      store(rstd + r, rs);
    }
    for (int64_t i = L::lane(); i < D; i += G)
      store(yr + i, nm::layer_norm_y(load(xr + i), mu, rs, w ? load(w + i) : A(1), b ? load(b + i) : A(0)));
  }
}

template <int G, class T, class M>
__global__ void layer_norm_dx_kernel(T* __restrict__ dx, const T* __restrict__ g, const T* __restrict__ x,
                                     const T* __restrict__ w, const M* __restrict__ mean,
                                     const M* __restrict__ rstd, int64_t rows, int64_t D) {
  using A = acc_t<T>;
  using L = RowLoop<G>;
  for (int64_t r = L::first(); r < rows; r += L::step()) {
    const T *xr = x + r * D, *gr = g + r * D;
    T* dr = dx + r * D;
    const A mu = load(mean + r), rs = load(rstd + r);
    Pair<A> s{0, 0};  // Σ gw, Σ gw ⊙ xh
    for (int64_t i = L::lane(); i < D; i += G) {
      const A gw = w ? load(gr + i) * load(w + i) : load(gr + i);
      s.a += gw;
      s.b += gw * ((load(xr + i) - mu) * rs);
    }
    s = group_reduce<G>(s, Add{});
    const A mean_gw = s.a / static_cast<A>(D), mean_gw_xh = s.b / static_cast<A>(D);
    for (int64_t i = L::lane(); i < D; i += G) {
      const A gw = w ? load(gr + i) * load(w + i) : load(gr + i);
      store(dr + i, nm::layer_norm_dx(rs, gw, mean_gw, (load(xr + i) - mu) * rs, mean_gw_xh));
    }
  }
}

// Column sums of g ⊙ xh (into pw) and of g (into pb) over the rows of chunk blockIdx.y: pw, pb
// [chunks, D], either may be null.
template <class T, class M>
__global__ void layer_norm_partials_kernel(acc_t<T>* __restrict__ pw, acc_t<T>* __restrict__ pb,
                                           const T* __restrict__ g, const T* __restrict__ x,
                                           const M* __restrict__ mean, const M* __restrict__ rstd, int64_t rows,
                                           int64_t D, int64_t chunk_rows) {
  using A = acc_t<T>;
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= D) return;
  const int64_t c = blockIdx.y, r0 = c * chunk_rows, r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
  A sw = 0, sb = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const A gv = load(g + r * D + col);
    if (pw) sw += gv * ((load(x + r * D + col) - load(mean + r)) * load(rstd + r));
    sb += gv;
  }
  if (pw) pw[c * D + col] = sw;
  if (pb) pb[c * D + col] = sb;
}

// out [D] = Σ over chunks of part [chunks, D], in chunk order, in double.
template <class T>
__global__ void column_sum_kernel(T* __restrict__ out, const acc_t<T>* __restrict__ part, int64_t chunks, int64_t D) {
  HIPT_GRID_STRIDE(col, D) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += static_cast<double>(part[c * D + col]);
    store(out + col, static_cast<acc_t<T>>(s));
  }
}

// Calls f(M{}) with M the storage type of layer_norm's mean and rstd: x's type, or f32 for bf16 x
// when the op keeps its statistics in f32.
template <class T, class F> void with_stat_type(const Tensor& mean, F&& f) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    if (mean.dtype() == DType::F32) return f(float{});
  }
  f(T{});
}

void layer_norm_op(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                   const Tensor& bias, double eps) {
  const int64_t D = x.shape()[x.dim() - 1], rows = D ? x.numel() / D : 0;
  if (rows == 0) return;
  HIPT_CUDA_DISPATCH("layer_norm", x.dtype(), T, with_stat_type<T>(mean, [&](auto m) {
    using M = decltype(m);
    HIPT_LAUNCH_ROWS(layer_norm_kernel, rows, D, stream_for(x), ptr<T>(y), ptr<M>(mean), ptr<M>(rstd),
                     ptr<const T>(x), ptr_or_null<const T>(weight), ptr_or_null<const T>(bias), rows, D,
                     static_cast<acc_t<T>>(eps));
  }));
}

void layer_norm_backward_op(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& g,
                            const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  const int64_t D = x.shape()[x.dim() - 1], rows = D ? x.numel() / D : 0;
  if (rows == 0) return;
  const cudaStream_t stream = stream_for(x);
  HIPT_CUDA_DISPATCH("layer_norm_backward", x.dtype(), T, with_stat_type<T>(mean, [&](auto m) {
    using A = acc_t<T>;
    using M = decltype(m);
    if (dx.defined())
      HIPT_LAUNCH_ROWS(layer_norm_dx_kernel, rows, D, stream, ptr<T>(dx), ptr<const T>(g), ptr<const T>(x),
                       ptr_or_null<const T>(weight), ptr<const M>(mean), ptr<const M>(rstd), rows, D);
    if (dweight.defined() || dbias.defined()) {
      // At most 512 chunks of at least 16 rows: the summation order depends on the shape only.
      const int64_t chunk_rows = std::max<int64_t>(16, (rows + 511) / 512);
      const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
      const DType acc_dtype = std::is_same_v<A, double> ? DType::F64 : DType::F32;
      Tensor pw = dweight.defined() ? ops::empty({chunks, D}, acc_dtype, x.device()) : Tensor();
      Tensor pb = dbias.defined() ? ops::empty({chunks, D}, acc_dtype, x.device()) : Tensor();
      const dim3 grid(static_cast<unsigned>((D + kThreads - 1) / kThreads), static_cast<unsigned>(chunks));
      layer_norm_partials_kernel<T><<<grid, kThreads, 0, stream>>>(
          ptr_or_null<A>(pw), ptr_or_null<A>(pb), ptr<const T>(g), ptr<const T>(x), ptr<const M>(mean),
          ptr<const M>(rstd), rows, D, chunk_rows);
      HIPT_CUDA_CHECK_LAUNCH();
      for (const auto& [out, part] : {std::pair<const Tensor*, const Tensor*>{&dweight, &pw}, {&dbias, &pb}}) {
        if (!out->defined()) continue;
        column_sum_kernel<T><<<grid_for(D), kThreads, 0, stream>>>(ptr<T>(*out), ptr<const A>(*part), chunks, D);
        HIPT_CUDA_CHECK_LAUNCH();
      }
    }
  }));
}

// ---------------------------------------------------------------- gelu

template <class T> __global__ void gelu_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t n) {
  HIPT_GRID_STRIDE(i, n) store(y + i, nm::gelu(load(x + i)));
}

template <class T>
__global__ void gelu_backward_kernel(T* __restrict__ dx, const T* __restrict__ x, const T* __restrict__ g, int64_t n) {
  HIPT_GRID_STRIDE(i, n) store(dx + i, load(g + i) * nm::gelu_grad(load(x + i)));
}

void gelu_op(const Tensor& y, const Tensor& x) {
  const int64_t n = x.numel();
  if (n == 0) return;
  HIPT_CUDA_DISPATCH("gelu", x.dtype(), T, {
    gelu_kernel<T><<<grid_for(n), kThreads, 0, stream_for(x)>>>(ptr<T>(y), ptr<const T>(x), n);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

void gelu_backward_op(const Tensor& dx, const Tensor& x, const Tensor& g) {
  const int64_t n = x.numel();
  if (n == 0) return;
  HIPT_CUDA_DISPATCH("gelu_backward", x.dtype(), T, {
    gelu_backward_kernel<T><<<grid_for(n), kThreads, 0, stream_for(x)>>>(ptr<T>(dx), ptr<const T>(x),
                                                                          ptr<const T>(g), n);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_nn_kernels(Backend& table) {
  table.softmax = softmax_op;
  table.softmax_backward = softmax_backward_op;
  table.cross_entropy = cross_entropy_op;
  table.cross_entropy_backward = cross_entropy_backward_op;
  table.layer_norm = layer_norm_op;
  table.layer_norm_backward = layer_norm_backward_op;
  table.gelu = gelu_op;
  table.gelu_backward = gelu_backward_op;
}

}  // namespace hipt::cuda
