// hipt/train/dino_data.h: region grids from `hipt embed` feature files and the stage-2 multi-crop.
#include <filesystem>
#include <set>

#include "hipt/train/dino_data.h"
#include "io/safetensors.h"
#include "testing.h"

namespace hipt {
namespace {
using namespace hipt::testing;
namespace fs = std::filesystem;

// patch_features [M, N, 384] with value m·1000 + p + c/1000 at (m, p, c).
Tensor features(int64_t M, int64_t N = 256) {
  std::vector<float> v(static_cast<size_t>(M * N * 384));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t p = 0; p < N; ++p)
      for (int64_t c = 0; c < 384; ++c) v[static_cast<size_t>((m * N + p) * 384 + c)] = m * 1000.0f + p + c / 1000.0f;
  return ops::from_vector<float>(v, {M, N, 384});
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / ("hipt_" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const Tensor& pf) const {
    std::string p = (path / name).string();
    io::write_safetensors(p, {{"patch_features", pf}, {"region_features", ops::zeros({pf.size(0), 192})}});
    return p;
  }
};

TEST(DinoData, GridsAreThePatchesReshapedChannelFirst) {
  TempDir dir("dino_data_grids");
  std::string a = dir.write("a.safetensors", features(2)), b = dir.write("b.safetensors", features(3));
  train::RegionGrids data({a, b});
  ASSERT_EQ(data.size(), 5);
  Tensor g = data.grid(3);  // b's region 1
  ASSERT_EQ(g.shape(), Shape({384, 16, 16}));
  std::vector<float> v = ops::to_vector<float>(g);
  for (int64_t c : {0, 7, 383})
    for (int64_t r : {0, 5, 15})
      for (int64_t col : {0, 9, 15})
        EXPECT_FLOAT_EQ(v[static_cast<size_t>((c * 16 + r) * 16 + col)], 1000.0f + (r * 16 + col) + c / 1000.0f);
}

TEST(DinoData, DirectoriesAreReadSortedAndEmptySlidesSkippedWithAWarning) {
  TempDir dir("dino_data_dir");
  dir.write("b.safetensors", features(1));
  dir.write("a.safetensors", features(2));
  dir.write("empty.safetensors", features(0));
  std::vector<std::string> warnings;
  train::RegionGrids data({dir.path.string()}, [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(data.size(), 3);
  ASSERT_EQ(data.files().size(), 2u);
  EXPECT_EQ(fs::path(data.files()[0]).filename(), "a.safetensors");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("empty.safetensors"), std::string::npos);
  EXPECT_NE(warnings[0].find("M = 0"), std::string::npos);
}

TEST(DinoData, BadInputsAreRefusedNamingTheFile) {
  TempDir dir("dino_data_bad");
  std::string small = dir.write("small.safetensors", features(1, 64));
  expect_error([&] { train::RegionGrids({small}); }, {"small.safetensors", "64 patches", "4096"});
  std::string none = (dir.path / "none.safetensors").string();
  io::write_safetensors(none, {{"region_features", ops::zeros({1, 192})}});
  expect_error([&] { train::RegionGrids({none}); }, {"none.safetensors", "no patch_features"});
  std::string empty = dir.write("empty.safetensors", features(0));
  expect_error([&] { train::RegionGrids({empty}); }, {"no region features found"});
  fs::create_directories(dir.path / "void");
  expect_error([&] { train::RegionGrids({(dir.path / "void").string()}); }, {"no region features found"});
  expect_error([&] { train::RegionGrids({(dir.path / "missing").string()}); }, {"missing", "no such file"});
}

// The offset and flip of a crop, found by comparing with every placement; -1 if none matches.
std::pair<int64_t, bool> placement(const Tensor& grid, const Tensor& crop) {
  const int64_t s = crop.size(1);
  std::vector<float> want = ops::to_vector<float>(crop);
  for (int64_t top = 0; top + s <= 16; ++top)
    for (int64_t left = 0; left + s <= 16; ++left)
      for (bool flip : {false, true}) {
        Tensor c = ops::slice(ops::slice(grid, 1, top, top + s), 2, left, left + s);
        std::vector<float> got = ops::to_vector<float>(c);
        bool same = true;
        for (int64_t ch = 0; ch < 384 && same; ++ch)
          for (int64_t r = 0; r < s && same; ++r)
            for (int64_t col = 0; col < s && same; ++col)
              same = got[static_cast<size_t>((ch * s + r) * s + (flip ? s - 1 - col : col))] ==
                     want[static_cast<size_t>((ch * s + r) * s + col)];
        if (same) return {top * 16 + left, flip};
      }
  return {-1, false};
}

TEST(DinoData, CropsAreSubgridsAtUniformOffsetsWithFlips) {
  Tensor grid = ops::select(ops::permute(ops::reshape(features(1), {1, 16, 16, 384}), {0, 3, 1, 2}), 0, 0);
  grid = ops::contiguous(grid);
  train::GridCropOptions o;
  std::set<int64_t> global_offsets;
  int flips = 0, crops = 0;
  for (int64_t index = 0; index < 12; ++index) {
    std::vector<Tensor> c = train::grid_crops(grid, o, 7, 0, index);
    ASSERT_EQ(c.size(), 10u);
    for (size_t v = 0; v < c.size(); ++v) {
      const int64_t s = v < 2 ? 14 : 6;
      ASSERT_EQ(c[v].shape(), Shape({384, s, s}));
      auto [offset, flip] = placement(grid, c[v]);
      ASSERT_GE(offset, 0) << "crop " << v << " of sample " << index << " is no subgrid";
      if (v < 2) global_offsets.insert(offset);
      flips += flip;
      ++crops;
    }
  }
  EXPECT_GE(global_offsets.size(), 5u);  // of the 9 placements of 14×14
  EXPECT_GT(flips, crops / 4);
  EXPECT_LT(flips, 3 * crops / 4);
}

TEST(DinoData, RandomnessIsAFunctionOfSeedEpochAndIndex) {
  Tensor grid =
      ops::contiguous(ops::select(ops::permute(ops::reshape(features(1), {1, 16, 16, 384}), {0, 3, 1, 2}), 0, 0));
  train::GridCropOptions o;
  auto digest = [&](uint64_t seed, int64_t epoch, int64_t index) {
    std::vector<float> all;
    for (const Tensor& c : train::grid_crops(grid, o, seed, epoch, index)) {
      std::vector<float> v = ops::to_vector<float>(c);
      all.insert(all.end(), v.begin(), v.begin() + 4);
    }
    return all;
  };
  EXPECT_EQ(digest(1, 2, 3), digest(1, 2, 3));
  EXPECT_NE(digest(1, 2, 3), digest(1, 2, 4));
  EXPECT_NE(digest(1, 2, 3), digest(1, 3, 3));
  EXPECT_NE(digest(1, 2, 3), digest(2, 2, 3));

  std::vector<int64_t> a = train::epoch_order(50, 1, 0), b = train::epoch_order(50, 1, 1);
  EXPECT_EQ(a, train::epoch_order(50, 1, 0));
  EXPECT_NE(a, b);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
}

TEST(DinoData, BatchesStackEachCropPosition) {
  TempDir dir("dino_data_batch");
  train::RegionGrids data({dir.write("a.safetensors", features(3))});
  train::GridCropOptions o;
  o.local_crops = 3;
  std::vector<Tensor> b = train::grid_batch(data, {2, 0}, o, 5, 1);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[0].shape(), Shape({2, 384, 14, 14}));
  EXPECT_EQ(b[4].shape(), Shape({2, 384, 6, 6}));
  // sample 2's crops are those of its own index, whatever its place in the batch
  std::vector<Tensor> own = train::grid_crops(data.grid(2), o, 5, 1, 2);
  EXPECT_EQ(ops::to_vector<float>(ops::select(b[3], 0, 0)), ops::to_vector<float>(own[3]));
}

}  // namespace
}  // namespace hipt
