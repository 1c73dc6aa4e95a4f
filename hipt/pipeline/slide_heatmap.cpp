#include "hipt/pipeline/slide_heatmap.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace hipt {

Thumbnail slide_thumbnail(const io::Slide& slide, double downsample) {
  HIPT_CHECK(downsample >= 1, "slide thumbnail: downsample {} must be at least 1", downsample);
  const int level = slide.best_level_for_downsample(downsample);
  const io::SlideLevel& L = slide.level(level);
  const int64_t f = std::max<int64_t>(1, static_cast<int64_t>(std::floor(downsample / L.downsample + 1e-9)));
  const int64_t W = std::max<int64_t>(1, L.width / f), H = std::max<int64_t>(1, L.height / f);
  Thumbnail t;
  t.rgb = ops::empty({H, W, 3}, DType::U8);
  uint8_t* out = t.rgb.data<uint8_t>();
  const double ds0 = static_cast<double>(slide.level(0).width) / static_cast<double>(L.width);
  const int64_t band =
      std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, L.width * f));  // output rows per read
  std::vector<uint32_t> acc(static_cast<size_t>(W * 3));
  for (int64_t y0 = 0; y0 < H; y0 += band) {
    const int64_t rows = std::min(band, H - y0);
    const int64_t y_level0 = static_cast<int64_t>(std::llround(static_cast<double>(y0 * f) * ds0));
    Tensor rgb = io::rgba_to_rgb(slide.read_region(0, y_level0, level, W * f, rows * f), true);
    const uint8_t* in = rgb.data<uint8_t>();
    for (int64_t r = 0; r < rows; ++r) {
      std::fill(acc.begin(), acc.end(), 0u);
      for (int64_t dy = 0; dy < f; ++dy) {
        const uint8_t* row = in + ((r * f + dy) * W * f) * 3;
        for (int64_t x = 0; x < W * f; ++x)
          for (int c = 0; c < 3; ++c) acc[static_cast<size_t>((x / f) * 3 + c)] += row[x * 3 + c];
      }
      uint8_t* o = out + ((y0 + r) * W) * 3;
      for (int64_t i = 0; i < W * 3; ++i)
        o[i] = static_cast<uint8_t>((acc[static_cast<size_t>(i)] + static_cast<uint32_t>(f * f / 2)) /
                                    static_cast<uint32_t>(f * f));
    }
  }
  t.downsample_x = static_cast<double>(slide.level(0).width) / static_cast<double>(W);
  t.downsample_y = static_cast<double>(slide.level(0).height) / static_cast<double>(H);
  return t;
}

Tensor draw_slide_heatmap(const Thumbnail& thumb, const std::vector<int64_t>& xy, int64_t region0,
                          const std::vector<float>& scores, const heatmap::Colormap& cmap, double alpha) {
  const size_t M = scores.size();
  HIPT_CHECK(M >= 1 && xy.size() == 2 * M, "slide heatmap: {} scores need {} coordinates, got {}", M, 2 * M, xy.size());
  HIPT_CHECK(region0 > 0, "slide heatmap: region size {} must be positive", region0);
  const Tensor& img = thumb.rgb;
  HIPT_CHECK(img.dim() == 3 && img.size(2) == 3 && img.dtype() == DType::U8,
             "slide heatmap: the thumbnail must be u8 [H, W, 3], got {}", img.str());
  const int64_t H = img.size(0), W = img.size(1);
  const std::vector<double> ranks = heatmap::percentile_ranks(scores);
  heatmap::ScoreMap sum{H, W, std::vector<double>(static_cast<size_t>(H * W), 0.0)};
  std::vector<int32_t> count(static_cast<size_t>(H * W), 0);
  for (size_t i = 0; i < M; ++i) {
    const int64_t x0 = static_cast<int64_t>(std::floor(static_cast<double>(xy[2 * i]) / thumb.downsample_x));
    const int64_t y0 = static_cast<int64_t>(std::floor(static_cast<double>(xy[2 * i + 1]) / thumb.downsample_y));
    const int64_t x1 = static_cast<int64_t>(std::ceil(static_cast<double>(xy[2 * i] + region0) / thumb.downsample_x));
    const int64_t y1 =
        static_cast<int64_t>(std::ceil(static_cast<double>(xy[2 * i + 1] + region0) / thumb.downsample_y));
    for (int64_t y = std::max<int64_t>(0, y0); y < std::min(H, y1); ++y)
      for (int64_t x = std::max<int64_t>(0, x0); x < std::min(W, x1); ++x) {
        sum.values[static_cast<size_t>(y * W + x)] += ranks[i] / 100;
        ++count[static_cast<size_t>(y * W + x)];
      }
  }
  for (size_t p = 0; p < count.size(); ++p)
    if (count[p]) sum.values[p] /= count[p];
  Tensor heat = heatmap::colorize(sum, cmap);
  Tensor blended = heatmap::blend(heat, img, alpha);
  Tensor out = ops::clone(ops::contiguous(img));
  uint8_t* o = out.data<uint8_t>();
  const uint8_t* b = blended.data<uint8_t>();
  for (size_t p = 0; p < count.size(); ++p)
    if (count[p])
      for (int c = 0; c < 3; ++c) o[p * 3 + static_cast<size_t>(c)] = b[p * 3 + static_cast<size_t>(c)];
  return out;
}

}  // namespace hipt
