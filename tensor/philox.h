// The Philox-4x32-10 block function and the word-to-uniform maps of the stream that
// tensor/random.cpp specifies. Plain inline arithmetic with no dependencies, so every backend's
// random kernels compute the same numbers from it.
#pragma once
#include <cstdint>

#include "tensor/hd.h"

namespace hipt::philox {

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule: golden ratio, sqrt(3)-1

// One Philox-4x32 block with R rounds (the key is bumped between rounds, not before the first).
template <int R> HIPT_HD void philox_rounds(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int r = 0; r < R; ++r) {
    if (r > 0) {
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
  }
}

// Block `block` of seed `seed`: counter {lo32(block), hi32(block), 0, 0}, key {lo32(seed), hi32(seed)}.
HIPT_HD void block_words(uint64_t seed, uint64_t block, uint32_t w[4]) {
  w[0] = static_cast<uint32_t>(block);
  w[1] = static_cast<uint32_t>(block >> 32);
  w[2] = 0;
  w[3] = 0;
  philox_rounds<10>(w, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

HIPT_HD double u24(uint32_t w) { return static_cast<double>(w >> 8) * 0x1p-24; }
HIPT_HD double u53(uint32_t lo, uint32_t hi) {
  return static_cast<double>(((static_cast<uint64_t>(hi) << 32) | lo) >> 11) * 0x1p-53;
}

}  // namespace hipt::philox
