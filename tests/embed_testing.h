// What the embed-pipeline tests share: slides written with our TIFF writer (tissue-coloured blobs
// on white), fixture weights for both ViTs saved once per test program, the CLI's JSON summary,
// and a byte-for-byte comparison of two output files.
#pragma once
#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hipt/models/vit.h"
#include "io/safetensors.h"
#include "io/tiff_writer.h"
#include "slide_testing.h"
#include "vit_fixture_formula.h"

namespace hipt::testing {

// A fresh, empty folder under the test's temporary folder.
inline std::string fresh_dir(const std::string& name) {
  const std::string d = temp_path(name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Fixture weights for both ViTs, written once per test program.
inline const std::string& model_flags() {
  static const std::string flags = [] {
    const std::string dir = fresh_dir("embed_weights");
    auto vit256 = vit256_small(0, false);
    auto vit4k = vit4k_xs(0, false);
    set_fixture_weights(*vit256);
    set_fixture_weights(*vit4k);
    io::write_safetensors(dir + "/vit256.safetensors", vit256->state_dict());
    io::write_safetensors(dir + "/vit4k.safetensors", vit4k->state_dict());
    return " --vit256 " + dir + "/vit256.safetensors --vit4k " + dir + "/vit4k.safetensors";
  }();
  return flags;
}

inline std::pair<std::shared_ptr<VisionTransformer>, std::shared_ptr<VisionTransformer4K>> fixture_models() {
  auto vit256 = vit256_small(0, false);
  auto vit4k = vit4k_xs(0, false);
  set_fixture_weights(*vit256);
  set_fixture_weights(*vit4k);
  return {vit256, vit4k};
}

// u8 [h, w, 3]: near-white background with textured pink/purple ellipses (cx, cy, rx, ry).
inline Tensor tissue_image(int64_t w, int64_t h, const std::vector<std::array<double, 4>>& blobs) {
  std::vector<uint8_t> v(static_cast<size_t>(w * h * 3), 242);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (const auto& b : blobs) {
        const double dx = (x - b[0]) / b[2], dy = (y - b[1]) / b[3];
        if (dx * dx + dy * dy > 1) continue;
        uint8_t* p = &v[static_cast<size_t>((y * w + x) * 3)];
        const int n = static_cast<int>(fixture_mix(static_cast<uint64_t>(y * w + x), 7) >> 26);  // 0..63
        p[0] = static_cast<uint8_t>(170 + n / 2), p[1] = static_cast<uint8_t>(70 + n), p[2] = static_cast<uint8_t>(150 + n / 3);
      }
  return ops::from_vector(v, {h, w, 3});
}

inline void write_slide(const std::string& path, const Tensor& img, double mag) {
  io::TiffWriteOptions o;
  o.aperio = true, o.mpp = 10.0 / mag, o.objective_power = mag, o.compression = io::TiffCompression::Deflate;
  io::write_tiff_pyramid(path, img, o);
}

// Two blobs on 768x512: a few regions of 256.
inline Tensor small_image() { return tissue_image(768, 512, {{{200, 200, 120, 100}}, {{560, 330, 90, 80}}}); }

inline nlohmann::json parse_summary(const CliRun& r) {
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

inline void expect_same_output(const std::string& got_path, const std::string& want_path, bool same_metadata = true) {
  io::TensorMap got = io::read_safetensors(got_path), want = io::read_safetensors(want_path);
  ASSERT_EQ(got.size(), want.size()) << got_path;
  for (const auto& [name, t] : want) {
    ASSERT_EQ(got.at(name).shape(), t.shape()) << got_path << " " << name;
    if (t.dtype() == DType::I64) {
      EXPECT_EQ(ops::to_vector<int64_t>(got.at(name)), ops::to_vector<int64_t>(t)) << got_path << " " << name;
    } else {
      EXPECT_EQ(ops::to_vector<float>(got.at(name)), ops::to_vector<float>(t)) << got_path << " " << name;
    }
  }
  if (same_metadata) {
    EXPECT_EQ(io::read_safetensors_metadata(got_path), io::read_safetensors_metadata(want_path)) << got_path;
  }
}

}  // namespace hipt::testing
