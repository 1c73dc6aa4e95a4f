#include "cuda/caching_allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "tensor/error.h"

namespace hipt::cuda {

namespace {
constexpr size_t kSmallStep = 512;
constexpr size_t kSmallMax = size_t{1} << 20;
constexpr size_t kLargeStep = size_t{2} << 20;

size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }
}  // namespace

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes <= kSmallMax) return round_up(nbytes, kSmallStep);
  if (nbytes > (SIZE_MAX >> 2)) return nbytes;  // beyond any memory: left as is, so rounding cannot overflow
  size_t p = 1;
  while (p <= nbytes / 2) p *= 2;  // largest power of two <= nbytes
  return round_up(nbytes, std::max(kLargeStep, p / 8));
}

bool CachingAllocator::disabled_by_environment() {
  const char* v = std::getenv("HIPT_NO_CACHING_ALLOCATOR");
  return v && *v && std::strcmp(v, "0") != 0;
}

CachingAllocator::CachingAllocator(BackingAlloc alloc, BackingFree free, bool caching)
    : alloc_(std::move(alloc)), free_(std::move(free)), caching_(caching) {}

CachingAllocator::~CachingAllocator() {
  try {
    release_cached();
  } catch (...) {  // a destructor must not throw; the blocks are lost with the process anyway
  }
}

CachingAllocator::DeviceState& CachingAllocator::state(int device) { return devices_[device]; }

void* CachingAllocator::backing_alloc_locked(DeviceState& s, size_t size, size_t requested, int device) {
  void* p = alloc_(size, device);
  const uint64_t cached = s.stats.bytes_cached;
  if (!p && cached > 0) {
    // Out of memory: what the cache holds may be enough once handed back.
    release_locked(s, device);
    p = alloc_(size, device);
  }
  if (!p)
    throw Error(fmt::format("out of memory on cuda:{}: asked for {} bytes, {} in use, {} cached{}", device, requested,
                            s.stats.bytes_in_use, cached, cached > 0 ? " (released, then retried)" : ""));
  ++s.stats.device_mallocs;
  return p;
}

void* CachingAllocator::allocate(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  DeviceState& s = state(device);
  ++s.stats.requests;
  const size_t size = caching_ ? round_size(nbytes) : nbytes;
  void* p = nullptr;
  auto it = s.free_blocks.find(size);
  if (it != s.free_blocks.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    s.stats.bytes_cached -= size;
    ++s.stats.cache_hits;
  } else {
    p = backing_alloc_locked(s, size, nbytes, device);
  }
  s.live.emplace(p, size);
  s.stats.bytes_in_use += size;
  s.stats.peak_bytes_in_use = std::max(s.stats.peak_bytes_in_use, s.stats.bytes_in_use);
  total_in_use_ += size;
  total_peak_ = std::max(total_peak_, total_in_use_);
  return p;
}

void CachingAllocator::deallocate(void* ptr, int device) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  DeviceState& s = state(device);
  auto it = s.live.find(ptr);
  HIPT_CHECK(it != s.live.end(), "cuda allocator: freeing {} on cuda:{}, which it did not allocate there", ptr, device);
  const size_t size = it->second;
  s.live.erase(it);
  s.stats.bytes_in_use -= size;
  total_in_use_ -= size;
  if (caching_) {
    s.free_blocks[size].push_back(ptr);
    s.stats.bytes_cached += size;
  } else {
    ++s.stats.device_frees;  // counted first: a failing free throws, and the block is gone either way
    free_(ptr, device);
  }
}

void CachingAllocator::release_locked(DeviceState& s, int device) {
  for (auto& [size, blocks] : s.free_blocks) {
    while (!blocks.empty()) {
      void* p = blocks.back();
      blocks.pop_back();
      s.stats.bytes_cached -= size;
      ++s.stats.device_frees;
      free_(p, device);
    }
  }
  s.free_blocks.clear();
}

void CachingAllocator::release_cached(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  release_locked(state(device), device);
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [device, s] : devices_) release_locked(s, device);
}

AllocatorStats CachingAllocator::stats(int device) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = devices_.find(device);
  return it == devices_.end() ? AllocatorStats{} : it->second.stats;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  AllocatorStats t;
  for (const auto& [device, s] : devices_) {
    t.requests += s.stats.requests;
    t.cache_hits += s.stats.cache_hits;
    t.device_mallocs += s.stats.device_mallocs;
    t.device_frees += s.stats.device_frees;
    t.bytes_in_use += s.stats.bytes_in_use;
    t.bytes_cached += s.stats.bytes_cached;
  }
  t.peak_bytes_in_use = total_peak_;
  return t;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [device, s] : devices_) s.stats.peak_bytes_in_use = s.stats.bytes_in_use;
  total_peak_ = total_in_use_;
}

}  // namespace hipt::cuda
