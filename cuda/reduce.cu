// CUDA reductions (sum, max over the middle axis of a contiguous [outer, R, inner]) and index
// kernels (index_select, index_add, gather, scatter_add), with the contracts of the CPU kernels of
// the same name (tensor/cpu/kernels.h).
//
// Every result is deterministic: no atomics. A reduction combines in a fixed tree (a block per row
// when inner == 1, else a block per 32 columns with 8 threads down each); a long axis feeding few
// outputs is cut into segments whose partials a second pass reduces. Sums accumulate in double
// for f32 as the CPU does. index_add and scatter_add give each thread one column (o, i) of the
// output, walking the index in order: the CPU's order of additions, without races.
//
// An out-of-range index cannot throw from the device without a synchronisation: index_select and
// gather write all bits set there (NaN for floats, -1 for integers), index_add and scatter_add
// skip it.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tensor/elementwise_math.h"

namespace hipt::cuda {
namespace {

template <class T> T* ptr(const Tensor& t) { return static_cast<T*>(t.raw_data()); }
template <class T> const T* cptr(const Tensor& t) { return static_cast<const T*>(t.raw_data()); }
HIPT_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
HIPT_HD int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ---------------------------------------------------------------- reductions

// A reduction policy: Acc (the partial result), empty(), load(o, r, i) of element x[o, r, i],
// combine(a, b) (associative, a from lower r than b), store(pos, acc).
template <class Tin, class Tout> struct SumPolicy {
  using Acc = double;
  const Tin* x;
  Tout* out;
  int64_t R, inner;
  __device__ Acc empty() const { return 0.0; }
  __device__ Acc load(int64_t o, int64_t r, int64_t i) const { return static_cast<double>(x[(o * R + r) * inner + i]); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ void store(int64_t pos, Acc v) const { out[pos] = static_cast<Tout>(v); }
};

template <class T> struct MaxAcc {
  T v;
  int64_t i;  // < 0: empty
};
// x_index: the indices along the axis of partials from a first pass (null: the position r itself).
template <class T> struct MaxPolicy {
  using Acc = MaxAcc<T>;
  const T* x;
  const int64_t* x_index;
  T* values;
  int64_t* index;
  int64_t R, inner;
  __device__ Acc empty() const { return {T(0), -1}; }
  __device__ Acc load(int64_t o, int64_t r, int64_t i) const {
    const int64_t p = (o * R + r) * inner + i;
    return {x[p], x_index ? x_index[p] : r};
  }
  __device__ Acc combine(Acc a, Acc b) const { return ew::max_pair_wins(a.v, a.i, b.v, b.i) ? a : b; }
  __device__ void store(int64_t pos, Acc a) const {
    values[pos] = a.v;
    index[pos] = a.i;
  }
};

constexpr int kRowThreads = 256;       // inner == 1: one block per row (segment)
constexpr int kColX = 32, kColY = 8;   // inner > 1: one block per 32 columns, 8 threads down each

// Output (o, s) for segment s = [s·Rc, min(R, (s+1)·Rc)) of row o, at position o·S + s.
template <class P> __global__ void reduce_rows(P p, int64_t outer, int64_t R, int64_t S, int64_t Rc) {
  using Acc = typename P::Acc;
  __shared__ Acc sh[kRowThreads];
  const int t = threadIdx.x;
  for (int64_t seg = blockIdx.x; seg < outer * S; seg += gridDim.x) {
    const int64_t o = seg / S, r0 = (seg % S) * Rc, r1 = min64(R, r0 + Rc);
    Acc acc = p.empty();
    for (int64_t r = r0 + t; r < r1; r += kRowThreads) acc = p.combine(acc, p.load(o, r, 0));
    sh[t] = acc;
    __syncthreads();
    for (int w = kRowThreads / 2; w > 0; w >>= 1) {
      if (t < w) sh[t] = p.combine(sh[t], sh[t + w]);
      __syncthreads();
    }
    if (t == 0) p.store(seg, sh[0]);
    __syncthreads();  // sh is reused by the next segment
  }
}

// Output (o, s, i) at position (o·S + s)·inner + i; a block covers columns tile·32 ... tile·32 + 31.
template <class P> __global__ void reduce_cols(P p, int64_t outer, int64_t R, int64_t inner, int64_t S, int64_t Rc) {
  using Acc = typename P::Acc;
  __shared__ Acc sh[kColY][kColX];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t tiles = ceil_div(inner, kColX);
  for (int64_t blk = blockIdx.x; blk < outer * S * tiles; blk += gridDim.x) {
    const int64_t seg = blk / tiles, i = (blk % tiles) * kColX + tx;
    const int64_t o = seg / S, r0 = (seg % S) * Rc, r1 = min64(R, r0 + Rc);
    Acc acc = p.empty();
    if (i < inner)
      for (int64_t r = r0 + ty; r < r1; r += kColY) acc = p.combine(acc, p.load(o, r, i));
    sh[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && i < inner) {
      for (int y = 1; y < kColY; ++y) acc = p.combine(acc, sh[y][tx]);
      p.store(seg * inner + i, acc);
    }
    __syncthreads();
  }
}

// One pass over [outer, R, inner] cut into S segments of Rc.
template <class P>
void reduce_pass(const P& p, int64_t outer, int64_t R, int64_t inner, int64_t S, int64_t Rc, cudaStream_t st) {
  if (inner == 1)
    reduce_rows<P><<<grid_for(outer * S, 1), kRowThreads, 0, st>>>(p, outer, R, S, Rc);
  else
    reduce_cols<P><<<grid_for(outer * S * ceil_div(inner, kColX), 1), dim3(kColX, kColY), 0, st>>>(p, outer, R, inner,
                                                                                                    S, Rc);
  HIPT_CUDA_CHECK_LAUNCH();
}

// How many segments to cut the axis into: 1 unless a long axis feeds too few blocks to fill a GPU.
// Depends only on the sizes, so a result never depends on the device.
struct Segments {
  int64_t S, Rc;
};
Segments segments(int64_t outer, int64_t R, int64_t inner) {
  const int64_t blocks = outer * (inner == 1 ? 1 : ceil_div(inner, kColX));
  if (R < 8192 || blocks >= 256) return {1, R};
  const int64_t want = std::min(ceil_div(R, 4096), std::max<int64_t>(1, 1024 / blocks));
  if (want <= 1) return {1, R};
  const int64_t Rc = ceil_div(R, want);
  return {ceil_div(R, Rc), Rc};
}

void sum(const Tensor& out, const Tensor& x, int64_t outer, int64_t R, int64_t inner) {
  if (outer * inner == 0) return;
  cudaStream_t st = stream_for(out);
  const Segments sg = segments(outer, R, inner);
  HIPT_CUDA_DISPATCH_F32_F64("sum", x.dtype(), T, {
    if (sg.S == 1) {
      reduce_pass(SumPolicy<T, T>{cptr<T>(x), ptr<T>(out), R, inner}, outer, R, inner, 1, R, st);
    } else {
      Tensor part = ops::empty({outer, sg.S, inner}, DType::F64, x.device());
      reduce_pass(SumPolicy<T, double>{cptr<T>(x), ptr<double>(part), R, inner}, outer, R, inner, sg.S, sg.Rc, st);
      reduce_pass(SumPolicy<double, T>{cptr<double>(part), ptr<T>(out), sg.S, inner}, outer, sg.S, inner, 1, sg.S, st);
    }
  });
}

void max(const Tensor& values, const Tensor& index, const Tensor& x, int64_t outer, int64_t R, int64_t inner) {
  if (outer * inner == 0) return;
  cudaStream_t st = stream_for(values);
  const Segments sg = segments(outer, R, inner);
  HIPT_CUDA_DISPATCH_F32_F64("max", x.dtype(), T, {
    if (sg.S == 1) {
      reduce_pass(MaxPolicy<T>{cptr<T>(x), nullptr, ptr<T>(values), ptr<int64_t>(index), R, inner}, outer, R, inner, 1,
                  R, st);
    } else {
      Tensor pv = ops::empty({outer, sg.S, inner}, x.dtype(), x.device());
      Tensor pi = ops::empty({outer, sg.S, inner}, DType::I64, x.device());
      reduce_pass(MaxPolicy<T>{cptr<T>(x), nullptr, ptr<T>(pv), ptr<int64_t>(pi), R, inner}, outer, R, inner, sg.S,
                  sg.Rc, st);
      reduce_pass(MaxPolicy<T>{cptr<T>(pv), cptr<int64_t>(pi), ptr<T>(values), ptr<int64_t>(index), sg.S, inner},
                  outer, sg.S, inner, 1, sg.S, st);
    }
  });
}

// ---------------------------------------------------------------- index kernels

// index[k] as a position in a dim of size n (negative counts from the end); -1 when out of range.
template <class I> __device__ inline int64_t wrap_index(I v, int64_t n) {
  int64_t j = static_cast<int64_t>(v);
  if (j < 0) j += n;
  return (j >= 0 && j < n) ? j : -1;
}

template <class E> __device__ inline E all_ones() {
  E e;
  memset(&e, 0xff, sizeof(E));
  return e;
}

#define HIPT_CUDA_DISPATCH_INDEX(index, I, ...) \
  if ((index).dtype() == DType::I64) {          \
    using I = int64_t;                          \
    __VA_ARGS__;                                \
  } else {                                      \
    using I = int32_t;                          \
    __VA_ARGS__;                                \
  }

// out [outer, n_idx, inner] = x [outer, n_src, inner] at idx; E moves elements of one size.
template <class E, class I>
__global__ void index_select_kernel(E* __restrict__ out, const E* __restrict__ x, const I* __restrict__ idx,
                                    int64_t total, int64_t n_idx, int64_t n_src, int64_t inner) {
  HIPT_GRID_STRIDE(e, total) {
    const int64_t i = e % inner, t = e / inner, k = t % n_idx, o = t / n_idx;
    const int64_t j = wrap_index(idx[k], n_src);
    out[e] = j < 0 ? all_ones<E>() : x[(o * n_src + j) * inner + i];
  }
}

template <class E>
void index_select_sized(const Tensor& out, const Tensor& x, const Tensor& index, int64_t n_src, int64_t inner) {
  const int64_t total = out.numel(), n_idx = index.numel();
  HIPT_CUDA_DISPATCH_INDEX(index, I, {
    index_select_kernel<E, I><<<grid_for(total), kThreads, 0, stream_for(out)>>>(ptr<E>(out), cptr<E>(x), cptr<I>(index),
                                                                                 total, n_idx, n_src, inner);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

void index_select(const Tensor& out, const Tensor& x, const Tensor& index, int64_t, int64_t n_src, int64_t inner) {
  if (out.numel() == 0) return;
  switch (dtype_size(x.dtype())) {
    case 1: return index_select_sized<uint8_t>(out, x, index, n_src, inner);
    case 2: return index_select_sized<uint16_t>(out, x, index, n_src, inner);
    case 4: return index_select_sized<uint32_t>(out, x, index, n_src, inner);
    case 8: return index_select_sized<uint64_t>(out, x, index, n_src, inner);
    default: throw Error(fmt::format("index_select: no CUDA kernel for dtype {}", dtype_name(x.dtype())));
  }
}

// out [outer, n_out, inner] (zeroed) += src [outer, n_idx, inner] at idx: thread c owns column
// (o, i) = (c / inner, c % inner) and adds in index order.
template <class T, class I>
__global__ void index_add_kernel(T* __restrict__ out, const T* __restrict__ src, const I* __restrict__ idx,
                                 int64_t columns, int64_t n_idx, int64_t n_out, int64_t inner) {
  HIPT_GRID_STRIDE(c, columns) {
    const int64_t o = c / inner, i = c % inner;
    for (int64_t k = 0; k < n_idx; ++k) {
      const int64_t j = wrap_index(idx[k], n_out);
      if (j >= 0) out[(o * n_out + j) * inner + i] += src[(o * n_idx + k) * inner + i];
    }
  }
}

void index_add(const Tensor& out, const Tensor& src, const Tensor& index, int64_t outer, int64_t n_out, int64_t inner) {
  const int64_t columns = outer * inner, n_idx = index.numel();
  if (columns == 0 || n_idx == 0) return;
  HIPT_CUDA_DISPATCH_F32_F64("index_add", out.dtype(), T, HIPT_CUDA_DISPATCH_INDEX(index, I, {
    index_add_kernel<T, I><<<grid_for(columns), kThreads, 0, stream_for(out)>>>(ptr<T>(out), cptr<T>(src),
                                                                                cptr<I>(index), columns, n_idx, n_out,
                                                                                inner);
    HIPT_CUDA_CHECK_LAUNCH();
  }));
}

// index, out: [outer, k, inner]; x: [outer, n, inner].
template <class T, class I>
__global__ void gather_kernel(T* __restrict__ out, const T* __restrict__ x, const I* __restrict__ idx, int64_t total,
                              int64_t k, int64_t n, int64_t inner) {
  HIPT_GRID_STRIDE(e, total) {
    const int64_t i = e % inner, o = e / (k * inner);
    const int64_t j = wrap_index(idx[e], n);
    out[e] = j < 0 ? all_ones<T>() : x[(o * n + j) * inner + i];
  }
}

void gather(const Tensor& out, const Tensor& x, int dim, const Tensor& index) {
  const int64_t total = index.numel();
  if (total == 0) return;
  const AxisSplit sp = split_at_axis(index.shape(), dim);
  const int64_t n = x.shape()[dim];
  HIPT_CUDA_DISPATCH_F32_F64("gather", x.dtype(), T, HIPT_CUDA_DISPATCH_INDEX(index, I, {
    gather_kernel<T, I><<<grid_for(total), kThreads, 0, stream_for(out)>>>(ptr<T>(out), cptr<T>(x), cptr<I>(index),
                                                                          total, sp.n, n, sp.inner);
    HIPT_CUDA_CHECK_LAUNCH();
  }));
}

// out [outer, n, inner] (zeroed) += src [outer, k, inner] at index [outer, k, inner]: thread c
// owns column (o, i) and adds in index order.
template <class T, class I>
__global__ void scatter_add_kernel(T* __restrict__ out, const T* __restrict__ src, const I* __restrict__ idx,
                                   int64_t columns, int64_t k, int64_t n, int64_t inner) {
  HIPT_GRID_STRIDE(c, columns) {
    const int64_t o = c / inner, i = c % inner;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = (o * k + j) * inner + i;
      const int64_t t = wrap_index(idx[e], n);
      if (t >= 0) out[(o * n + t) * inner + i] += src[e];
    }
  }
}

void scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0) return;
  const AxisSplit sp = split_at_axis(index.shape(), dim);
  const int64_t columns = sp.outer * sp.inner, n = out.shape()[dim];
  HIPT_CUDA_DISPATCH_F32_F64("scatter_add", out.dtype(), T, HIPT_CUDA_DISPATCH_INDEX(index, I, {
    scatter_add_kernel<T, I><<<grid_for(columns), kThreads, 0, stream_for(out)>>>(ptr<T>(out), cptr<T>(src),
                                                                                  cptr<I>(index), columns, sp.n, n,
                                                                                  sp.inner);
    HIPT_CUDA_CHECK_LAUNCH();
  }));
}

}  // namespace

void register_reduce_kernels(Backend& table) {
  table.sum = sum;
  table.max = max;
  table.index_select = index_select;
  table.index_add = index_add;
  table.gather = gather;
  table.scatter_add = scatter_add;
}

}  // namespace hipt::cuda
