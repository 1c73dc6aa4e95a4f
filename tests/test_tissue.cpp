// Tissue segmentation and tiling (io/tissue.h): each image operation against a brute-force or
// hand-computed reference; OpenCV parity on fixtures is in test_tissue_parity.cpp.
#include <algorithm>
#include <random>

#include "io/tissue.h"
#include "tensor/ops.h"
#include "testing.h"

namespace {
using namespace hipt;
using hipt::io::Point;
using hipt::io::Polygon;

Tensor random_u8(const Shape& shape, uint32_t seed, int lo = 0, int hi = 255) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<uint8_t> v(static_cast<size_t>(shape.numel()));
  for (auto& x : v) x = static_cast<uint8_t>(dist(gen));
  return ops::from_vector(v, shape);
}

// A u8 [h, w] mask from rows of '#' (foreground) and '.'.
Tensor mask_from(const std::vector<std::string>& rows) {
  std::vector<uint8_t> v;
  for (const auto& r : rows)
    for (char c : r) v.push_back(c == '#' ? 255 : 0);
  return ops::from_vector(v, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
}

TEST(TissueHsv, SaturationOfKnownColoursFollowsOpenCVFixedPoint) {
  // (r, g, b) -> S by hand from OpenCV's formula: (d · round(255·4096 / v) + 2048) >> 12.
  struct Case {
    uint8_t r, g, b, s;
  } cases[] = {{255, 0, 0, 255}, {0, 0, 0, 0}, {128, 128, 128, 0}, {255, 255, 255, 0},
               {200, 100, 50, 191},  // d 150, v 200: 150 · 5222 = 783300 -> 191
               {10, 9, 9, 26},       // d 1, v 10: 104448 -> 25.5 -> 26 (the rounding bit)
               {240, 236, 238, 4}};  // near-white: below CLAM's threshold 8
  for (const Case& c : cases) {
    Tensor px = ops::from_vector(std::vector<uint8_t>{c.r, c.g, c.b}, {1, 1, 3});
    EXPECT_EQ(ops::to_vector<uint8_t>(io::hsv_saturation(px))[0], c.s) << int(c.r) << "," << int(c.g) << "," << int(c.b);
  }
  // Every colour within 0.5 + 1/32 of 255·d/v in double (rounding, plus the table's fixed-point
  // error d · 0.5 / 4096), RGBA's alpha ignored.
  Tensor rgba = random_u8({64, 64, 4}, 3);
  std::vector<uint8_t> in = ops::to_vector<uint8_t>(rgba), s = ops::to_vector<uint8_t>(io::hsv_saturation(rgba));
  for (size_t i = 0; i < s.size(); ++i) {
    int v = std::max({in[4 * i], in[4 * i + 1], in[4 * i + 2]}), m = std::min({in[4 * i], in[4 * i + 1], in[4 * i + 2]});
    double want = v == 0 ? 0 : 255.0 * (v - m) / v;
    EXPECT_NEAR(s[i], want, 0.5 + 255 * 0.5 / 4096) << i;
  }
}

TEST(TissueMedian, MatchesBruteForceWithReplicatedBorder) {
  for (int k : {1, 3, 5, 7}) {
    Tensor img = random_u8({13, 17}, static_cast<uint32_t>(k), 0, 40);  // few levels: many ties
    std::vector<uint8_t> got = ops::to_vector<uint8_t>(io::median_blur(img, k)), src = ops::to_vector<uint8_t>(img);
    for (int y = 0; y < 13; ++y)
      for (int x = 0; x < 17; ++x) {
        std::vector<uint8_t> win;
        for (int dy = -k / 2; dy <= k / 2; ++dy)
          for (int dx = -k / 2; dx <= k / 2; ++dx)
            win.push_back(src[std::clamp(y + dy, 0, 12) * 17 + std::clamp(x + dx, 0, 16)]);
        std::nth_element(win.begin(), win.begin() + win.size() / 2, win.end());
        ASSERT_EQ(got[y * 17 + x], win[win.size() / 2]) << "k " << k << " at " << x << "," << y;
      }
  }
}

TEST(TissueThreshold, OtsuMatchesBetweenClassVarianceReference) {
  // Two levels: every t in [10, 199] separates them equally well; OpenCV keeps the first.
  std::vector<uint8_t> two(100, 10);
  std::fill(two.begin() + 40, two.end(), 200);
  EXPECT_EQ(io::otsu_threshold(ops::from_vector(two, {10, 10})), 10);
  for (uint32_t seed : {1u, 2u, 3u}) {
    Tensor img = random_u8({20, 30}, seed, 0, 120);
    std::vector<uint8_t> p = ops::to_vector<uint8_t>(img);
    double best = -1;
    int best_t = 0;
    for (int t = 0; t < 255; ++t) {
      double n0 = 0, s0 = 0, n1 = 0, s1 = 0;
      for (uint8_t v : p) (v <= t ? n0 : n1) += 1, (v <= t ? s0 : s1) += v;
      if (n0 == 0 || n1 == 0) continue;
      double q0 = n0 / p.size(), q1 = n1 / p.size(), d = s0 / n0 - s1 / n1;
      double sigma = q0 * q1 * d * d;
      if (sigma > best * (1 + 1e-12)) best = sigma, best_t = t;
    }
    EXPECT_EQ(io::otsu_threshold(img), best_t) << seed;
  }
  EXPECT_EQ(ops::to_vector<uint8_t>(io::threshold_binary(ops::from_vector(std::vector<uint8_t>{7, 8, 9}, {1, 3}), 8)),
            (std::vector<uint8_t>{0, 0, 255}));
}

TEST(TissueMorphology, CloseMatchesDefinitionAndBridgesSmallGaps) {
  for (int k : {2, 3, 4, 5}) {
    Tensor m = io::threshold_binary(random_u8({11, 14}, static_cast<uint32_t>(10 + k)), 180);
    std::vector<uint8_t> src = ops::to_vector<uint8_t>(m), got = ops::to_vector<uint8_t>(io::morph_close(m, k));
    auto pass = [&](const std::vector<uint8_t>& a, bool take_max) {
      std::vector<uint8_t> out(a.size());
      for (int y = 0; y < 11; ++y)
        for (int x = 0; x < 14; ++x) {
          int v = take_max ? 0 : 255;
          for (int dy = -k / 2; dy <= k - 1 - k / 2; ++dy)
            for (int dx = -k / 2; dx <= k - 1 - k / 2; ++dx) {
              int yy = y + dy, xx = x + dx;
              if (yy < 0 || yy >= 11 || xx < 0 || xx >= 14) continue;  // neutral border
              v = take_max ? std::max<int>(v, a[yy * 14 + xx]) : std::min<int>(v, a[yy * 14 + xx]);
            }
          out[y * 14 + x] = static_cast<uint8_t>(v);
        }
      return out;
    };
    EXPECT_EQ(got, pass(pass(src, true), false)) << "k " << k;
  }
  // A 4x4 closing fills a gap of 3 columns between two bars, not one of 4.
  Tensor three = mask_from({"........", ".#...#..", ".#...#..", ".#...#..", ".#...#..", "........"});
  EXPECT_EQ(ops::to_vector<uint8_t>(io::morph_close(three, 4))[2 * 8 + 3], 255);
  Tensor four = mask_from({".........", ".#....#..", ".#....#..", ".#....#..", ".#....#..", "........."});
  EXPECT_EQ(ops::to_vector<uint8_t>(io::morph_close(four, 4))[2 * 9 + 3], 0);
}

TEST(TissueContours, SquaresHolesAndNestedBlobs) {
  // The case was run through cv2.findContours(RETR_CCOMP, CHAIN_APPROX_NONE) (OpenCV 4.6):
  // expected order, first points, lengths, areas and parents are its output.
  std::vector<uint8_t> v(40 * 40, 0);
  auto fill = [&](int y0, int y1, int x0, int x1, uint8_t val) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) v[y * 40 + x] = val;
  };
  fill(2, 10, 2, 10, 1), fill(4, 6, 4, 6, 0), fill(5, 7, 7, 9, 0);     // blob with two holes
  fill(20, 35, 5, 30, 1), fill(22, 33, 7, 28, 0), fill(25, 30, 10, 20, 1);  // ring with a blob inside
  fill(12, 15, 30, 38, 1);
  std::vector<io::Contour> cs = io::find_contours(ops::from_vector(v, {40, 40}));
  struct Want {
    Point first;
    size_t n;
    double area;
    int parent;
    bool hole;
  } want[] = {{{10, 25}, 26, 36, -1, false}, {{5, 20}, 76, 336, -1, false}, {{6, 22}, 64, 262, 1, true},
              {{30, 12}, 18, 14, -1, false}, {{2, 2}, 28, 49, -1, false},   {{6, 5}, 8, 7, 4, true},
              {{3, 4}, 8, 7, 4, true}};
  ASSERT_EQ(cs.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(cs[i].points[0], want[i].first) << i;
    EXPECT_EQ(cs[i].points.size(), want[i].n) << i;
    EXPECT_EQ(io::contour_area(cs[i].points), want[i].area) << i;
    EXPECT_EQ(cs[i].parent, want[i].parent) << i;
    EXPECT_EQ(cs[i].is_hole, want[i].hole) << i;
  }
  // Single pixels, a line, and foreground touching the image edge (OpenCV 4 pads with zeros).
  std::vector<io::Contour> edge = io::find_contours(mask_from({"#..#", "...#", "#..#"}));
  ASSERT_EQ(edge.size(), 3u);
  EXPECT_EQ(edge[0].points, (Polygon{{0, 2}}));
  EXPECT_EQ(edge[1].points, (Polygon{{3, 0}, {3, 1}, {3, 2}, {3, 1}}));
  EXPECT_EQ(io::contour_area(edge[1].points), 0);
  EXPECT_EQ(io::bounding_rect(edge[1].points).height, 3);
  EXPECT_TRUE(io::find_contours(mask_from({"...", "..."})).empty());
}

TEST(TissueGeometry, AreaBoundingRectAndPointTestOnEdgesAndVertices) {
  Polygon sq{{0, 0}, {0, 4}, {4, 4}, {4, 0}};
  EXPECT_EQ(io::contour_area(sq), 16);
  EXPECT_EQ(io::contour_area(Polygon{{0, 0}, {4, 0}, {0, 3}}), 6);
  io::Rect r = io::bounding_rect(Polygon{{3, 5}, {7, 2}, {4, 9}});
  EXPECT_EQ(r.x, 3);
  EXPECT_EQ(r.y, 2);
  EXPECT_EQ(r.width, 5);
  EXPECT_EQ(r.height, 8);
  struct Case {
    double x, y;
    int want;
  } cases[] = {{2, 2, 1},   {0.5, 0.5, 1}, {4, 2, 0},   {0, 2, 0},  {2, 0, 0},   {2, 4, 0},  {0, 0, 0},
               {4, 4, 0},   {4, 0, 0},     {0, 4, 0},   {5, 2, -1}, {-1, -1, -1}, {2, 5, -1}, {4.5, 4, -1}};
  for (const Case& c : cases) EXPECT_EQ(io::point_polygon_test(sq, c.x, c.y), c.want) << c.x << "," << c.y;
  Polygon tri{{0, 0}, {10, 0}, {0, 10}};
  EXPECT_EQ(io::point_polygon_test(tri, 5, 5), 0);  // on the hypotenuse
  EXPECT_EQ(io::point_polygon_test(tri, 2, 2), 1);
  EXPECT_EQ(io::point_polygon_test(tri, 6, 6), -1);
  EXPECT_EQ(io::point_polygon_test(Polygon{}, 0, 0), -1);
}

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

TEST(TissueMagnification, FromMppOrObjectivePowerOrOverride) {
  using Props = std::map<std::string, std::string>;
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.mpp-x", "0.2527"}}, std::nullopt, "s"), 40);
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.mpp-x", "0.499"}, {"openslide.objective-power", "40"}},
                                    std::nullopt, "s"),
            20);  // mpp wins over a mislabelled AppMag
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.objective-power", "20"}}, std::nullopt, "s"), 20);
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.mpp-x", "0.25"}}, 20.0, "s"), 20);
  hipt::testing::expect_error([] { io::slide_magnification({}, std::nullopt, "a.svs"); },
                        {"a.svs", "unknown magnification", "--magnification"});
  hipt::testing::expect_error([] { io::slide_magnification(Props{{"openslide.mpp-x", "abc"}}, std::nullopt, "a.svs"); },
                        {"a.svs", "openslide.mpp-x", "abc"});
  hipt::testing::expect_error([] { io::slide_magnification({}, -5.0, "a.svs"); }, {"a.svs", "positive"});
  EXPECT_EQ(io::level0_region_size(40), 8192);
  EXPECT_EQ(io::level0_region_size(20), 4096);
  hipt::testing::expect_error([] { io::level0_region_size(30); }, {"level0_region_size", "whole multiple"});
  hipt::testing::expect_error([] { io::level0_region_size(10); }, {"level0_region_size", "whole multiple"});  // 0.5x
  hipt::testing::expect_error([] { io::level0_region_size(40, 0); }, {"level0_region_size", "positive"});
  // A magnification far past any scan: refused before the int64 conversion overflows.
  hipt::testing::expect_error([] { io::level0_region_size(1e308); }, {"level0_region_size", "larger than any slide"});
  hipt::testing::expect_error([] { io::level0_region_size(20 * 1048576.0 * 4096); },
                              {"level0_region_size", "larger than any slide"});
}

TEST(TissueRegionRead, FortyXIsATwoByTwoBoxAverageAndAlphaFollowsTheFlag) {
  int64_t asked_x = -1, asked_y = -1, asked_w = 0, asked_h = 0;
  // Level-0 pixel (x, y): r = x, g = y, b = x + y; columns >= 12 are transparent (past the edge).
  io::RegionReader reader = [&](int64_t x, int64_t y, int64_t w, int64_t h) {
    asked_x = x, asked_y = y, asked_w = w, asked_h = h;
    std::vector<uint8_t> v(static_cast<size_t>(w * h * 4));
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        uint8_t* p = &v[(r * w + c) * 4];
        bool inside = c < 12;
        p[0] = inside ? static_cast<uint8_t>(c) : 0, p[1] = inside ? static_cast<uint8_t>(r) : 0;
        p[2] = inside ? static_cast<uint8_t>(c + r) : 0, p[3] = inside ? 255 : 0;
      }
    return ops::from_vector(v, {h, w, 4});
  };
  Tensor out = io::read_region_at_target_mag(reader, 100, 200, 40, 8);
  EXPECT_EQ(asked_x, 100);
  EXPECT_EQ(asked_y, 200);
  EXPECT_EQ(asked_w, 16);
  EXPECT_EQ(asked_h, 16);
  ASSERT_EQ(out.shape(), (Shape{8, 8, 3}));
  std::vector<uint8_t> o = ops::to_vector<uint8_t>(out);
  // Output (1, 2): level-0 columns 2, 3 and rows 4, 5 -> r = 2.5 -> 3 (half up), g = 4.5 -> 5, b = 7.
  EXPECT_EQ(o[(2 * 8 + 1) * 3 + 0], 3);
  EXPECT_EQ(o[(2 * 8 + 1) * 3 + 1], 5);
  EXPECT_EQ(o[(2 * 8 + 1) * 3 + 2], 7);
  EXPECT_EQ(o[(0 * 8 + 7) * 3 + 0], 0);  // transparent -> black
  Tensor white = io::read_region_at_target_mag(reader, 0, 0, 40, 8, true);
  EXPECT_EQ(ops::to_vector<uint8_t>(white)[(0 * 8 + 7) * 3 + 1], 255);
  EXPECT_EQ(ops::to_vector<uint8_t>(white)[(2 * 8 + 1) * 3 + 1], 5);  // opaque pixels unchanged
  Tensor same = io::read_region_at_target_mag(reader, 0, 0, 20, 8);  // 20x: read as is
  EXPECT_EQ(asked_w, 8);
  EXPECT_EQ(ops::to_vector<uint8_t>(same)[(3 * 8 + 5) * 3 + 2], 8);
  io::RegionReader wrong = [](int64_t, int64_t, int64_t, int64_t) { return ops::zeros({2, 2, 4}, DType::U8); };
  hipt::testing::expect_error([&] { io::read_region_at_target_mag(wrong, 0, 0, 40, 8); },
                        {"read_region_at_target_mag", "expected u8 [16, 16, 4]"});
}

}  // namespace
