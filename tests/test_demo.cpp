// `hipt demo` run as a user runs it: in an empty working folder, checking the files it documents.
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hipt/pipeline/synthetic_slide.h"
#include "io/coords.h"
#include "io/safetensors.h"
#include "io/tiff_writer.h"
#include "tensor/ops.h"
#include "testing.h"

namespace fs = std::filesystem;

namespace {

struct CliResult {
  int code;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A fresh empty folder under the test temp dir.
std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs `hipt <args>` with `dir` as the working folder.
CliResult run_in(const std::string& dir, const std::string& args) {
  const std::string cmd = "cd '" + dir + "' && " + HIPT_CLI + " " + args + " >stdout.txt 2>stderr.txt";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir + "/stdout.txt"), slurp(dir + "/stderr.txt")};
}

void expect_one_error_line(const CliResult& r, const std::string& part) {
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr(part));
}

}  // namespace

TEST(Demo, BadArgumentsAreOneErrorLine) {
  const std::string dir = fresh_dir("demo_errors");
  expect_one_error_line(run_in(dir, "demo --vit256 w.safetensors"), "give both --vit256 and --vit4k");
  // Own slide and weights: nothing is written before the slide is opened.
  expect_one_error_line(run_in(dir, "demo --slide no-such.svs --vit256 a --vit4k b"), "no-such.svs");
  // A slide of bare glass: the demo stops after tiling, naming the slide.
  hipt::io::TiffWriteOptions w;
  w.aperio = true, w.objective_power = 20, w.mpp = 0.5;
  hipt::io::write_tiff_pyramid(dir + "/glass.svs", hipt::ops::full({1024, 1024, 3}, 245, hipt::DType::U8), w);
  expect_one_error_line(run_in(dir, "demo --slide glass.svs --vit256 a --vit4k b"), "glass.svs: no tissue found");
  expect_one_error_line(run_in(dir, "demo --size 0"), "--size");
  expect_one_error_line(run_in(dir, "demo --max-regions -1"), "--max-regions");
  // A size the heatmap step cannot take stops the demo before it writes anything (it used to fail
  // at step 5, after the slide, the weights, tiling and embedding).
  for (const char* size : {"300", "128"}) {
    const std::string out = dir + "/size" + size;
    expect_one_error_line(run_in(dir, std::string("demo --size ") + size + " --out " + out), "multiple of 256");
    EXPECT_FALSE(fs::exists(out)) << size;
  }
}

// The full demo with 512-pixel regions (4 patches each, so ViT-256 runs seconds, not minutes) and
// two of them embedded. Steps 1-3 (slide, weights, tiles) are checked on every branch; steps 4-5
// and the summary once embed is merged.
TEST(Demo, EndToEndOnTheSyntheticSlideHeavy) {
  const std::string dir = fresh_dir("demo_run");
  const CliResult r = run_in(dir, "demo --size 512 --max-regions 2");
  const std::string out = dir + "/hipt-demo/";
  for (const char* step : {"[1/5]", "[2/5]", "[3/5]", "[4/5]"}) EXPECT_THAT(r.out, ::testing::HasSubstr(step));
  EXPECT_THAT(r.out, ::testing::HasSubstr("RANDOM, UNTRAINED"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("--vit256 vit256_small_dino.pth --vit4k vit4k_xs_dino.pth"));

  EXPECT_GT(fs::file_size(out + "synthetic.svs"), 1'000'000u);
  for (const char* w : {"weights/vit256_random_init.safetensors", "weights/vit4k_random_init.safetensors"})
    EXPECT_THAT(hipt::io::read_safetensors_metadata(out + w).at("weights"), ::testing::HasSubstr("untrained")) << w;
  const auto regions = hipt::io::read_region_coords(out + "regions.csv").coords;
  EXPECT_GT(regions.size(), 20u) << "512-pixel regions over a whole tissue piece";
  const auto demo_regions = hipt::io::read_region_coords(out + "regions_demo.csv").coords;
  ASSERT_EQ(demo_regions.size(), 2u);
  EXPECT_EQ(demo_regions[0], regions[0]);
  EXPECT_GT(fs::file_size(out + "mask.png"), 0u);
  EXPECT_GT(fs::file_size(out + "thumbnail.png"), 0u);

  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("[5/5]"));
  const auto features = hipt::io::read_safetensors(out + "features/synthetic.safetensors");
  EXPECT_EQ(features.at("coords").shape(), hipt::Shape({2, 2}));
  EXPECT_EQ(features.at("patch_features").shape(), hipt::Shape({2, 4, 384}));
  EXPECT_EQ(features.at("region_features").shape(), hipt::Shape({2, 192}));
  int pngs = 0;
  for (const auto& e : fs::directory_iterator(out + "heatmaps")) pngs += e.path().extension() == ".png";
  EXPECT_GT(pngs, 0) << "no heatmap PNG in " << out << "heatmaps";
  EXPECT_THAT(r.out, ::testing::HasSubstr("features/synthetic.safetensors"));  // the summary lists the outputs
}
