// SHA-256 (FIPS 180-4), for OpenSlide's quickhash-1 and the tests' pixel digests.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace hipt::io {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::array<uint8_t, 32> digest();  // finishes; the object must not be updated afterwards
  std::string hex_digest();          // 64 lowercase hex digits

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const void* data, size_t n);

}  // namespace hipt::io
