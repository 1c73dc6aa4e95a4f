#include "tensor/storage.h"

#include <cstdlib>

#include "tensor/error.h"

namespace hipt {

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : fmt::format("cuda:{}", index);
}

namespace {
Allocator* g_allocators[2] = {nullptr, nullptr};
}

void set_allocator(DeviceType type, Allocator* allocator) { g_allocators[static_cast<int>(type)] = allocator; }
Allocator* allocator(DeviceType type) { return g_allocators[static_cast<int>(type)]; }

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  if (device.type == DeviceType::CPU) {
    // posix_memalign takes the exact size (aligned_alloc would need it rounded up), so the
    // sanitizer build catches a read one element past the end.
    void* p = nullptr;
    if (nbytes && ::posix_memalign(&p, 64, nbytes) != 0) p = nullptr;
    HIPT_CHECK(p || nbytes == 0, "out of memory: could not allocate {} bytes on the cpu", nbytes);
    return std::make_shared<Storage>(p, nbytes, device, [](void* q) { std::free(q); });
  }
  Allocator* a = g_allocators[static_cast<int>(device.type)];
  HIPT_CHECK(a != nullptr, "no memory allocator registered for {}", device.str());
  void* p = a->allocate(nbytes, device.index);
  return std::make_shared<Storage>(p, nbytes, device, [a, device](void* q) { a->deallocate(q, device.index); });
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}

void Storage::swap_contents(Storage& other) {
  std::swap(data_, other.data_);
  std::swap(nbytes_, other.nbytes_);
  std::swap(device_, other.device_);
  std::swap(deleter_, other.deleter_);
}

Storage::~Storage() {
  if (deleter_) deleter_(data_);
}

}  // namespace hipt
