// Element types, their sizes and names, and the float <-> f16/bf16 conversions.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

namespace hipt {

// F32 and F64 are the compute types (F64 serves gradcheck and double references);
// F16/BF16 are storage types reached by casts; I32/I64 index; U8 holds images; Bool masks.
enum class DType : uint8_t { F32, F64, F16, BF16, I32, I64, U8, Bool };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "f32", "bf16", ...
bool is_floating(DType t);             // F32, F64, F16, BF16

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// Round to nearest, ties to even, as IEEE 754 and PyTorch do. NaN stays NaN (quiet),
// overflow goes to infinity, f16 subnormals are exact.
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t h);
uint16_t float_to_f16(float f);
float f16_to_float(uint16_t h);

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace hipt
