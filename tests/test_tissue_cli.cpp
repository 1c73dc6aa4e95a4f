// hipt tiles end to end: CSV, mask and thumbnail files, the JSON summary, the 40x handling, and
// the one-line errors.
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "io/png.h"
#include "io/tiff_writer.h"
#include "slide_testing.h"

namespace {
using namespace hipt;
namespace ht = hipt::testing;

struct TilesRun {
  int code;
  std::string out, err;
};

TilesRun hipt_tiles(const std::string& args) {
  const std::string out = ht::temp_path("hipt_tiles_stdout_XXXXXX"), err = ht::temp_path("hipt_tiles_stderr_XXXXXX");
  std::string o = out, e = err;
  close(mkstemp(o.data()));
  close(mkstemp(e.data()));
  int status = std::system((std::string(HIPT_CLI) + " tiles " + args + " >" + o + " 2>" + e).c_str());
  TilesRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ht::read_bytes(o), ht::read_bytes(e)};
  std::remove(o.c_str());
  std::remove(e.c_str());
  return r;
}

TEST(TissueCli, CmuSmallRegionWritesTheFixtureGridAndMask) {
  HIPT_REQUIRE_SAMPLES();
  const std::string csv = ht::temp_path("hipt_tiles_cmu.csv"), mask = ht::temp_path("hipt_tiles_cmu_mask.png");
  TilesRun r = hipt_tiles(ht::sample("CMU-1-Small-Region.svs") + " --out " + csv + " --mask " + mask +
                          " --size 256 --a-t 1 --a-h 1");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["magnification"], 20.0);
  EXPECT_EQ(summary["region_size_level0"], 256);
  EXPECT_EQ(summary["seg_level"], 0);
  // Same parameters as the OpenCV fixture: same coordinates, in order.
  std::ifstream f(std::string(HIPT_TEST_DATA) + "/tissue/cmu1.json");
  nlohmann::json want = nlohmann::json::parse(f);
  std::string want_csv = "x,y\n";
  for (const auto& c : want["coords"]) want_csv += std::to_string(c[0].get<int64_t>()) + "," + std::to_string(c[1].get<int64_t>()) + "\n";
  EXPECT_EQ(ht::read_bytes(csv), want_csv);
  EXPECT_EQ(summary["regions"], want["coords"].size());
  Tensor m = io::read_png(mask), fixture = io::read_png(std::string(HIPT_TEST_DATA) + "/tissue/cmu1_mask.png");
  EXPECT_EQ(ops::to_vector<uint8_t>(m), ops::to_vector<uint8_t>(fixture));
  for (const std::string& p : {csv, mask}) std::remove(p.c_str());
}

// A 40x slide (mpp 0.25) made with our writer: regions of 64 px at 20x are 128 level-0 pixels.
TEST(TissueCli, FortyXSlideDoublesTheLevel0RegionAndStepAndUnknownMagnificationIsAnError) {
  Tensor img = io::read_png_rgb(std::string(HIPT_TEST_DATA) + "/tissue/synthetic.png");
  const std::string svs = ht::temp_path("hipt_tiles_40x.svs"), tif = ht::temp_path("hipt_tiles_nomag.tif"),
                    csv = ht::temp_path("hipt_tiles_40x.csv"), thumb = ht::temp_path("hipt_tiles_40x.png");
  io::TiffWriteOptions o;
  o.aperio = true, o.mpp = 0.25, o.objective_power = 40, o.compression = io::TiffCompression::Deflate;
  io::write_tiff_pyramid(svs, img, o);
  TilesRun r = hipt_tiles(svs + " --out " + csv + " --thumbnail " + thumb + " --size 64 --a-t 0.01 --a-h 0.001");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json s = nlohmann::json::parse(r.out);
  EXPECT_EQ(s["magnification"], 40.0);
  EXPECT_EQ(s["region_size_level0"], 128);
  EXPECT_EQ(s["step_level0"], 128);
  EXPECT_GT(s["regions"].get<int>(), 0);
  EXPECT_EQ(ht::read_bytes(csv).rfind("x,y\n", 0), 0u);
  // The thumbnail is the segmentation level (the pyramid's 160x120 level 1, the best for
  // downsample 64) with the regions outlined in red.
  EXPECT_EQ(s["seg_level"], 1);
  Tensor t = io::read_png(thumb);
  ASSERT_EQ(t.shape(), (Shape{120, 160, 3}));
  std::vector<uint8_t> px = ops::to_vector<uint8_t>(t);
  int64_t red = 0;
  for (size_t i = 0; i < px.size(); i += 3) red += px[i] == 220 && px[i + 1] == 0 && px[i + 2] == 0;
  EXPECT_GT(red, 128);
  TilesRun forced = hipt_tiles(svs + " --out " + csv + " --size 64 --a-t 0.01 --magnification 20");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(nlohmann::json::parse(forced.out)["region_size_level0"], 64);

  o.aperio = false, o.mpp.reset(), o.objective_power.reset();
  io::write_tiff_pyramid(tif, img, o);
  TilesRun unknown = hipt_tiles(tif + " --out " + csv);
  EXPECT_NE(unknown.code, 0);
  EXPECT_THAT(unknown.err, ::testing::HasSubstr("unknown magnification"));
  EXPECT_EQ(std::count(unknown.err.begin(), unknown.err.end(), '\n'), 1) << unknown.err;
  for (const std::string& p : {svs, tif, csv, thumb}) std::remove(p.c_str());
}

// A slide path that is not UTF-8 (Latin-1 file names exist) still gives the JSON summary, with U+FFFD.
TEST(TissueCli, NonUtf8SlidePathStillPrintsTheSummary) {
  Tensor img = io::read_png_rgb(std::string(HIPT_TEST_DATA) + "/tissue/synthetic.png");
  const std::string svs = ht::temp_path("hipt_tiles_latin1_\xe9.svs"), csv = ht::temp_path("hipt_tiles_latin1.csv");
  io::TiffWriteOptions o;
  o.aperio = true, o.mpp = 0.5, o.objective_power = 20;
  io::write_tiff_pyramid(svs, img, o);
  TilesRun r = hipt_tiles(svs + " --out " + csv + " --size 64 --a-t 0.01");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  nlohmann::json s = nlohmann::json::parse(r.out);
  EXPECT_NE(s["slide"].get<std::string>().find("latin1_\xef\xbf\xbd.svs"), std::string::npos);
  for (const std::string& p : {svs, csv}) std::remove(p.c_str());
}

TEST(TissueCli, BadArgumentsAreOneErrorLine) {
  Tensor img = io::read_png_rgb(std::string(HIPT_TEST_DATA) + "/tissue/synthetic.png");
  const std::string svs = ht::temp_path("hipt_tiles_err.svs"), csv = ht::temp_path("hipt_tiles_err.csv");
  io::TiffWriteOptions o;
  o.aperio = true, o.mpp = 0.5, o.objective_power = 20;
  io::write_tiff_pyramid(svs, img, o);
  ht::write_bytes(ht::temp_path("hipt_tiles_file"), "x");
  struct Case {
    std::string args, says;
  } cases[] = {{ht::temp_path("no_such.svs") + " --out " + csv, "no_such.svs"},
               {svs + " --out " + csv + " --seg-level 7", "segmentation level 7 does not exist"},
               {svs + " --out " + csv + " --mthresh 4", "mthresh must be odd"},
               {svs + " --out " + csv + " --mthresh 100001", "must be at most 255"},  // hours of median blur
               {svs + " --out " + csv + " --close 100000", "must be at most 255"},
               {svs + " --out " + csv + " --magnification 30", "hipt_tiles_err.svs: level0_region_size: magnification 30"},
               {svs + " --out " + ht::temp_path("hipt_tiles_file") + "/x.csv", "hipt_tiles_file"},
               {svs + " --out " + csv + " --min-tissue 2", "--min-tissue"},
               {svs, "--out"}};
  for (const Case& c : cases) {
    TilesRun r = hipt_tiles(c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << c.args << ": " << r.err;
    EXPECT_THAT(r.err, ::testing::HasSubstr(c.says)) << c.args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
  }
  EXPECT_FALSE(ht::path_exists(csv));
  for (const std::string& p : {svs, ht::temp_path("hipt_tiles_file")}) std::remove(p.c_str());
}

}  // namespace
