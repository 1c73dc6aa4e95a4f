// Device and Storage: where bytes live. Many tensors (views) share one Storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace hipt {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu", "cuda:0"
};


// A backend's allocator. CPU memory comes from aligned_alloc; the CUDA layer registers its own
// caching allocator with set_allocator, so this layer needs no CUDA headers.
struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* ptr, int device_index) = 0;
};
void set_allocator(DeviceType type, Allocator* allocator);
Allocator* allocator(DeviceType type);  // null until a backend registers one (the CPU needs none)

class Storage {
 public:
  // Fresh memory on `device`, 64-byte aligned on the CPU (one cache line, one AVX-512 vector).
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  // Memory owned elsewhere (a mapped file, a caller's buffer); `deleter` runs when the last
  // tensor using it dies. An empty deleter borrows the memory.
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Exchanges the memory, size, device and owner of two storages. Module::to moves parameters this
  // way: every tensor viewing the storage (the module's member, the optimizer's handle) follows.
  void swap_contents(Storage& other);

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_;
  size_t nbytes_;
  Device device_;
  std::function<void(void*)> deleter_;
};

}  // namespace hipt
