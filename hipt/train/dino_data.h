// Stage-2 DINO data: the ViT-256 features of 4096² regions, as `hipt embed` writes them
// (`patch_features` f32 [M, 256, 384] per slide), seen as [384, 16, 16] grids (channel, patch row,
// patch column: the row-major patches reshaped and permuted, as the slide model reads them), and
// the multi-crop on those grids: 2 global 14×14 and 8 local 6×6 crops at uniform offsets, each
// flipped left-right with probability 1/2. No other augmentation and no normalisation.
//
// All randomness is a function of (seed, epoch, sample index) through Philox, so a run resumed at
// any step draws what an uninterrupted one would have.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hipt::train {

// Every region of the given feature files, in memory (384 KiB per region). `inputs` are
// .safetensors files or directories (their *.safetensors, sorted by name). A file with no region
// (M = 0) is skipped and `warn` is called with a line naming it; a file without `patch_features`,
// or whose patch_features are not [M, 256, 384] (another region size), is refused in one
// hipt::Error naming the file; so is an input list that yields no region.
class RegionGrids {
 public:
  explicit RegionGrids(const std::vector<std::string>& inputs,
                       const std::function<void(const std::string&)>& warn = nullptr);
  int64_t size() const { return size_; }
  Tensor grid(int64_t index) const;                                 // [384, 16, 16], a view
  const std::vector<std::string>& files() const { return files_; }  // the files read, in order

  static constexpr int64_t kSide = 16, kChannels = 384;

 private:
  std::vector<std::string> files_;
  std::vector<Tensor> grids_;    // per file: [M, 384, 16, 16]
  std::vector<int64_t> starts_;  // first global index of each file
  int64_t size_ = 0;
};

struct GridCropOptions {
  int64_t global_crops = 2, global_size = 14;
  int64_t local_crops = 8, local_size = 6;
  int64_t crops() const { return global_crops + local_crops; }
};

// The crops of one grid [C, S, S]: global ones first, each [C, size, size]. Offsets are uniform in
// 0..S-size per axis and the flip reverses the columns, drawn from Philox words keyed by `seed`
// at counters fixed by (epoch, index).
std::vector<Tensor> grid_crops(const Tensor& grid, const GridCropOptions& options, uint64_t seed, int64_t epoch,
                               int64_t index);

// The order of the n samples in `epoch`: a permutation drawn from (seed, epoch) (Fisher-Yates).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);

// The crops of a batch: for each crop position v, the samples' v-th crops stacked to
// [B, C, size, size]. `indices` are the samples' dataset indices (their randomness follows them).
std::vector<Tensor> grid_batch(const RegionGrids& data, const std::vector<int64_t>& indices,
                               const GridCropOptions& options, uint64_t seed, int64_t epoch);

}  // namespace hipt::train
