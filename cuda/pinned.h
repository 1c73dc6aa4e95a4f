// Page-locked ("pinned") host memory and the host <-> device byte copies that stage through it.
// The GPU's copy engine reads and writes pinned memory directly, so such a copy runs at full bus
// speed and asynchronously; pageable memory would make the driver stage it chunk by chunk anyway.
#pragma once
#include <cstddef>

#include "tensor/storage.h"

namespace hipt::cuda {

// Owns nbytes of pinned host memory (cudaHostAlloc / cudaFreeHost). Move-only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t nbytes);  // throws hipt::Error when the host cannot pin that much
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// nbytes from host `src` (any host memory) to `dst` on `device`, queued on the device's stream.
// Returns once `src` may be reused; the device sees the bytes in stream order.
void copy_host_to_device(void* dst, const void* src, size_t nbytes, Device device);
// nbytes from `src` on `device` to host `dst`, after the work queued before it on the device's
// stream. Returns when `dst` holds the bytes.
void copy_device_to_host(void* dst, const void* src, size_t nbytes, Device device);

}  // namespace hipt::cuda
