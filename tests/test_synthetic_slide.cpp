// The synthetic H&E-like slide of `hipt demo`: deterministic, laid out so that CLAM's default
// segmentation finds the documented regions, white outside the tissue, H&E colours inside.
#include <cstdio>
#include <cstring>

#include "hipt/pipeline/synthetic_slide.h"
#include "hipt/pipeline/tiling.h"
#include "io/slide.h"
#include "tensor/parallel.h"
#include "testing.h"

using namespace hipt;

namespace {

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data<uint8_t>(), b.data<uint8_t>(), size_t(a.numel())) == 0;
}

}  // namespace

TEST(SyntheticSlide, SameSeedSameBytesOnAnyThreadCountOtherSeedDiffers) {
  SyntheticSlideOptions o;
  o.width = 1536, o.height = 768, o.seed = 7;
  Tensor a = synthetic_slide(o);
  ASSERT_EQ(a.shape(), Shape({768, 1536, 3}));
  const int threads = num_threads();
  set_num_threads(1);
  Tensor serial = synthetic_slide(o);
  set_num_threads(threads);
  EXPECT_TRUE(same_bytes(a, serial)) << "the image depends on the thread count";
  EXPECT_TRUE(same_bytes(a, synthetic_slide(o)));
  o.seed = 8;
  Tensor b = synthetic_slide(o);
  const uint8_t *pa = a.data<uint8_t>(), *pb = b.data<uint8_t>();
  int64_t differ = 0;
  for (int64_t i = 0; i < a.numel(); ++i) differ += pa[i] != pb[i];
  EXPECT_GT(differ, a.numel() / 4) << "seeds 7 and 8 give nearly the same image";
}

TEST(SyntheticSlide, RejectsSizesOutOfRange) {
  SyntheticSlideOptions o;
  o.width = 100;
  hipt::testing::expect_error([&] { synthetic_slide(o); }, {"synthetic slide", "100x6144"});
  o.width = 70000, o.height = 70000;
  hipt::testing::expect_error([&] { synthetic_slide(o); }, {"2^31"});
  // Sides whose product overflows int64 (UBSan's signed-overflow report before the fix).
  o.width = o.height = int64_t{1} << 40;
  hipt::testing::expect_error([&] { synthetic_slide(o); }, {"2^31"});
  o.width = o.height = 512;
  hipt::testing::expect_error([&] { write_synthetic_slide("/nonexistent-dir/x.svs", o); }, {"/nonexistent-dir/x.svs"});
}

// The default slide through the writer, the reader and CLAM's default segmentation: the documented
// region count, and colours checked against the mask (blocks of 64x64 level-0 pixels per mask pixel,
// away from the mask border by 2 mask pixels, since the median blur and closing move it).
TEST(SyntheticSlide, DefaultSlideGivesDocumentedRegionsWhiteGlassAndHAndEColoursHeavy) {
  const std::string path = ::testing::TempDir() + "/synthetic_default.svs";
  const SyntheticSlideOptions o;
  const Tensor img = write_synthetic_slide(path, o);
  auto slide = io::Slide::open(path);
  EXPECT_EQ(slide->properties().at("openslide.objective-power"), "20");
  const RegionPlan plan = plan_regions(*slide, path, TilingOptions{});
  std::remove(path.c_str());
  EXPECT_EQ(plan.magnification, 20);
  EXPECT_EQ(plan.segmentation.regions.size(), 1u) << "the fragment should fall under a_t";
  ASSERT_EQ(static_cast<int>(plan.regions.size()), kSyntheticSlideRegions);
  for (const io::Point& p : plan.regions)
    EXPECT_GT(io::tissue_fraction(plan.segmentation, p.x, p.y, plan.region_size0), 0.25) << p.x << "," << p.y;

  const Tensor& mask = plan.segmentation.mask;
  const int64_t mh = mask.size(0), mw = mask.size(1);
  ASSERT_EQ(plan.segmentation.downsample_x, 64);
  ASSERT_EQ(plan.segmentation.downsample_y, 64);
  const uint8_t* m = mask.data<uint8_t>();
  auto all_around = [&](int64_t i, int64_t j, uint8_t v) {
    for (int64_t di = -2; di <= 2; ++di)
      for (int64_t dj = -2; dj <= 2; ++dj) {
        const int64_t a = std::clamp<int64_t>(i + di, 0, mh - 1), b = std::clamp<int64_t>(j + dj, 0, mw - 1);
        if (m[a * mw + b] != v) return false;
      }
    return true;
  };
  const uint8_t* px = img.data<uint8_t>();
  const int64_t W = img.size(1);
  int64_t glass = 0, glass_bad = 0, tissue = 0, coloured = 0, green_lowest = 0, purple = 0, pink = 0;
  for (int64_t i = 0; i < mh; ++i)
    for (int64_t j = 0; j < mw; ++j) {
      const bool bg = all_around(i, j, 0), fg = all_around(i, j, 255);
      if (!bg && !fg) continue;
      for (int64_t y = i * 64; y < (i + 1) * 64; ++y)
        for (int64_t x = j * 64; x < (j + 1) * 64; ++x) {
          const uint8_t* p = px + (y * W + x) * 3;
          const int r = p[0], g = p[1], b = p[2];
          if (bg) {
            ++glass;
            glass_bad += std::min({r, g, b}) < 240 || std::max({r, g, b}) > 250;
            continue;
          }
          ++tissue;
          if (std::min({r, g, b}) >= 235) continue;  // a lumen hole or pale stroma
          ++coloured;
          green_lowest += g < r && g < b;
          purple += b > r && g < 130;  // hematoxylin
          pink += r > b && b > g;      // eosin
        }
    }
  ASSERT_GT(glass, 10'000'000);
  ASSERT_GT(tissue, 10'000'000);
  EXPECT_EQ(glass_bad, 0) << "glass pixels outside 240..250";
  EXPECT_GT(double(coloured) / double(tissue), 0.9);
  EXPECT_GT(double(green_lowest) / double(coloured), 0.99) << "not H&E-like: green is not the weakest channel";
  EXPECT_GT(double(purple) / double(coloured), 0.02) << "too few nuclei";
  EXPECT_LT(double(purple) / double(coloured), 0.3) << "too many nuclei";
  EXPECT_GT(double(pink) / double(coloured), 0.6) << "too little eosin stroma";
}
