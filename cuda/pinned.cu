// Host <-> device copies. Small ones go straight from or to pageable memory; larger ones pass
// through a per-device pinned staging buffer in two halves, so that the host's memcpy of one chunk
// overlaps the DMA of the other.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/pinned.h"

namespace hipt::cuda {

PinnedBuffer::PinnedBuffer(size_t nbytes) : size_(nbytes) {
  if (nbytes) HIPT_CUDA_CHECK(cudaHostAlloc(&data_, nbytes, cudaHostAllocDefault));
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ && cudaFreeHost(data_) != cudaSuccess) {
    // A destructor cannot throw: say so and carry on (the memory is lost to this process).
    std::fprintf(stderr, "hipt: cudaFreeHost failed: %s\n", cudaGetErrorString(cudaGetLastError()));
  }
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  std::swap(data_, o.data_);
  std::swap(size_, o.size_);
  return *this;
}

namespace {

constexpr size_t kDirectMax = size_t{256} << 10;  // up to this, copy from or to pageable memory directly
constexpr size_t kChunk = size_t{4} << 20;        // each half of the staging buffer

// One per device, made on first use and kept for the process (freeing pinned memory during static
// destruction would race the CUDA runtime's own teardown).
struct Staging {
  std::mutex mu;
  PinnedBuffer buffer{2 * kChunk};
  cudaEvent_t done[2] = {nullptr, nullptr};  // the last copy out of / into each half has finished
  Staging() {
    for (auto& e : done) HIPT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  char* half(int k) const { return static_cast<char*>(buffer.data()) + k * kChunk; }
};

Staging& staging(Device device) {
  static std::mutex mu;
  static std::vector<Staging*> all;
  std::lock_guard<std::mutex> lock(mu);
  if (all.size() <= static_cast<size_t>(device.index)) all.resize(device.index + 1, nullptr);
  if (!all[device.index]) {
    HIPT_CUDA_CHECK(cudaSetDevice(device.index));
    all[device.index] = new Staging();
  }
  return *all[device.index];
}

}  // namespace

void copy_host_to_device(void* dst, const void* src, size_t nbytes, Device device) {
  if (nbytes == 0) return;
  cudaStream_t stream = stream_for(device);
  if (nbytes <= kDirectMax) {
    // From pageable memory the call returns once the driver has taken the bytes.
    HIPT_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream));
    return;
  }
  Staging& s = staging(device);
  std::lock_guard<std::mutex> lock(s.mu);
  int k = 0;
  for (size_t off = 0; off < nbytes; off += kChunk, k ^= 1) {
    const size_t len = std::min(kChunk, nbytes - off);
    HIPT_CUDA_CHECK(cudaEventSynchronize(s.done[k]));  // the previous DMA out of this half is over
    std::memcpy(s.half(k), static_cast<const char*>(src) + off, len);
    HIPT_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + off, s.half(k), len, cudaMemcpyHostToDevice, stream));
    HIPT_CUDA_CHECK(cudaEventRecord(s.done[k], stream));
  }
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, Device device) {
  if (nbytes == 0) return;
  cudaStream_t stream = stream_for(device);
  if (nbytes <= kDirectMax) {
    HIPT_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream));
    HIPT_CUDA_CHECK(cudaStreamSynchronize(stream));
    return;
  }
  Staging& s = staging(device);
  std::lock_guard<std::mutex> lock(s.mu);
  const size_t chunks = (nbytes + kChunk - 1) / kChunk;
  auto issue = [&](size_t c) {
    const size_t off = c * kChunk, len = std::min(kChunk, nbytes - off);
    const int k = static_cast<int>(c & 1);
    HIPT_CUDA_CHECK(cudaMemcpyAsync(s.half(k), static_cast<const char*>(src) + off, len, cudaMemcpyDeviceToHost, stream));
    HIPT_CUDA_CHECK(cudaEventRecord(s.done[k], stream));
  };
  // Half k is refilled only after the host has copied its previous chunk out (one iteration back).
  issue(0);
  for (size_t c = 0; c < chunks; ++c) {
    if (c + 1 < chunks) issue(c + 1);
    const int k = static_cast<int>(c & 1);
    const size_t off = c * kChunk, len = std::min(kChunk, nbytes - off);
    HIPT_CUDA_CHECK(cudaEventSynchronize(s.done[k]));
    std::memcpy(static_cast<char*>(dst) + off, s.half(k), len);
  }
}

}  // namespace hipt::cuda
