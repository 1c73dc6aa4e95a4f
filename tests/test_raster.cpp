// The OpenCV-equivalent image operations (io/raster.h): each against a brute-force or
// hand-computed reference; OpenCV parity on fixtures is in test_tissue_parity.cpp.
#include <algorithm>
#include <random>

#include "io/raster.h"
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

}  // namespace
