// The caching logic of the device allocator, in plain C++: the CUDA build backs it with
// cudaMalloc/cudaFree (cuda/allocator.cu), the tests with malloc/free.
//
// A freed block goes to a free list of its device and size class and serves the next request of
// that class without a device call. Each device runs everything on one stream, so a block freed on
// the host can be handed out again at once: any kernel that still reads it was queued before any
// kernel that will write it.
//
// Size classes (round_size): requests up to 1 MiB round up to a multiple of 512 B; larger ones to a
// multiple of max(2 MiB, p/8), p being the largest power of two not above the request, so no block
// wastes more than 1/8 of its size past 16 MiB. A request is served only by a cached block of
// exactly its class.
//
// When the backing allocation reports out of memory, the cached blocks of that device (if any) are
// released and the allocation tried once more; a failure then throws hipt::Error
// "out of memory on cuda:N: asked for X bytes, Y in use, Z cached".
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/runtime.h"

namespace hipt::cuda {

class CachingAllocator {
 public:
  // Returns the new block, or nullptr when the device is out of memory; throws on other failures.
  using BackingAlloc = std::function<void*(size_t nbytes, int device)>;
  using BackingFree = std::function<void(void* ptr, int device)>;

  // caching == false: every allocate is a backing allocation of the exact size asked for and every
  // deallocate a backing free (what memory checkers need to see out-of-bounds accesses).
  CachingAllocator(BackingAlloc alloc, BackingFree free, bool caching = true);
  ~CachingAllocator();  // releases the cached blocks; live ones belong to their owners
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t nbytes, int device);  // nullptr for 0 bytes
  void deallocate(void* ptr, int device);     // ptr from allocate on the same device; nullptr is ignored
  void release_cached();                      // every device's cached blocks back to the backing
  void release_cached(int device);

  AllocatorStats stats() const;  // summed over the devices
  AllocatorStats stats(int device) const;
  void reset_peak();
  bool caching() const { return caching_; }

  static size_t round_size(size_t nbytes);
  // HIPT_NO_CACHING_ALLOCATOR set to anything but "" or "0".
  static bool disabled_by_environment();

 private:
  struct DeviceState {
    std::map<size_t, std::vector<void*>> free_blocks;  // size class -> cached blocks
    std::unordered_map<void*, size_t> live;            // block -> its size class
    AllocatorStats stats;
  };
  DeviceState& state(int device);
  void release_locked(DeviceState& s, int device);
  void* backing_alloc_locked(DeviceState& s, size_t size, size_t requested, int device);

  BackingAlloc alloc_;
  BackingFree free_;
  bool caching_;
  mutable std::mutex mu_;
  std::map<int, DeviceState> devices_;
  uint64_t total_in_use_ = 0, total_peak_ = 0;
};

}  // namespace hipt::cuda
