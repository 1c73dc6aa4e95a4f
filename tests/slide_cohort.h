// Synthetic slide-level cohorts for the training tests: feature files as `hipt embed` writes them
// (region_features, coords, optional patch_features and the metadata the trainer reads) and
// labels CSVs.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "tensor/ops.h"

namespace hipt::testing {

inline std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// DIR/<slide>.safetensors with M regions of the given features ([M, 192]; coords on a 4096 grid).
inline void write_feature_file(const std::string& dir, const std::string& slide, const Tensor& regions,
                               const std::string& vit4k_sha256 = "sha", const std::string& region_size = "4096",
                               const Tensor& patches = Tensor(),
                               const std::map<std::string, std::string>& extra_metadata = {}) {
  const int64_t M = regions.size(0);
  std::vector<int64_t> xy;
  for (int64_t i = 0; i < M; ++i) {
    xy.push_back(4096 * (i % 4));
    xy.push_back(4096 * (i / 4));
  }
  io::TensorMap t{{"region_features", regions}, {"coords", ops::from_vector(xy, {M, 2})}};
  if (patches.defined()) t["patch_features"] = patches;
  std::map<std::string, std::string> meta{{"slide", slide + ".svs"},
                                          {"region_size", region_size},
                                          {"vit4k_sha256", vit4k_sha256},
                                          {"regions", std::to_string(M)}};
  for (const auto& [k, v] : extra_metadata) meta[k] = v;
  io::write_safetensors(dir + "/" + slide + ".safetensors", t, meta);
}

}  // namespace hipt::testing
