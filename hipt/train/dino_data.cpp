#include "hipt/train/dino_data.h"

#include <algorithm>
#include <filesystem>

#include "io/safetensors.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace hipt::train {
namespace fs = std::filesystem;

RegionGrids::RegionGrids(const std::vector<std::string>& inputs, const std::function<void(const std::string&)>& warn) {
  std::vector<std::string> paths;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(in))
        if (e.is_regular_file() && e.path().extension() == ".safetensors") found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else {
      HIPT_CHECK(fs::is_regular_file(in, ec), "pretrain: {}: no such file or directory", in);
      paths.push_back(in);
    }
  }
  for (const std::string& path : paths) {
    io::TensorMap t = io::read_safetensors(path);
    auto it = t.find("patch_features");
    HIPT_CHECK(it != t.end(), "pretrain: {} has no patch_features (write features with `hipt embed`)", path);
    const Tensor& pf = it->second;
    HIPT_CHECK(pf.dim() == 3 && pf.size(2) == kChannels, "pretrain: {}: patch_features {} are not [M, {}, {}]", path,
               pf.shape().str(), kSide * kSide, kChannels);
    if (pf.size(0) == 0) {
      if (warn) warn(path + ": no regions (M = 0), skipped");
      continue;
    }
    HIPT_CHECK(pf.size(1) == kSide * kSide,
               "pretrain: {}: patch_features {} hold {} patches per region; ViT-4K pretraining takes 4096² regions "
               "(16 × 16 = 256 patches of 256²)",
               path, pf.shape().str(), pf.size(1));
    const int64_t M = pf.size(0);
    Tensor f = ops::cast(pf, DType::F32);
    grids_.push_back(ops::contiguous(ops::permute(ops::reshape(f, {M, kSide, kSide, kChannels}), {0, 3, 1, 2})));
    files_.push_back(path);
    starts_.push_back(size_);
    size_ += M;
  }
  HIPT_CHECK(size_ > 0,
             "pretrain: no region features found in {} input(s) (.safetensors files of `hipt embed` with "
             "patch_features [M, 256, 384], M > 0)",
             inputs.size());
}

Tensor RegionGrids::grid(int64_t index) const {
  HIPT_CHECK(index >= 0 && index < size_, "RegionGrids: index {} outside 0..{}", index, size_ - 1);
  const size_t f = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), index) - starts_.begin() - 1);
  return ops::select(grids_[f], 0, index - starts_[f]);
}

namespace {

// Philox words of one sample: key `seed`, counters (epoch · 2^32 + index) · 16 + block; a domain
// bit keeps the epoch permutations (below) apart.
struct Words {
  Words(uint64_t seed, uint64_t base) : seed_(seed), base_(base) {}
  uint32_t next() {
    if (used_ == 4) {
      philox4x32(seed_, base_ + block_++, words_);
      used_ = 0;
    }
    return words_[used_++];
  }
  // uniform in 0..n-1 (n < 2^32): the high half of a 32×32-bit product
  int64_t below(int64_t n) {
    return static_cast<int64_t>((static_cast<uint64_t>(next()) * static_cast<uint64_t>(n)) >> 32);
  }

 private:
  uint64_t seed_, base_, block_ = 0;
  uint32_t words_[4] = {0, 0, 0, 0};
  int used_ = 4;
};

constexpr uint64_t kOrderDomain = uint64_t{1} << 63;

Tensor flip_columns(const Tensor& t) {
  const int64_t n = t.size(-1);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = n - 1 - i;
  return ops::index_select(t, t.dim() - 1, ops::from_vector<int64_t>(idx, {n}));
}

}  // namespace

std::vector<Tensor> grid_crops(const Tensor& grid, const GridCropOptions& o, uint64_t seed, int64_t epoch,
                               int64_t index) {
  HIPT_CHECK(grid.dim() == 3, "grid_crops: grid {} is not [C, H, W]", grid.shape().str());
  const int64_t H = grid.size(1), W = grid.size(2);
  HIPT_CHECK(o.global_size <= std::min(H, W) && o.local_size <= std::min(H, W) && o.global_size > 0 &&
                 o.local_size > 0 && o.global_crops >= 1 && o.local_crops >= 0,
             "grid_crops: crops {}×{} / {}×{} do not fit a {}×{} grid", o.global_size, o.global_size, o.local_size,
             o.local_size, H, W);
  HIPT_CHECK(epoch >= 0 && epoch < (int64_t{1} << 27) && index >= 0 && index < (int64_t{1} << 32),
             "grid_crops: epoch {} or index {} out of range", epoch, index);
  Words w(seed, ((static_cast<uint64_t>(epoch) << 32) | static_cast<uint64_t>(index)) * 16);
  std::vector<Tensor> out;
  for (int64_t c = 0; c < o.crops(); ++c) {
    const int64_t size = c < o.global_crops ? o.global_size : o.local_size;
    const int64_t top = w.below(H - size + 1), left = w.below(W - size + 1);
    const bool flip = (w.next() >> 31) != 0;
    Tensor crop = ops::slice(ops::slice(grid, 1, top, top + size), 2, left, left + size);
    out.push_back(flip ? flip_columns(crop) : ops::contiguous(crop));
  }
  return out;
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  Words w(seed, kOrderDomain | (static_cast<uint64_t>(epoch) << 40));
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(w.below(i + 1))]);
  return order;
}

std::vector<Tensor> grid_batch(const RegionGrids& data, const std::vector<int64_t>& indices,
                               const GridCropOptions& options, uint64_t seed, int64_t epoch) {
  HIPT_CHECK(!indices.empty(), "grid_batch: empty batch");
  std::vector<std::vector<Tensor>> per_crop(static_cast<size_t>(options.crops()));
  for (int64_t index : indices) {
    std::vector<Tensor> crops = grid_crops(data.grid(index), options, seed, epoch, index);
    for (size_t v = 0; v < crops.size(); ++v) per_crop[v].push_back(crops[v]);
  }
  std::vector<Tensor> out;
  for (const auto& c : per_crop) out.push_back(ops::stack(c, 0));
  return out;
}

}  // namespace hipt::train
