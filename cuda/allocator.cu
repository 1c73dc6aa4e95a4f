// The storage allocator of DeviceType::CUDA: the caching allocator (cuda/caching_allocator.h) backed
// by cudaMalloc/cudaFree, or those two directly under HIPT_NO_CACHING_ALLOCATOR=1 (what
// compute-sanitizer runs use, so that it sees every block with its exact size).
#include <cstdio>

#include "cuda/caching_allocator.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/runtime.h"

namespace hipt::cuda {

namespace {

void* device_malloc(size_t nbytes, int device) {
  HIPT_CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, nbytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it, the caller releases its cache and retries
    return nullptr;
  }
  HIPT_CUDA_CHECK(e);
  return p;
}

void device_free(void* p, int device) {
  HIPT_CUDA_CHECK(cudaSetDevice(device));
  HIPT_CUDA_CHECK(cudaFree(p));
}

class CudaAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes, int device_index) override {
    const std::string why = why_unusable(device_index);
    if (!why.empty()) throw Error(fmt::format("cuda:{}: no usable GPU ({})", device_index, why));
    return cache_.allocate(nbytes, device_index);
  }
  void deallocate(void* ptr, int device_index) override {
    try {
      cache_.deallocate(ptr, device_index);
    } catch (const std::exception& e) {
      // Called from Storage's destructor, which cannot throw. A failing cudaFree means an earlier
      // kernel broke the context; the next checked call reports it too.
      std::fprintf(stderr, "hipt: freeing device memory: %s\n", e.what());
    }
  }
  CachingAllocator& cache() { return cache_; }

 private:
  CachingAllocator cache_{device_malloc, device_free, !CachingAllocator::disabled_by_environment()};
};

// Made once and never destroyed: tensors may outlive static destruction order, and cudaFree after
// the runtime's own teardown would fail.
CudaAllocator& cuda_allocator() {
  static CudaAllocator* a = new CudaAllocator();
  return *a;
}

}  // namespace

void register_allocator() { set_allocator(DeviceType::CUDA, &cuda_allocator()); }

AllocatorStats allocator_stats() { return cuda_allocator().cache().stats(); }
void reset_allocator_peak() { cuda_allocator().cache().reset_peak(); }
void release_cached_memory() { cuda_allocator().cache().release_cached(); }

}  // namespace hipt::cuda
