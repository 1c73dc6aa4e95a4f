// A least-recently-used cache of decoded RGBA tiles with a byte budget, shared by the threads
// reading one slide. Internal to io/.
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace hipt::io {

using TileBytes = std::shared_ptr<const std::vector<uint8_t>>;

class TileCache {
 public:
  explicit TileCache(size_t budget_bytes) : budget_(budget_bytes) {}

  // nullptr when absent; a hit becomes the most recently used.
  TileBytes get(int level, int64_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(key(level, index));
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }

  // A tile larger than the whole budget is not kept. Readers holding an evicted tile keep it alive.
  void put(int level, int64_t index, TileBytes tile) {
    size_t bytes = tile->size();
    if (bytes > budget_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t k = key(level, index);
    if (map_.count(k)) return;  // another thread decoded it first
    lru_.emplace_front(k, std::move(tile));
    map_[k] = lru_.begin();
    used_ += bytes;
    while (used_ > budget_) {
      used_ -= lru_.back().second->size();
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

  size_t used_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return used_;
  }

 private:
  static uint64_t key(int level, int64_t index) { return uint64_t(uint32_t(level)) << 40 | uint64_t(index); }
  size_t budget_;
  size_t used_ = 0;
  mutable std::mutex mutex_;
  std::list<std::pair<uint64_t, TileBytes>> lru_;
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, TileBytes>>::iterator> map_;
};

}  // namespace hipt::io
