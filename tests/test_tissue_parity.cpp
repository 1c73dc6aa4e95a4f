// Tissue segmentation and region grid against OpenCV + CLAM's steps, on fixtures written by
// scripts/make_tissue_fixture.py (python3-opencv 4.6): masks bit for bit, every contour's length,
// first point, area, bounding box and parent, the kept regions and the region coordinates exactly.
#include <nlohmann/json.hpp>

#include <fstream>

#include "io/png.h"
#include "io/raster.h"
#include "io/slide.h"
#include "io/tissue.h"
#include "slide_testing.h"

namespace {
using namespace hipt;
using nlohmann::json;

json load(const std::string& name) {
  std::ifstream f(std::string(HIPT_TEST_DATA) + "/tissue/" + name);
  return json::parse(f);
}

io::TissueParams params_of(const json& j) {
  io::TissueParams p;
  p.a_t = j.value("a_t", p.a_t);
  p.a_h = j.value("a_h", p.a_h);
  p.ref_patch_size = j.value("ref_patch_size", p.ref_patch_size);
  p.use_otsu = j.value("use_otsu", false);
  return p;
}

// Everything the fixture recorded about `seg` and the grid.
void expect_matches(const io::Segmentation& seg, const json& want, const std::string& mask_png) {
  Tensor want_mask = io::read_png(std::string(HIPT_TEST_DATA) + "/tissue/" + mask_png);
  ASSERT_EQ(want_mask.dim(), 3);
  Tensor want_grey = ops::select(want_mask, 2, 0);
  ASSERT_EQ(seg.mask.shape(), want_grey.shape());
  std::vector<uint8_t> got = ops::to_vector<uint8_t>(seg.mask), exp = ops::to_vector<uint8_t>(want_grey);
  int64_t diff = 0, tissue = 0;
  for (size_t i = 0; i < got.size(); ++i) diff += got[i] != exp[i], tissue += got[i] != 0;
  EXPECT_EQ(diff, 0) << "mask pixels differing from OpenCV's";
  EXPECT_EQ(tissue, want["tissue_pixels"].get<int64_t>());
  if (want["otsu"].get<int>() >= 0) {
    EXPECT_EQ(seg.otsu_level, want["otsu"].get<int>());
  }

  std::vector<io::Contour> cs = io::find_contours(seg.mask);
  ASSERT_EQ(cs.size(), want["contours"].size());
  for (size_t i = 0; i < cs.size(); ++i) {
    const json& w = want["contours"][i];
    EXPECT_EQ(cs[i].points.size(), w["n"].get<size_t>()) << "contour " << i;
    EXPECT_EQ(cs[i].points[0].x, w["first"][0].get<int64_t>()) << "contour " << i;
    EXPECT_EQ(cs[i].points[0].y, w["first"][1].get<int64_t>()) << "contour " << i;
    EXPECT_EQ(io::contour_area(cs[i].points), w["area"].get<double>()) << "contour " << i;
    io::Rect r = io::bounding_rect(cs[i].points);
    EXPECT_EQ((std::vector<int64_t>{r.x, r.y, r.width, r.height}), w["bbox"].get<std::vector<int64_t>>()) << i;
    EXPECT_EQ(cs[i].parent, w["parent"].get<int>()) << "contour " << i;
  }
  ASSERT_EQ(seg.regions.size(), want["regions"].size());
  for (size_t i = 0; i < seg.regions.size(); ++i) {
    const json& w = want["regions"][i];
    io::Rect r = io::bounding_rect(seg.regions[i].outer);
    EXPECT_EQ(seg.regions[i].outer.size(), w["outer_n"].get<size_t>());
    EXPECT_EQ((std::vector<int64_t>{r.x, r.y, r.width, r.height}), w["outer_bbox"].get<std::vector<int64_t>>());
    ASSERT_EQ(seg.regions[i].holes.size(), w["holes"].size()) << "region " << i;
    for (size_t k = 0; k < seg.regions[i].holes.size(); ++k) {
      io::Rect hr = io::bounding_rect(seg.regions[i].holes[k]);
      EXPECT_EQ((std::vector<int64_t>{hr.x, hr.y, hr.width, hr.height}),
                w["holes"][k]["bbox"].get<std::vector<int64_t>>());
    }
  }
  io::GridParams gp;
  gp.region_size = want["region_size"].get<int64_t>();
  gp.step = want["step"].get<int64_t>();
  gp.use_padding = want["use_padding"].get<bool>();
  std::vector<io::Point> coords = io::region_grid(seg, want["width0"], want["height0"], gp);
  std::vector<std::vector<int64_t>> got_coords;
  for (const io::Point& p : coords) got_coords.push_back({p.x, p.y});
  EXPECT_EQ(got_coords, want["coords"].get<std::vector<std::vector<int64_t>>>());
}

TEST(TissueParity, SyntheticImageMatchesOpenCVAndClam) {
  Tensor img = io::read_png_rgb(std::string(HIPT_TEST_DATA) + "/tissue/synthetic.png");
  for (const char* name : {"synthetic", "synthetic_nopad", "synthetic_otsu"}) {
    SCOPED_TRACE(name);
    json want = load(std::string(name) + ".json");
    io::Segmentation seg = io::segment_tissue(img, want["downsample"][0], want["downsample"][1], params_of(want["params"]));
    expect_matches(seg, want, std::string(name) + "_mask.png");
  }
}

TEST(TissueParity, CmuSmallRegionMatchesOpenCVAndClam) {
  HIPT_REQUIRE_SAMPLES();
  auto slide = io::Slide::open(hipt::testing::sample("CMU-1-Small-Region.svs"));
  json want = load("cmu1.json");
  io::Segmentation seg = io::segment_slide(*slide, -1, params_of(want["params"]));
  expect_matches(seg, want, "cmu1_mask.png");
  // Stability: the tissue fraction of the seg level (an H&E region: a little over a third).
  EXPECT_NEAR(static_cast<double>(want["tissue_pixels"].get<int64_t>()) / static_cast<double>(seg.mask.numel()),
              0.3765, 5e-4);
}

}  // namespace
