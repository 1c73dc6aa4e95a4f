// What the rest of the project asks the CUDA layer, answered the same way with or without CUDA.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "tensor/storage.h"

namespace hipt::cuda {

bool compiled();          // was this build made with the CUDA backend?
int device_count();       // devices the runtime sees; 0 when cuda:0 cannot run this binary's kernels
// "" when a GPU is usable, otherwise the reason in one line: no driver, no device, or a card whose
// architecture has no kernels in this binary (naming the card, its compute capability and the
// architectures the binary was built for).
std::string why_no_gpu();
std::string why_unusable(int index);  // the same for cuda:index (also: no such device)
std::string device_name(int index);
std::string compute_capability(int index);  // "9.0"; "" for no such device or without CUDA
std::string runtime_version();  // "13.0", or "" without CUDA

// Waits until all work queued on `device` (its one stream) has finished. A no-op for the CPU.
void synchronize(Device device);

// Milliseconds `work` took on `device`. On a GPU: CUDA events recorded on the device's stream
// before and after the work `work` queues, then waited for (so the figure is the GPU's time, not
// the host's time to launch). On the CPU: the wall-clock time of the call. A build without CUDA
// refuses a CUDA device in one line.
double elapsed_ms(Device device, const std::function<void()>& work);

// The device memory allocator (cuda/caching_allocator.h), summed over all devices. A freed block
// stays cached for the next allocation of its size class; HIPT_NO_CACHING_ALLOCATOR=1 in the
// environment turns the cache off (every allocation is a cudaMalloc, every free a cudaFree).
struct AllocatorStats {
  uint64_t requests = 0;        // allocations asked for (of at least one byte)
  uint64_t cache_hits = 0;      // of those, served from the cache
  uint64_t device_mallocs = 0;  // cudaMalloc calls that succeeded
  uint64_t device_frees = 0;    // cudaFree calls
  uint64_t bytes_in_use = 0;    // held by live tensors (size-class bytes)
  uint64_t bytes_cached = 0;    // freed, kept for reuse
  uint64_t peak_bytes_in_use = 0;  // since the start or the last reset_allocator_peak()
};
AllocatorStats allocator_stats();  // all zeros in a build without CUDA
void reset_allocator_peak();       // peak_bytes_in_use := bytes_in_use
void release_cached_memory();      // returns every cached block to the driver

// Fills the CUDA kernel table of tensor/backend.h (empty in a build without CUDA, which then says
// so in every op's error). Call it once, early, from main(): the CLI, the tests and any program
// embedding the engine. An explicit call rather than a static initialiser, which a linker may drop
// from a static library.
void register_backend();

}  // namespace hipt::cuda
