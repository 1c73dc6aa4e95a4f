// The pure half of `hipt heatmap` (reference: HIPT_4K/hipt_4k.py get_region_attention_heatmaps,
// hipt-model.md §5): attention maps -> percentile ranks laid out over the region -> (optional
// shifted passes averaged) -> colormap -> blend over the region image. No model in here, so every
// step is tested against numpy/scipy/matplotlib/OpenCV numbers (scripts/make_heatmap_fixture.py).
//
// Sizes: a region of rows x cols patches of 256 px becomes an output of
// H = rows·256/scale by W = cols·256/scale pixels; a ViT-256 token covers 16/scale output pixels,
// a ViT-4K cell (one patch) 256/scale. scale must divide 16 so both are whole pixels.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hipt::heatmap {

// A [height, width] map of doubles, row-major.
struct ScoreMap {
  int64_t height = 0, width = 0;
  std::vector<double> values;
  double at(int64_t y, int64_t x) const { return values[static_cast<size_t>(y * width + x)]; }
};

// scipy.stats.rankdata(v, method='average') * 100 / n: ties share the mean of their ranks, so
// the ranks lie in (0, 100] and the largest value ranks 100 unless it is tied. NaN is an error.
// out[i] for v[i], n = v.size().
// With `repeat` > 1: the ranks each value would get if it appeared `repeat` times (a map
// nearest-upsampled before ranking, as the reference does), without building the repeated array.
std::vector<double> percentile_ranks(const std::vector<float>& v, int64_t repeat = 1);

// The ViT-256 map of one head: patch_attention f32 [rows·cols, heads, 256] ([CLS] row over the
// 16x16 tokens, AttentionMaps::ClsRow), each patch nearest-upsampled by 16/scale, ranked within
// the patch (as the reference's concat_scores256), patch p placed at grid row p / cols, column
// p % cols. Returns ranks [rows·256/scale, cols·256/scale].
ScoreMap patch_rank_map(const Tensor& patch_attention, int64_t head, int64_t rows, int64_t cols, int64_t scale);

// The ViT-4K map of one head: region_attention f32 [heads, N+1, N+1], N = rows·cols; row 0
// (the [CLS] query), columns 1..N as a rows x cols grid, nearest-upsampled by 256/scale and
// ranked over the whole map (concat_scores4k). Returns ranks [rows·256/scale, cols·256/scale].
ScoreMap region_rank_map(const Tensor& region_attention, int64_t head, int64_t rows, int64_t cols, int64_t scale);

// The raw (unranked) maps at token / cell resolution, for the .safetensors output:
// patch_attention [N, heads, 256] -> f32 [heads, rows·16, cols·16];
// region_attention [heads, N+1, N+1] -> f32 [heads, rows, cols].
Tensor stitch_patch_attention(const Tensor& patch_attention, int64_t rows, int64_t cols);
Tensor region_cls_attention(const Tensor& region_attention, int64_t rows, int64_t cols);

// The reference's smoothing: pass k encodes the region moved up-left by k·128 px (white margin),
// its rank map is moved back down-right by shift = k·128/scale output pixels, and each pixel
// averages the passes that cover it (weight 100 each, so the score is a rank / 100 in (0, 1]).
struct PassAverage {
  int64_t height = 0, width = 0;
  std::vector<double> rank_sum;  // sum of the covering passes' ranks
  std::vector<int32_t> passes;   // how many passes cover the pixel (>= 1 once the unshifted pass is in)

  PassAverage(int64_t height, int64_t width);
  // Adds ranks (same size) computed on the region moved up-left by `shift` output pixels.
  void add(const ScoreMap& ranks, int64_t shift);
  // rank_sum / (100 · passes); 0 where no pass covers.
  ScoreMap scores() const;
};

// The reference's "factorized" 4K x 256 map: both levels' passes pooled, pixel by pixel,
// (Σ ranks_4k + Σ ranks_256) / (100 · (passes_4k + passes_256)).
ScoreMap factorized_scores(const PassAverage& vit4k, const PassAverage& vit256);

// A matplotlib colormap's lookup table: rgb in [0, 1], `size` entries.
struct Colormap {
  std::string name;
  std::vector<std::array<double, 3>> lut;
};

// matplotlib's jet (256 entries).
Colormap jet();
// The reference's default: cmap_map(lambda x: x/2 + 0.5, jet), jet lightened by sampling it at
// its segment breaks and rebuilding a 1024-entry table.
Colormap light_jet();
// By CLI name: "jet" -> light_jet() (what the reference draws with). Throws for others.
Colormap colormap_by_name(const std::string& name);

// (cmap(score) * 255).astype(uint8)[:, :, :3]: matplotlib's index floor(score·N) (score 1 ->
// N-1, clipped to the table), then truncation. scores [H, W] -> u8 [H, W, 3].
Tensor colorize(const ScoreMap& scores, const Colormap& cmap);

// cv2.addWeighted(heat, alpha, image, 1 - alpha, 0) on u8 [H, W, 3]: in float32,
// fma(heat, alpha, image·(1 - alpha)), rounded half to even and saturated (OpenCV 4's SIMD path).
uint8_t add_weighted(uint8_t heat, uint8_t image, double alpha);
Tensor blend(const Tensor& heat, const Tensor& image, double alpha);

// u8 [H, W, 3] -> u8 [H/scale, W/scale, 3] as the reference's region.resize((W/scale, H/scale)):
// Pillow's default bicubic (a = -0.5, antialiased: support 2·scale), its 22-bit fixed-point
// weights, horizontal pass rounded to u8 before the vertical one.
Tensor downscale(const Tensor& image, int64_t scale);

// u8 [H, W, 3] moved up-left by `shift` pixels, the uncovered bottom and right margin white
// (the reference's add_margin(region.crop((s, s, w, h)), bottom=s, right=s, white)).
Tensor shift_up_left(const Tensor& image, int64_t shift);

}  // namespace hipt::heatmap
