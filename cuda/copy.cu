// copy (strided, broadcast, converting between all dtypes, and across devices) and fill, with the
// contracts of tensor/cpu/copy.cpp: f16/bf16 round to nearest even from float, bool is 0/1 and
// any non-zero value converts to true.
#include <cuda_fp16.h>

#include <cmath>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/pinned.h"

namespace hipt::cuda {

namespace {

// Every dtype with its storage type on the device.
#define HIPT_COPY_DISPATCH(dtype, T, ...)                                 \
  switch (dtype) {                                                        \
    HIPT_CUDA_DISPATCH_CASE(F32, float, T, __VA_ARGS__)                   \
    HIPT_CUDA_DISPATCH_CASE(F64, double, T, __VA_ARGS__)                  \
    HIPT_CUDA_DISPATCH_CASE(F16, __half, T, __VA_ARGS__)                  \
    HIPT_CUDA_DISPATCH_CASE(BF16, __nv_bfloat16, T, __VA_ARGS__)          \
    HIPT_CUDA_DISPATCH_CASE(I32, int32_t, T, __VA_ARGS__)                 \
    HIPT_CUDA_DISPATCH_CASE(I64, int64_t, T, __VA_ARGS__)                 \
    HIPT_CUDA_DISPATCH_CASE(U8, uint8_t, T, __VA_ARGS__)                  \
    HIPT_CUDA_DISPATCH_CASE(Bool, bool, T, __VA_ARGS__)                   \
  }

template <class T> constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

template <class S> __device__ inline float to_float(S s) {
  if constexpr (std::is_same_v<S, __half>) return __half2float(s);
  else if constexpr (std::is_same_v<S, __nv_bfloat16>) return __bfloat162float(s);
  else return static_cast<float>(s);
}

// As the CPU's convert (tensor/cpu/copy.cpp): 16-bit floats go through float on either side.
template <class D, class S> __device__ inline D convert(S s) {
  if constexpr (std::is_same_v<D, S>) {
    return s;
  } else if constexpr (std::is_same_v<D, bool>) {
    if constexpr (is_half_v<S>) return to_float(s) != 0.0f;
    else return s != S(0);
  } else if constexpr (std::is_same_v<D, __half>) {
    return __float2half_rn(to_float(s));
  } else if constexpr (std::is_same_v<D, __nv_bfloat16>) {
    return __float2bfloat16_rn(to_float(s));
  } else if constexpr (is_half_v<S>) {
    return static_cast<D>(to_float(s));
  } else {
    return static_cast<D>(s);
  }
}

template <class D, class S> __global__ void copy_contiguous_kernel(D* d, const S* s, int64_t n) {
  HIPT_GRID_STRIDE(i, n) { d[i] = convert<D>(s[i]); }
}

template <class D, class S> __global__ void copy_strided_kernel(D* d, const S* s, OffsetCalc<2> oc, int64_t n) {
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[2];
    oc.offsets(i, off);
    d[off[0]] = convert<D>(s[off[1]]);
  }
}

template <class D> __global__ void fill_kernel(D* d, OffsetCalc<1> oc, int64_t n, double value) {
  const D v = convert<D>(value);
  HIPT_GRID_STRIDE(i, n) {
    int64_t off[1];
    oc.offsets(i, off);
    d[off[0]] = v;
  }
}

// dst and src on one CUDA device; src broadcasts to dst's shape.
void copy_on_device(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  cudaStream_t stream = stream_for(dst);
  const bool both_contiguous = dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape();
  if (both_contiguous && src.dtype() == dst.dtype()) {
    HIPT_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), static_cast<size_t>(n) * dtype_size(dst.dtype()),
                                    cudaMemcpyDeviceToDevice, stream));
    return;
  }
  const auto oc = make_offset_calc<2>(dst.shape(), {dst.strides(), broadcast_strides(src, dst.shape())});
  HIPT_COPY_DISPATCH(dst.dtype(), D, HIPT_COPY_DISPATCH(src.dtype(), S, {
    D* d = static_cast<D*>(dst.raw_data());
    const S* s = static_cast<const S*>(src.raw_data());
    if (both_contiguous)
      copy_contiguous_kernel<D, S><<<grid_for(n), kThreads, 0, stream>>>(d, s, n);
    else
      copy_strided_kernel<D, S><<<grid_for(n), kThreads, 0, stream>>>(d, s, oc, n);
    HIPT_CUDA_CHECK_LAUNCH();
  }));
}

// Equal shapes, one side on the host. The bytes cross in the layout of a contiguous tensor of the
// source's shape and the destination's dtype; the GPU side does any conversion and re-layout, the
// host side only a re-layout into a strided destination.
void copy_across_devices(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.device().type == DeviceType::CUDA) {
    const Tensor host = ops::contiguous(src);  // the CPU kernel; src's own dtype
    const size_t bytes = static_cast<size_t>(n) * dtype_size(src.dtype());
    if (dst.is_contiguous() && dst.dtype() == src.dtype()) {
      copy_host_to_device(dst.raw_data(), host.raw_data(), bytes, dst.device());
      return;
    }
    const Tensor staged = ops::empty(src.shape(), src.dtype(), dst.device());
    copy_host_to_device(staged.raw_data(), host.raw_data(), bytes, dst.device());
    copy_on_device(dst, staged);
    return;
  }
  // device -> host
  Tensor dev = src;
  if (!src.is_contiguous() || src.dtype() != dst.dtype()) {
    dev = ops::empty(src.shape(), dst.dtype(), src.device());
    copy_on_device(dev, src);
  }
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dst.dtype());
  if (dst.is_contiguous()) {
    copy_device_to_host(dst.raw_data(), dev.raw_data(), bytes, src.device());
    return;
  }
  const Tensor host = ops::empty(dst.shape(), dst.dtype(), Device{});
  copy_device_to_host(host.raw_data(), dev.raw_data(), bytes, src.device());
  ops::copy_(dst, host);
}

void copy(const Tensor& dst, const Tensor& src) {
  if (dst.device() == src.device()) copy_on_device(dst, src);
  else copy_across_devices(dst, src);
}

void fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  cudaStream_t stream = stream_for(dst);
  if (value == 0.0 && !std::signbit(value) && dst.is_contiguous()) {
    // +0 is all-zero bytes in every dtype.
    HIPT_CUDA_CHECK(cudaMemsetAsync(dst.raw_data(), 0, static_cast<size_t>(n) * dtype_size(dst.dtype()), stream));
    return;
  }
  const auto oc = make_offset_calc<1>(dst.shape(), {dst.strides()});
  HIPT_COPY_DISPATCH(dst.dtype(), D, {
    fill_kernel<D><<<grid_for(n), kThreads, 0, stream>>>(static_cast<D*>(dst.raw_data()), oc, n, value);
    HIPT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_copy_kernels(Backend& table) {
  table.copy = copy;
  table.fill = fill;
}

}  // namespace hipt::cuda
