#include "hipt/pipeline/heatmap.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/ops.h"

namespace hipt::heatmap {

namespace {

void check_scale(int64_t scale) {
  HIPT_CHECK(scale >= 1 && 16 % scale == 0, "heatmap: scale {} must divide 16 (1, 2, 4, 8 or 16)", scale);
}

void check_rgb(const Tensor& image, const char* what) {
  HIPT_CHECK(image.dtype() == DType::U8 && image.dim() == 3 && image.size(2) == 3,
             "heatmap: {} must be u8 [H, W, 3], got {}", what, image.str());
}

// A point of a matplotlib segment table (x, value); our tables have y0 == y1 everywhere.
struct Break {
  double x, y;
};

// matplotlib.colors._create_lookup_table for a table of breaks with x from 0 to 1: linear
// interpolation at the N points (N-1)·linspace(0, 1, N), found with searchsorted (side left).
std::vector<double> lookup_table(int n, const std::vector<Break>& breaks) {
  std::vector<double> xs(breaks.size());
  for (size_t k = 0; k < breaks.size(); ++k) xs[k] = breaks[k].x * (n - 1);
  const double step = 1.0 / (n - 1);  // numpy's linspace: i * step, the last point exactly 1
  std::vector<double> lut(static_cast<size_t>(n));
  lut[0] = breaks.front().y;
  lut[static_cast<size_t>(n - 1)] = breaks.back().y;
  for (int i = 1; i < n - 1; ++i) {
    const double xi = (n - 1) * (i * step);
    const size_t k = static_cast<size_t>(std::lower_bound(xs.begin(), xs.end(), xi) - xs.begin());
    const double distance = (xi - xs[k - 1]) / (xs[k] - xs[k - 1]);
    lut[static_cast<size_t>(i)] = std::clamp(distance * (breaks[k].y - breaks[k - 1].y) + breaks[k - 1].y, 0.0, 1.0);
  }
  return lut;
}

// matplotlib's Colormap.__call__ index for a float: floor(x·N), x = 1 -> N-1, outside -> the ends.
size_t lut_index(double x, size_t n) {
  double xa = x * static_cast<double>(n);
  if (xa < 0) return 0;  // "under" defaults to the first colour
  if (xa >= static_cast<double>(n)) return n - 1;  // x = 1 and "over" both give the last colour
  return static_cast<size_t>(xa);
}

// The jet segment tables (the MATLAB definition matplotlib also uses), per channel.
const std::vector<Break>& jet_breaks(int channel) {
  static const std::vector<Break> red = {{0, 0}, {0.35, 0}, {0.66, 1}, {0.89, 1}, {1, 0.5}};
  static const std::vector<Break> green = {{0, 0}, {0.125, 0}, {0.375, 1}, {0.64, 1}, {0.91, 0}, {1, 0}};
  static const std::vector<Break> blue = {{0, 0.5}, {0.11, 1}, {0.34, 1}, {0.65, 0}, {1, 0}};
  return channel == 0 ? red : channel == 1 ? green : blue;
}

Colormap from_channels(std::string name, const std::array<std::vector<double>, 3>& channels) {
  Colormap c{std::move(name), {}};
  c.lut.resize(channels[0].size());
  for (size_t i = 0; i < c.lut.size(); ++i) c.lut[i] = {channels[0][i], channels[1][i], channels[2][i]};
  return c;
}

}  // namespace

std::vector<double> percentile_ranks(const std::vector<float>& v, int64_t repeat) {
  HIPT_CHECK(repeat >= 1, "percentile_ranks: repeat {} < 1", repeat);
  for (float x : v) HIPT_CHECK(!std::isnan(x), "percentile_ranks: NaN in the attention map");
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  const double m = static_cast<double>(repeat), total = m * static_cast<double>(v.size());
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    // scipy: 0.5 * (below + (below + tied) + 1), 1-based; with each value repeated m times.
    const double average = 0.5 * (m * static_cast<double>(i) + m * static_cast<double>(j) + 1);
    for (size_t k = i; k < j; ++k) ranks[order[k]] = average * 100 / total;
    i = j;
  }
  return ranks;
}

ScoreMap patch_rank_map(const Tensor& patch_attention, int64_t head, int64_t rows, int64_t cols, int64_t scale) {
  check_scale(scale);
  const int64_t n = rows * cols;
  HIPT_CHECK(patch_attention.dim() == 3 && patch_attention.size(0) == n && patch_attention.size(2) == 256 &&
                 head >= 0 && head < patch_attention.size(1),
             "patch_rank_map: patch_attention {} for a {}x{} grid, head {}", patch_attention.str(), rows, cols, head);
  const std::vector<float> all = ops::to_vector<float>(patch_attention);
  const int64_t heads = patch_attention.size(1), cell = 16 / scale, side = 256 / scale;
  ScoreMap map{rows * side, cols * side, std::vector<double>(static_cast<size_t>(rows * side * cols * side))};
  for (int64_t p = 0; p < n; ++p) {
    const auto first = all.begin() + (p * heads + head) * 256;
    const std::vector<double> ranks = percentile_ranks(std::vector<float>(first, first + 256), cell * cell);
    const int64_t top = (p / cols) * side, left = (p % cols) * side;
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x)
        map.values[static_cast<size_t>((top + y) * map.width + left + x)] =
            ranks[static_cast<size_t>((y / cell) * 16 + x / cell)];
  }
  return map;
}

ScoreMap region_rank_map(const Tensor& region_attention, int64_t head, int64_t rows, int64_t cols, int64_t scale) {
  check_scale(scale);
  const Tensor cls = region_cls_attention(region_attention, rows, cols);  // [heads, rows, cols]
  HIPT_CHECK(head >= 0 && head < cls.size(0), "region_rank_map: head {} of {}", head, cls.size(0));
  const std::vector<float> all = ops::to_vector<float>(cls);
  const auto first = all.begin() + head * rows * cols;
  const int64_t side = 256 / scale;
  const std::vector<double> ranks = percentile_ranks(std::vector<float>(first, first + rows * cols), side * side);
  ScoreMap map{rows * side, cols * side, std::vector<double>(static_cast<size_t>(rows * side * cols * side))};
  for (int64_t y = 0; y < map.height; ++y)
    for (int64_t x = 0; x < map.width; ++x)
      map.values[static_cast<size_t>(y * map.width + x)] = ranks[static_cast<size_t>((y / side) * cols + x / side)];
  return map;
}

Tensor stitch_patch_attention(const Tensor& patch_attention, int64_t rows, int64_t cols) {
  HIPT_CHECK(patch_attention.dim() == 3 && patch_attention.size(0) == rows * cols && patch_attention.size(2) == 256,
             "stitch_patch_attention: patch_attention {} for a {}x{} grid", patch_attention.str(), rows, cols);
  const std::vector<float> in = ops::to_vector<float>(patch_attention);
  const int64_t heads = patch_attention.size(1), h = rows * 16, w = cols * 16;
  std::vector<float> out(static_cast<size_t>(heads * h * w));
  for (int64_t p = 0; p < rows * cols; ++p)
    for (int64_t hd = 0; hd < heads; ++hd)
      for (int64_t t = 0; t < 256; ++t)
        out[static_cast<size_t>(hd * h * w + ((p / cols) * 16 + t / 16) * w + (p % cols) * 16 + t % 16)] =
            in[static_cast<size_t>((p * heads + hd) * 256 + t)];
  return ops::from_vector(out, Shape{heads, h, w});
}

Tensor region_cls_attention(const Tensor& region_attention, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  HIPT_CHECK(region_attention.dim() == 3 && region_attention.size(1) == n + 1 && region_attention.size(2) == n + 1,
             "region_cls_attention: region_attention {} for a {}x{} grid", region_attention.str(), rows, cols);
  const std::vector<float> in = ops::to_vector<float>(region_attention);
  const int64_t heads = region_attention.size(0);
  std::vector<float> out(static_cast<size_t>(heads * n));
  for (int64_t hd = 0; hd < heads; ++hd)
    for (int64_t c = 0; c < n; ++c) out[static_cast<size_t>(hd * n + c)] = in[static_cast<size_t>(hd * (n + 1) * (n + 1) + 1 + c)];
  return ops::from_vector(out, Shape{heads, rows, cols});
}

PassAverage::PassAverage(int64_t h, int64_t w)
    : height(h), width(w), rank_sum(static_cast<size_t>(h * w), 0.0), passes(static_cast<size_t>(h * w), 0) {}

void PassAverage::add(const ScoreMap& ranks, int64_t shift) {
  HIPT_CHECK(ranks.height == height && ranks.width == width && shift >= 0,
             "PassAverage::add: a {}x{} map shifted by {} into {}x{}", ranks.height, ranks.width, shift, height, width);
  for (int64_t y = shift; y < height; ++y)
    for (int64_t x = shift; x < width; ++x) {
      const size_t i = static_cast<size_t>(y * width + x);
      rank_sum[i] += ranks.at(y - shift, x - shift);
      passes[i] += 1;
    }
}

ScoreMap PassAverage::scores() const {
  ScoreMap s{height, width, std::vector<double>(rank_sum.size(), 0.0)};
  for (size_t i = 0; i < rank_sum.size(); ++i)
    if (passes[i] > 0) s.values[i] = rank_sum[i] / (100.0 * passes[i]);
  return s;
}

ScoreMap factorized_scores(const PassAverage& vit4k, const PassAverage& vit256) {
  HIPT_CHECK(vit4k.height == vit256.height && vit4k.width == vit256.width, "factorized_scores: {}x{} vs {}x{}",
             vit4k.height, vit4k.width, vit256.height, vit256.width);
  ScoreMap s{vit4k.height, vit4k.width, std::vector<double>(vit4k.rank_sum.size(), 0.0)};
  for (size_t i = 0; i < s.values.size(); ++i) {
    const int32_t passes = vit4k.passes[i] + vit256.passes[i];
    if (passes > 0) s.values[i] = (vit4k.rank_sum[i] + vit256.rank_sum[i]) / (100.0 * passes);
  }
  return s;
}

Colormap jet() {
  std::array<std::vector<double>, 3> channels;
  for (int c = 0; c < 3; ++c) channels[c] = lookup_table(256, jet_breaks(c));
  return from_channels("jet", channels);
}

Colormap light_jet() {
  const Colormap base = jet();
  std::vector<double> xs;  // every channel's breaks, once each, sorted
  for (int c = 0; c < 3; ++c)
    for (const Break& b : jet_breaks(c)) xs.push_back(b.x);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  std::array<std::vector<double>, 3> channels;
  for (int c = 0; c < 3; ++c) {
    std::vector<Break> lightened;
    for (double x : xs) {
      // Sampled through jet's 256-entry table, as cmap_map calls the colormap.
      const double old = base.lut[lut_index(x, base.lut.size())][static_cast<size_t>(c)];
      const double now = old / 2 + 0.5;
      const auto& own = jet_breaks(c);
      const bool has = std::any_of(own.begin(), own.end(), [&](const Break& b) { return b.x == x; });
      if (has || now != old) lightened.push_back({x, now});
    }
    channels[static_cast<size_t>(c)] = lookup_table(1024, lightened);
  }
  return from_channels("light_jet", channels);
}

Colormap colormap_by_name(const std::string& name) {
  HIPT_CHECK(name == "jet", "heatmap: unknown colormap '{}' (supported: jet, drawn lightened as the reference)", name);
  return light_jet();
}

Tensor colorize(const ScoreMap& scores, const Colormap& cmap) {
  std::vector<uint8_t> rgb(scores.values.size() * 3);
  for (size_t i = 0; i < scores.values.size(); ++i) {
    const auto& colour = cmap.lut[lut_index(scores.values[i], cmap.lut.size())];
    for (size_t c = 0; c < 3; ++c) rgb[i * 3 + c] = static_cast<uint8_t>(colour[c] * 255);
  }
  return ops::from_vector(rgb, Shape{scores.height, scores.width, 3});
}

uint8_t add_weighted(uint8_t heat, uint8_t image, double alpha) {
  const float a = static_cast<float>(alpha), b = static_cast<float>(1.0 - alpha);
  const float v = std::fma(static_cast<float>(heat), a, static_cast<float>(image) * b);
  return static_cast<uint8_t>(std::clamp(std::nearbyint(v), 0.0f, 255.0f));
}

Tensor blend(const Tensor& heat, const Tensor& image, double alpha) {
  check_rgb(heat, "heat");
  check_rgb(image, "image");
  HIPT_CHECK(heat.shape() == image.shape(), "blend: heat {} vs image {}", heat.str(), image.str());
  const std::vector<uint8_t> h = ops::to_vector<uint8_t>(heat), im = ops::to_vector<uint8_t>(image);
  std::vector<uint8_t> out(h.size());
  for (size_t i = 0; i < h.size(); ++i) out[i] = add_weighted(h[i], im[i], alpha);
  return ops::from_vector(out, image.shape());
}

namespace {

// Pillow's resampling coefficients for one axis (Resample.c precompute_coeffs with the bicubic
// filter, a = -0.5, support 2 stretched by the downscale factor), in its 8-bit fixed point.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct AxisTaps {
  std::vector<int64_t> first, count;  // per output pixel: first input pixel, number of taps
  std::vector<int32_t> weights;       // count per pixel, `width` apart
  int64_t width = 0;
};

double pil_bicubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

AxisTaps pil_axis_taps(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0), support = 2.0 * filter_scale;
  AxisTaps t;
  t.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.weights.assign(static_cast<size_t>(t.width * out_size), 0);
  for (int64_t o = 0; o < out_size; ++o) {
    const double center = (static_cast<double>(o) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    std::vector<double> w(static_cast<size_t>(hi - lo));
    double total = 0;
    for (int64_t k = 0; k < hi - lo; ++k) total += w[static_cast<size_t>(k)] = pil_bicubic((static_cast<double>(k + lo) - center + 0.5) / filter_scale);
    for (int64_t k = 0; k < hi - lo; ++k) {
      const double v = (total != 0 ? w[static_cast<size_t>(k)] / total : w[static_cast<size_t>(k)]) * (1 << kPrecisionBits);
      t.weights[static_cast<size_t>(o * t.width + k)] = static_cast<int32_t>(v < 0 ? v - 0.5 : v + 0.5);
    }
    t.first.push_back(lo);
    t.count.push_back(hi - lo);
  }
  return t;
}

uint8_t pil_clip(int64_t acc) { return static_cast<uint8_t>(std::clamp<int64_t>(acc >> kPrecisionBits, 0, 255)); }

}  // namespace

Tensor downscale(const Tensor& image, int64_t scale) {
  check_rgb(image, "image");
  HIPT_CHECK(scale >= 1 && image.size(0) % scale == 0 && image.size(1) % scale == 0,
             "downscale: {} by {}", image.str(), scale);
  if (scale == 1) return image;
  const std::vector<uint8_t> in = ops::to_vector<uint8_t>(image);
  const int64_t h = image.size(0), w = image.size(1), oh = h / scale, ow = w / scale;
  // Pillow: the horizontal pass first, rounded to u8, then the vertical pass.
  const AxisTaps tx = pil_axis_taps(w, ow), ty = pil_axis_taps(h, oh);
  std::vector<uint8_t> mid(static_cast<size_t>(h * ow * 3)), out(static_cast<size_t>(oh * ow * 3));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < ow; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        int64_t acc = int64_t{1} << (kPrecisionBits - 1);
        for (int64_t k = 0; k < tx.count[static_cast<size_t>(x)]; ++k)
          acc += int64_t{in[static_cast<size_t>((y * w + tx.first[static_cast<size_t>(x)] + k) * 3 + c)]} *
                 tx.weights[static_cast<size_t>(x * tx.width + k)];
        mid[static_cast<size_t>((y * ow + x) * 3 + c)] = pil_clip(acc);
      }
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t x = 0; x < ow; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        int64_t acc = int64_t{1} << (kPrecisionBits - 1);
        for (int64_t k = 0; k < ty.count[static_cast<size_t>(y)]; ++k)
          acc += int64_t{mid[static_cast<size_t>(((ty.first[static_cast<size_t>(y)] + k) * ow + x) * 3 + c)]} *
                 ty.weights[static_cast<size_t>(y * ty.width + k)];
        out[static_cast<size_t>((y * ow + x) * 3 + c)] = pil_clip(acc);
      }
  return ops::from_vector(out, Shape{oh, ow, 3});
}

Tensor shift_up_left(const Tensor& image, int64_t shift) {
  check_rgb(image, "image");
  HIPT_CHECK(shift >= 0, "shift_up_left: shift {} < 0", shift);
  const std::vector<uint8_t> in = ops::to_vector<uint8_t>(image);
  const int64_t h = image.size(0), w = image.size(1);
  std::vector<uint8_t> out(in.size(), 255);
  for (int64_t y = 0; y + shift < h; ++y)
    for (int64_t x = 0; x + shift < w; ++x)
      for (int64_t c = 0; c < 3; ++c)
        out[static_cast<size_t>((y * w + x) * 3 + c)] = in[static_cast<size_t>(((y + shift) * w + x + shift) * 3 + c)];
  return ops::from_vector(out, image.shape());
}

}  // namespace hipt::heatmap
