// Pyramids written by `vips tiffsave --tile --pyramid` in every compression the reader takes
// through libtiff (and JPEG through our own decoder), read back against the source image.
// Skips when the vips CLI is absent.
#include "slide_testing.h"

using hipt::io::Slide;
using hipt::testing::digest16;
using hipt::testing::vips_pyramid;

namespace {

// RGB source -> RGBA with alpha 255, for byte comparisons with read_region.
hipt::Tensor opaque_rgba(const hipt::Tensor& rgb) {
  int64_t h = rgb.shape()[0], w = rgb.shape()[1];
  hipt::Tensor out = hipt::ops::empty({h, w, 4}, hipt::DType::U8);
  const uint8_t* s = rgb.data<uint8_t>();
  uint8_t* o = out.data<uint8_t>();
  for (int64_t i = 0; i < h * w; ++i) {
    o[4 * i] = s[3 * i];
    o[4 * i + 1] = s[3 * i + 1];
    o[4 * i + 2] = s[3 * i + 2];
    o[4 * i + 3] = 255;
  }
  return out;
}

hipt::Tensor whole_level(const Slide& s, int level) {
  return s.read_region(0, 0, level, s.level(level).width, s.level(level).height);
}

}  // namespace

TEST(SlideVips, LosslessPyramidsReadBackExactly) {
  const std::pair<const char*, const char*> kinds[] = {
      {"pyr_none.tif", "--compression none --tile-width 128 --tile-height 128"},
      {"pyr_deflate.tif", "--compression deflate --tile-width 128 --tile-height 128"},
      {"pyr_lzw.tif", "--compression lzw --predictor horizontal --tile-width 128 --tile-height 128"},
      {"pyr_zstd.tif", "--compression zstd --tile-width 128 --tile-height 128"},
      {"pyr_deflate_big.tif", "--compression deflate --tile-width 128 --tile-height 128 --bigtiff"},
  };
  std::string want0 = digest16(opaque_rgba(hipt::testing::test_card()));
  std::vector<std::string> reference_levels;
  for (const auto& [name, args] : kinds) {
    std::string path = vips_pyramid(name, args);
    if (path.empty()) GTEST_SKIP() << "the vips CLI is not installed (libvips-tools)";
    auto s = Slide::open(path);
    EXPECT_EQ(s->vendor(), "generic-tiff") << name;
    // 700x500 -> 350x250 -> 175x125 -> 87x62 -> ... (vips rounds down): fractional downsamples.
    ASSERT_GE(s->level_count(), 4) << name;
    EXPECT_EQ(s->level(1).width, 350);
    EXPECT_EQ(s->level(3).width, 87);
    EXPECT_EQ(s->level(3).height, 62);
    EXPECT_DOUBLE_EQ(s->level(3).downsample, (700.0 / 87 + 500.0 / 62) / 2);
    EXPECT_EQ(digest16(whole_level(*s, 0)), want0) << name;
    // Reduced levels: the same bytes whatever the compression (vips shrank the same image).
    std::vector<std::string> levels;
    for (int i = 1; i < s->level_count(); ++i) levels.push_back(digest16(whole_level(*s, i)));
    if (reference_levels.empty()) reference_levels = levels;
    EXPECT_EQ(levels, reference_levels) << name;
  }
}

TEST(SlideVips, JpegPyramidsAreCloseToTheSource) {
  for (const char* q : {"75", "95"}) {  // Q75: YCbCr 4:2:0 tiles; Q >= 90: Photometric RGB tiles
    std::string path = vips_pyramid(std::string("pyr_q") + q + ".tif",
                                    std::string("--compression jpeg --Q ") + q + " --tile-width 128 --tile-height 128");
    if (path.empty()) GTEST_SKIP() << "the vips CLI is not installed (libvips-tools)";
    auto s = Slide::open(path);
    hipt::Tensor got = whole_level(*s, 0);
    hipt::Tensor want = opaque_rgba(hipt::testing::test_card());
    const uint8_t* g = got.data<uint8_t>();
    const uint8_t* w = want.data<uint8_t>();
    double err = 0;
    for (int64_t i = 0; i < want.shape().numel(); ++i) err += std::abs(int(g[i]) - int(w[i]));
    err /= static_cast<double>(want.shape().numel());
    // The XOR pattern is hard for JPEG (Q75 measured 14.9 mean abs error, Q95 under 6); a wrong
    // colour space is off by tens of levels on every pixel.
    EXPECT_LT(err, std::string(q) == "75" ? 20.0 : 6.0) << q;
  }
}

TEST(SlideVips, SubIfdPyramidIsOneLevelAsInOpenSlide) {
  std::string path = vips_pyramid("pyr_subifd.tif", "--compression deflate --tile-width 128 --tile-height 128 --subifd");
  if (path.empty()) GTEST_SKIP() << "the vips CLI is not installed (libvips-tools)";
  EXPECT_EQ(Slide::open(path)->level_count(), 1);
}

TEST(SlideVips, FractionalPositionsAreTruncated) {
  std::string path = vips_pyramid("pyr_frac.tif", "--compression deflate --tile-width 128 --tile-height 128");
  if (path.empty()) GTEST_SKIP() << "the vips CLI is not installed (libvips-tools)";
  auto s = Slide::open(path);
  const int level = 3;  // ds = (700/87 + 500/62)/2 = 8.055..., never whole
  const double ds = s->level(level).downsample;
  hipt::Tensor all = whole_level(*s, level);
  for (int64_t x : {int64_t{1}, int64_t{50}, int64_t{333}})
    for (int64_t y : {int64_t{7}, int64_t{101}}) {
      hipt::Tensor r = s->read_region(x, y, level, 20, 10);
      int64_t lx = static_cast<int64_t>(x / ds), ly = static_cast<int64_t>(y / ds);
      hipt::Tensor want = hipt::ops::contiguous(hipt::ops::slice(hipt::ops::slice(all, 0, ly, ly + 10), 1, lx, lx + 20));
      EXPECT_EQ(digest16(r), digest16(want)) << x << "," << y;
    }
}
