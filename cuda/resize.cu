// Bicubic resize on the GPU, forward and adjoint, with the contract of tensor/cpu/resize.cpp and
// its arithmetic (tensor/kernel_math.h): the same taps, weights and summation order, so the two
// backends agree bit for bit.
//
// Forward: one thread per output pixel sums its 4 source rows horizontally, then the 4 row sums
// vertically (the CPU's two passes, fused). Adjoint: two gathers, each input position reading the
// output positions whose taps reach it in (output position, tap) order — no atomics, so the result
// is deterministic — first along x into tmp [P, OH, W], then along y into dx.
#include <vector>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tensor/kernel_math.h"

namespace hipt::cuda {
namespace {

template <class T>
__global__ void resize_forward(T* __restrict__ y, const T* __restrict__ x, int64_t P, int64_t H, int64_t W,
                               int64_t OH, int64_t OW, double scale_h, double scale_w) {
  HIPT_GRID_STRIDE(i, P * OH * OW) {
    const int64_t ox = i % OW, r = i / OW, oy = r % OH, p = r / OH;
    int64_t ix[4], iy[4];
    T wx[4], wy[4];
    kmath::cubic_taps<T>(ox, W, scale_w, ix, wx);
    kmath::cubic_taps<T>(oy, H, scale_h, iy, wy);
    const T* plane = x + p * H * W;
    T rows[4];
    for (int k = 0; k < 4; ++k) {
      const T* xr = plane + iy[k] * W;
      rows[k] = kmath::tap_sum(xr[ix[0]], xr[ix[1]], xr[ix[2]], xr[ix[3]], wx);
    }
    y[i] = kmath::tap_sum(rows[0], rows[1], rows[2], rows[3], wy);
  }
}

// out [planes, rows, in] from src [planes, rows, out_len] along the last axis, or along the middle
// axis when `middle`: out[q, a, b] = Σ_e w[e] · src at output position out_pos[e], e over start[a or b].
template <class T>
__global__ void gather_adjoint(T* __restrict__ out, const T* __restrict__ src, const int64_t* __restrict__ start,
                               const int64_t* __restrict__ out_pos, const T* __restrict__ w, int64_t planes,
                               int64_t rows, int64_t cols, int64_t src_rows, int64_t src_cols, bool middle) {
  HIPT_GRID_STRIDE(i, planes * rows * cols) {
    const int64_t c = i % cols, r = (i / cols) % rows, q = i / (cols * rows);
    T acc = T(0);
    if (middle) {  // out [P, H, W] from src [P, OH, W]
      const T* s = src + q * src_rows * src_cols + c;
      for (int64_t e = start[r]; e < start[r + 1]; ++e)
        acc = kmath::add(acc, kmath::mul(w[e], s[out_pos[e] * src_cols]));
    } else {  // out [P, OH, W] from src [P, OH, OW]
      const T* s = src + (q * src_rows + r) * src_cols;
      for (int64_t e = start[c]; e < start[c + 1]; ++e) acc = kmath::add(acc, kmath::mul(w[e], s[out_pos[e]]));
    }
    out[i] = acc;
  }
}

// The taps of one axis by input position, copied to `device`: start, out_pos (i64) and weights (T).
struct DeviceTaps {
  Tensor index, weight;
  const int64_t* start() const { return static_cast<const int64_t*>(index.raw_data()); }
  const int64_t* out_pos(int64_t in) const { return start() + in + 1; }
  template <class T> const T* w() const { return static_cast<const T*>(weight.raw_data()); }
};
template <class T> DeviceTaps upload_taps(int64_t in, int64_t out, double scale, Device device, DType dtype) {
  const kmath::TapsByInput<T> taps = kmath::taps_by_input<T>(in, out, scale);
  std::vector<int64_t> index(taps.start);
  index.insert(index.end(), taps.out_pos.begin(), taps.out_pos.end());
  DeviceTaps d{ops::empty({static_cast<int64_t>(index.size())}, DType::I64, device),
               ops::empty({static_cast<int64_t>(taps.w.size())}, dtype, device)};
  cudaStream_t stream = stream_for(device);
  // From pageable memory: the call returns once the host vectors may be freed.
  HIPT_CUDA_CHECK(cudaMemcpyAsync(d.index.raw_data(), index.data(), index.size() * sizeof(int64_t),
                                  cudaMemcpyHostToDevice, stream));
  if (!taps.w.empty())
    HIPT_CUDA_CHECK(cudaMemcpyAsync(d.weight.raw_data(), taps.w.data(), taps.w.size() * sizeof(T),
                                    cudaMemcpyHostToDevice, stream));
  return d;
}

void bicubic_resize(const Tensor& y, const Tensor& x, double scale_h, double scale_w) {
  const int64_t H = x.size(-2), W = x.size(-1), OH = y.size(-2), OW = y.size(-1);
  const int64_t P = H * W > 0 ? x.numel() / (H * W) : 0, n = P * OH * OW;
  if (n == 0) return;
  cudaStream_t stream = stream_for(y);
  HIPT_CUDA_DISPATCH_F32_F64("bicubic_resize", x.dtype(), T, {
    resize_forward<T><<<grid_for(n), kThreads, 0, stream>>>(static_cast<T*>(y.raw_data()),
                                                            static_cast<const T*>(x.raw_data()), P, H, W, OH, OW,
                                                            scale_h, scale_w);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

void bicubic_resize_backward(const Tensor& dx, const Tensor& g, double scale_h, double scale_w) {
  const int64_t H = dx.size(-2), W = dx.size(-1), OH = g.size(-2), OW = g.size(-1);
  const int64_t P = H * W > 0 ? dx.numel() / (H * W) : 0;
  if (P * H * W == 0) return;
  const Device device = dx.device();
  cudaStream_t stream = stream_for(device);
  HIPT_CUDA_DISPATCH_F32_F64("bicubic_resize_backward", g.dtype(), T, {
    const DeviceTaps tx = upload_taps<T>(W, OW, scale_w, device, g.dtype());
    const DeviceTaps ty = upload_taps<T>(H, OH, scale_h, device, g.dtype());
    // tmp [P, OH, W]: the adjoint of the horizontal pass; then dx [P, H, W] from tmp.
    Tensor tmp = ops::empty({P, OH, W}, g.dtype(), device);
    const int64_t n_tmp = P * OH * W, n = P * H * W;
    if (n_tmp > 0) {
      gather_adjoint<T><<<grid_for(n_tmp), kThreads, 0, stream>>>(
          static_cast<T*>(tmp.raw_data()), static_cast<const T*>(g.raw_data()), tx.start(), tx.out_pos(W),
          tx.template w<T>(), P, OH, W, OH, OW, false);
      HIPT_CUDA_CHECK_LAUNCH();
    }
    gather_adjoint<T><<<grid_for(n), kThreads, 0, stream>>>(
        static_cast<T*>(dx.raw_data()), static_cast<const T*>(tmp.raw_data()), ty.start(), ty.out_pos(H),
        ty.template w<T>(), P, H, W, OH, W, true);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_image_kernels(Backend& table) {
  table.bicubic_resize = bicubic_resize;
  table.bicubic_resize_backward = bicubic_resize_backward;
}

}  // namespace hipt::cuda
