// Pixel and property parity with libopenslide (Debian's 3.4.1), linked as a test oracle only, on
// JPEG and JPEG 2000 data (its libtiff RGBA fallback is wrong on non-JPEG edge tiles, so those are
// checked against tifffile/vips digests in test_slide.cpp instead). Positions are whole level
// pixels (x/downsample integral), where OpenSlide copies tiles exactly: partial edge tiles,
// negative and out-of-image regions included.
#include "slide_testing.h"

#ifdef HIPT_HAVE_OPENSLIDE
#include <openslide.h>

using hipt::io::Slide;
using hipt::testing::sample;

namespace {

struct OpenSlideHandle {
  openslide_t* osr;
  explicit OpenSlideHandle(const std::string& path) : osr(openslide_open(path.c_str())) {}
  ~OpenSlideHandle() {
    if (osr) openslide_close(osr);
  }
};

// OpenSlide's premultiplied ARGB made straight RGBA as openslide-python's argb2rgba does.
std::vector<uint8_t> openslide_rgba(openslide_t* osr, int64_t x, int64_t y, int level, int64_t w, int64_t h) {
  std::vector<uint32_t> argb(static_cast<size_t>(w * h));
  openslide_read_region(osr, argb.data(), x, y, level, w, h);
  std::vector<uint8_t> out(argb.size() * 4);
  for (size_t i = 0; i < argb.size(); ++i) {
    uint32_t p = argb[i];
    uint32_t a = p >> 24;
    uint32_t c[3] = {(p >> 16) & 255, (p >> 8) & 255, p & 255};
    for (int k = 0; k < 3; ++k) out[4 * i + k] = static_cast<uint8_t>(a == 0 ? 0 : a == 255 ? c[k] : 255 * c[k] / a);
    out[4 * i + 3] = static_cast<uint8_t>(a);
  }
  return out;
}

void expect_same_region(const Slide& ours, openslide_t* osr, int64_t x, int64_t y, int level, int64_t w, int64_t h) {
  hipt::Tensor got = ours.read_region(x, y, level, w, h);
  std::vector<uint8_t> want = openslide_rgba(osr, x, y, level, w, h);
  ASSERT_EQ(openslide_get_error(osr), nullptr) << openslide_get_error(osr);
  const uint8_t* g = got.data<uint8_t>();
  int64_t differ = 0, first = -1;
  for (size_t i = 0; i < want.size(); ++i)
    if (g[i] != want[i] && differ++ == 0) first = static_cast<int64_t>(i);
  EXPECT_EQ(differ, 0) << ours.path() << " level " << level << " (" << x << "," << y << ") " << w << "x" << h
                       << ": first difference at byte " << first;
}

void expect_same_properties(const Slide& ours, openslide_t* osr) {
  const auto& props = ours.properties();
  for (const char* const* name = openslide_get_property_names(osr); *name; ++name) {
    auto it = props.find(*name);
    ASSERT_NE(it, props.end()) << ours.path() << ": missing " << *name;
    EXPECT_EQ(it->second, openslide_get_property_value(osr, *name)) << ours.path() << ": " << *name;
  }
  EXPECT_EQ(ours.level_count(), openslide_get_level_count(osr));
  for (int i = 0; i < ours.level_count(); ++i) {
    EXPECT_EQ(ours.level(i).downsample, openslide_get_level_downsample(osr, i));
    for (double d : {0.5, 1.0, 1.5, 2.0, 3.9, 4.0, 7.0, 17.0, 100.0})
      EXPECT_EQ(ours.best_level_for_downsample(d), openslide_get_best_level_for_downsample(osr, d)) << d;
  }
}

}  // namespace

TEST(SlideVsOpenSlide, PropertiesOfEverySample) {
  HIPT_REQUIRE_SAMPLES();
  for (const char* name : {"CMU-1-Small-Region.svs", "tcga-cr-7395-01a-01-ts1-jp2k33005.svs", "small.svs", "boxes.tiff",
                           "yb10kx5k.zstd.tiff"}) {
    OpenSlideHandle osr(sample(name));
    ASSERT_TRUE(osr.osr) << name;
    expect_same_properties(*Slide::open(sample(name)), osr.osr);
  }
}

TEST(SlideVsOpenSlide, AperioJpegRegions) {
  HIPT_REQUIRE_SAMPLES();
  std::string path = sample("CMU-1-Small-Region.svs");
  OpenSlideHandle osr(path);
  auto s = Slide::open(path);
  const int64_t boxes[][4] = {{0, 0, 240, 240},     {720, 1200, 512, 300}, {17, 33, 256, 256},  {2000, 2800, 400, 300},
                              {-100, -50, 300, 200}, {2219, 2966, 5, 5},    {5000, 5000, 10, 10}, {-7, 1000, 2300, 3}};
  for (const auto& b : boxes) expect_same_region(*s, osr.osr, b[0], b[1], 0, b[2], b[3]);
}

TEST(SlideVsOpenSlide, AperioJpeg2000Regions) {
  HIPT_REQUIRE_SAMPLES();
  std::string path = sample("tcga-cr-7395-01a-01-ts1-jp2k33005.svs");
  OpenSlideHandle osr(path);
  auto s = Slide::open(path);
  const int64_t boxes[][4] = {{0, 0, 256, 256}, {300, 700, 400, 300}, {4300, 3400, 300, 300}, {-20, -30, 100, 100}};
  for (const auto& b : boxes) expect_same_region(*s, osr.osr, b[0], b[1], 0, b[2], b[3]);
  // Level 1 (ds 2.0005...): only x = y = 0 and negative positions are whole level pixels.
  expect_same_region(*s, osr.osr, 0, 0, 1, 600, 500);
  expect_same_region(*s, osr.osr, -9, -5, 1, 300, 200);
  expect_same_region(*s, osr.osr, 0, 0, 1, 2300, 1800);  // the whole level and past its edges
}

TEST(SlideVsOpenSlide, SmallSvsEdgeTile) {
  HIPT_REQUIRE_SAMPLES();
  std::string path = sample("small.svs");
  OpenSlideHandle osr(path);
  auto s = Slide::open(path);
  expect_same_region(*s, osr.osr, -3, -5, 0, 30, 30);
}

TEST(SlideVsOpenSlide, VipsJpegPyramids) {
  for (const char* q : {"75", "95"}) {
    std::string path = hipt::testing::vips_pyramid(std::string("osr_q") + q + ".tif",
                                                   std::string("--compression jpeg --Q ") + q +
                                                       " --tile-width 128 --tile-height 128");
    if (path.empty()) GTEST_SKIP() << "the vips CLI is not installed (libvips-tools)";
    OpenSlideHandle osr(path);
    ASSERT_TRUE(osr.osr) << path;
    auto s = Slide::open(path);
    expect_same_properties(*s, osr.osr);
    for (int level = 0; level < 3; ++level) {  // ds 1, 2, 4: exact
      int64_t ds = int64_t{1} << level;
      expect_same_region(*s, osr.osr, 0, 0, level, s->level(level).width + 3, s->level(level).height + 3);
      expect_same_region(*s, osr.osr, 130 * ds, 70 * ds, level, 90, 100);
      expect_same_region(*s, osr.osr, -5 * ds, 200 * ds, level, 150, 130);
    }
  }
}

#else
TEST(SlideVsOpenSlide, Skipped) { GTEST_SKIP() << "libopenslide not found at configure time"; }
#endif
