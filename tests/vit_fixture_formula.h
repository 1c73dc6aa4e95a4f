// The C++ twin of the weight and input formulas in scripts/make_vit_fixtures.py (read its top
// comment): both sides build the same models and inputs from a hash, so only outputs are committed.
// Needs the engine alone (no GoogleTest), so programs outside the tests (examples/consumer) use it too.
#pragma once
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "nn/module.h"
#include "tensor/ops.h"
#include "io/safetensors.h"

namespace hipt::testing {

// max|got - want| / max|want|, the parity measure of the model tests; infinite (and said on stderr)
// when the shapes differ.
inline double relative_error(const Tensor& got, const Tensor& want, const std::string& what = "") {
  if (got.shape() != want.shape()) {
    fmt::print(stderr, "{}: shape {} vs {}\n", what, got.shape().str(), want.shape().str());
    return INFINITY;
  }
  std::vector<double> g = ops::to_vector<double>(got), w = ops::to_vector<double>(want);
  double diff = 0, ref = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    diff = std::max(diff, std::abs(g[i] - w[i]));
    ref = std::max(ref, std::abs(w[i]));
  }
  return diff / ref;
}

// "name:d0xd1,..." for every parameter, as the fixture scripts record the reference module.
inline std::string param_table(const nn::Module& m) {
  std::string out;
  for (const nn::Parameter& p : m.named_parameters()) {
    std::string dims;
    for (int d = 0; d < p.tensor.dim(); ++d) dims += (d ? "x" : "") + std::to_string(p.tensor.size(d));
    out += (out.empty() ? "" : ",") + p.name + ":" + dims;
  }
  return out;
}

// MurmurHash3's 32-bit finaliser of (i·0x9E3779B1 + salt·0x85EBCA77) mod 2^32.
inline uint32_t fixture_mix(uint64_t i, uint64_t salt) {
  auto h = static_cast<uint32_t>(i * 0x9E3779B1ull + salt * 0x85EBCA77ull);
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

inline double fixture_unit(uint64_t i, uint64_t salt) { return fixture_mix(i, salt) / 4294967296.0 * 2.0 - 1.0; }

// scale · unit(i, salt) for every element, rounded to `dtype`.
inline Tensor fixture_tensor(const Shape& shape, uint64_t salt, double scale, DType dtype = DType::F32) {
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * fixture_unit(i, salt);
  return ops::cast(ops::cast(ops::from_vector(v, shape), DType::F32), dtype);
}

inline Tensor fixture_image(const Shape& shape, DType dtype = DType::F32) {
  return fixture_tensor(shape, 1001, 0.95, dtype);
}
inline Tensor fixture_grid(const Shape& shape) { return fixture_tensor(shape, 1002, 1.0); }

inline Tensor fixture_region_u8(int64_t h, int64_t w) {
  std::vector<uint8_t> v(static_cast<size_t>(h * w * 3));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(fixture_mix(i, 1004) >> 24);
  return ops::from_vector(v, {h, w, 3});
}

// Overwrites every parameter with the formula (f32 values, cast to the parameter's dtype).
inline void set_fixture_weights(const nn::Module& m) {
  uint64_t k = 0;
  for (const nn::Parameter& p : m.named_parameters()) {
    const Tensor& t = p.tensor;
    double scale = 0, offset = 0;
    if (p.name == "cls_token" || p.name == "pos_embed") {
      scale = 0.5;
    } else if (t.dim() >= 2) {
      scale = 1.5 * std::sqrt(3.0) / std::sqrt(static_cast<double>(t.numel() / t.size(0)));
    } else if (p.name.size() >= 7 && p.name.compare(p.name.size() - 7, 7, ".weight") == 0) {
      scale = 0.2;
      offset = 1.0;
    } else {
      scale = 0.1;
    }
    std::vector<double> v(static_cast<size_t>(t.numel()));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<double>(static_cast<float>(offset + scale * fixture_unit(i, k + 1)));
    ops::copy_(t, ops::from_vector(v, t.shape()));
    ++k;
  }
}

#ifdef HIPT_TEST_DATA
inline io::TensorMap read_fixture(const std::string& name) {
  return io::read_safetensors(std::string(HIPT_TEST_DATA) + "/" + name);
}
#endif

}  // namespace hipt::testing
