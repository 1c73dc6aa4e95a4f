// hipt demo --slide-level: the synthetic cohort is learnt, and the overview ranks the regions that
// carry the tumour signal (the right third of the demo slide) highest.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "slide_cohort.h"
#include "slide_testing.h"
#include "testing.h"

namespace hipt {
namespace {

TEST(SlideTrainDemo, SlideLevelDemoLearnsTheCohortAndDrawsTheOverviewHeavy) {
  const std::string dir = testing::fresh_dir("slide_demo");
  testing::CliRun r = testing::run_hipt("demo --slide-level --out " + dir + "/d");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("[5/5] hipt slide-heatmap"));
  const nlohmann::json s = nlohmann::json::parse(testing::read_bytes(dir + "/d/train/summary.json"));
  EXPECT_EQ(s["folds"], 5);
  EXPECT_GE(s["metrics"]["test_auc"]["mean"].get<double>(), 0.9);
  for (const char* f : {"/d/predictions/predictions.csv", "/d/predictions/attention/synthetic.csv",
                        "/d/slide_heatmap/synthetic_slide_heatmap.png", "/d/train/fold_4/model.safetensors"})
    EXPECT_TRUE(std::filesystem::exists(dir + f)) << f;
  // The highest-ranked region lies in the right third of the tissue (x of the regions' corners).
  std::istringstream csv(testing::read_bytes(dir + "/d/slide_heatmap/synthetic_attention.csv"));
  std::string line;
  std::getline(csv, line);
  int64_t max_x = 0, top_x = -1;
  double top = -1;
  while (std::getline(csv, line)) {
    int64_t x = 0, y = 0;
    double a = 0, rank = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%ld,%ld,%lf,%lf", &x, &y, &a, &rank), 4) << line;
    max_x = std::max(max_x, x);
    if (rank > top) top = rank, top_x = x;
  }
  EXPECT_GE(top_x * 3, max_x * 2);
}

TEST(SlideTrainDemo, SlideLevelRefusesInputsItDoesNotUse) {
  const std::string dir = testing::fresh_dir("slide_demo_bad");
  testing::CliRun r = testing::run_hipt("demo --slide-level --slide x.svs --out " + dir + "/d");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: demo: --slide-level makes its own slide, weights and cohort; --slide, --vit256 and --vit4k "
                   "do not apply\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/d"));
}

}  // namespace
}  // namespace hipt
