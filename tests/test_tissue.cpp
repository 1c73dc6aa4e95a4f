// Tissue segmentation and the region grid (io/tissue.h) on hand-made masks and images, and the
// errors of the whole pipeline; OpenCV parity on fixtures is in test_tissue_parity.cpp.
#include <vector>

#include "io/raster.h"
#include "io/tissue.h"
#include "tensor/ops.h"
#include "testing.h"

namespace {
using namespace hipt;
using hipt::io::Point;
using hipt::io::Polygon;

io::Segmentation rect_segmentation(int64_t w, int64_t h, int64_t x0, int64_t y0, int64_t x1, int64_t y1) {
  std::vector<uint8_t> v(static_cast<size_t>(w * h), 0);
  for (int64_t y = y0; y <= y1; ++y)
    for (int64_t x = x0; x <= x1; ++x) v[y * w + x] = 255;
  io::Segmentation seg;
  seg.mask = ops::from_vector(v, {h, w});
  for (const io::Contour& c : io::find_contours(seg.mask)) {
    if (c.parent != -1) continue;
    io::TissueRegion r;
    r.outer = r.outer_seg = c.points;
    seg.regions.push_back(r);
  }
  return seg;
}

TEST(TissueGrid, FourPointRuleOrderHolesPaddingAndTissueFraction) {
  // Tissue x 10..49, y 10..29; regions of 16 every 16: x 10, 26, 42 and y 10, 26. Four points at
  // c ± 4 with c = p + 8: for y = 26 they sit at rows 30 and 38, below the tissue: dropped.
  io::Segmentation seg = rect_segmentation(100, 60, 10, 10, 49, 29);
  io::GridParams gp;
  gp.region_size = 16, gp.step = 16;
  std::vector<Point> got = io::region_grid(seg, 100, 60, gp);
  EXPECT_EQ(got, (std::vector<Point>{{10, 10}, {26, 10}, {42, 10}}));
  // x outer, y inner; with step 8 the rows y = 18 (points at 22, 30: one inside) join.
  gp.step = 8;
  got = io::region_grid(seg, 100, 60, gp);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0], (Point{10, 10}));
  EXPECT_EQ(got[1], (Point{10, 18}));
  // A hole containing a region's centre removes it; one only touching the centre on its edge does not.
  gp.step = 16;
  seg.regions[0].holes = {Polygon{{30, 14}, {30, 22}, {38, 22}, {38, 14}}};  // centre (34, 18) strictly inside
  EXPECT_EQ(io::region_grid(seg, 100, 60, gp), (std::vector<Point>{{10, 10}, {42, 10}}));
  seg.regions[0].holes = {Polygon{{34, 14}, {34, 22}, {38, 22}, {38, 14}}};  // centre on the edge
  EXPECT_EQ(io::region_grid(seg, 100, 60, gp).size(), 3u);
  seg.regions[0].holes.clear();
  // Without padding the grid stops where a region would pass the slide: x <= 50 - 16.
  gp.use_padding = false;
  EXPECT_EQ(io::region_grid(seg, 50, 60, gp), (std::vector<Point>{{10, 10}, {26, 10}}));
  gp.use_padding = true;
  // Tissue fraction: region (42, 10) covers x 42..57 of which 42..49 is tissue, y 10..25 all tissue.
  EXPECT_DOUBLE_EQ(io::tissue_fraction(seg, 42, 10, 16), 0.5);
  EXPECT_DOUBLE_EQ(io::tissue_fraction(seg, 90, 50, 16), 0.0);  // mostly past the mask edge
  gp.min_tissue = 0.6;
  EXPECT_EQ(io::region_grid(seg, 100, 60, gp), (std::vector<Point>{{10, 10}, {26, 10}}));
  // With a downsample, mask pixels are ds level-0 pixels wide.
  seg.downsample_x = seg.downsample_y = 2;
  EXPECT_DOUBLE_EQ(io::tissue_fraction(seg, 20, 20, 32), 1.0);
}

TEST(TissueSegment, FiltersByAreaInReferencePatchesAndScalesToLevel0) {
  // Pink squares on white, 20x20 and 6x6; with ref patch 8 at ds (2, 2.5) a unit is int(64 / 5) = 12
  // seg-level pixels, so a_t = 10 keeps the first (area about 19²) and drops the second (< 25).
  const int64_t h = 60, w = 80;
  std::vector<uint8_t> v(static_cast<size_t>(h * w * 3), 245);
  auto paint = [&](int x0, int y0, int n) {
    for (int y = y0; y < y0 + n; ++y)
      for (int x = x0; x < x0 + n; ++x) v[(y * w + x) * 3 + 1] = 120;
  };
  paint(10, 10, 20);
  paint(50, 40, 6);
  io::TissueParams p;
  p.a_t = 10, p.a_h = 1, p.ref_patch_size = 8;
  io::Segmentation seg = io::segment_tissue(ops::from_vector(v, {h, w, 3}), 2.0, 2.5, p);
  ASSERT_EQ(seg.regions.size(), 1u);
  io::Rect box = io::bounding_rect(seg.regions[0].outer_seg);
  // The even 4x4 closing (anchor (2, 2) for both passes) moves borders by one pixel right and
  // down, as OpenCV's does (checked with cv2: boundingRect (11, 11, 20, 20)).
  EXPECT_EQ(box.x, 11);
  EXPECT_EQ(box.y, 11);
  EXPECT_EQ(box.width, 20);
  EXPECT_EQ(box.height, 20);
  io::Rect box0 = io::bounding_rect(seg.regions[0].outer);
  EXPECT_EQ(box0.x, 22);
  EXPECT_EQ(box0.y, 27);        // 11 · 2.5 = 27.5 -> 27
  EXPECT_EQ(box0.width, 39);    // 30 · 2 - 22 + 1
  EXPECT_EQ(box0.height, 49);   // 30 · 2.5 - 27 + 1
  EXPECT_EQ(ops::to_vector<uint8_t>(seg.mask)[15 * w + 15], 255);
  EXPECT_EQ(ops::to_vector<uint8_t>(seg.mask)[5 * w + 5], 0);
}

TEST(TissueErrors, BadInputsNameTheOpAndTheProblem) {
  Tensor f32 = ops::zeros({4, 4});
  hipt::testing::expect_error([&] { io::hsv_saturation(f32); }, {"hsv_saturation", "u8"});
  hipt::testing::expect_error([&] { io::hsv_saturation(ops::zeros({4, 4, 2}, DType::U8)); }, {"hsv_saturation", "[H, W, 3|4]"});
  hipt::testing::expect_error([&] { io::median_blur(ops::zeros({4, 4}, DType::U8), 4); }, {"median_blur", "odd"});
  hipt::testing::expect_error([&] { io::morph_close(ops::zeros({4, 4}, DType::U8), 0); }, {"morph_close", "positive"});
  hipt::testing::expect_error([&] { io::median_blur(ops::zeros({4, 4}, DType::U8), 257); }, {"median_blur", "over 255"});
  hipt::testing::expect_error([&] { io::morph_close(ops::zeros({4, 4}, DType::U8), 256); }, {"morph_close", "over 255"});
  hipt::testing::expect_error([&] { io::otsu_threshold(ops::zeros({0, 4}, DType::U8)); }, {"otsu_threshold", "empty"});
  hipt::testing::expect_error([&] { io::find_contours(ops::zeros({4, 4, 3}, DType::U8)); }, {"find_contours", "[H, W]"});
  Tensor img = ops::zeros({8, 8, 3}, DType::U8);
  hipt::testing::expect_error([&] { io::segment_tissue(img, 0, 1); }, {"segment_tissue", "downsample"});
  io::TissueParams p;
  p.mthresh = 6;
  hipt::testing::expect_error([&] { io::segment_tissue(img, 1, 1, p); }, {"segment_tissue", "mthresh"});
  io::Segmentation seg = io::segment_tissue(img, 1, 1);
  EXPECT_TRUE(seg.regions.empty());
  io::GridParams gp;
  gp.step = 0;
  hipt::testing::expect_error([&] { io::region_grid(seg, 8, 8, gp); }, {"region_grid", "step"});
  gp.step = 4, gp.min_tissue = 2;
  hipt::testing::expect_error([&] { io::region_grid(seg, 8, 8, gp); }, {"region_grid", "min_tissue"});
}

}  // namespace
