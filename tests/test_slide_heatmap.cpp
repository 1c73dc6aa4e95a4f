// hipt slide-heatmap: the overview drawing (ranks, colours, blend only on the regions) and the
// command on a synthetic slide, including the refusal of another slide's features.
#include <nlohmann/json.hpp>

#include "hipt/pipeline/slide_heatmap.h"
#include "hipt/pipeline/synthetic_slide.h"
#include "hipt/train/slide_model_file.h"
#include "hipt/train/slide_trainer.h"
#include "io/png.h"
#include "slide_cohort.h"
#include "slide_testing.h"
#include "testing.h"

namespace hipt {
namespace {

TEST(SlideTrainHeatmap, PaintsRankedScoresOnTheRegionsOnly) {
  Thumbnail t;
  t.rgb = ops::full({8, 8, 3}, 200.0, DType::U8);
  t.downsample_x = t.downsample_y = 4;  // level 0 is 32 x 32
  const heatmap::Colormap cmap = heatmap::light_jet();
  // Two 16-px regions: (0, 0) scores 0.2 (rank 50), (16, 16) scores 0.8 (rank 100).
  Tensor out = draw_slide_heatmap(t, {0, 0, 16, 16}, 16, {0.2f, 0.8f}, cmap, 0.5);
  ASSERT_EQ(out.shape(), (Shape{8, 8, 3}));
  auto pixel = [&](int64_t y, int64_t x) {
    const std::vector<uint8_t> v = ops::to_vector<uint8_t>(out);
    const size_t i = static_cast<size_t>((y * 8 + x) * 3);
    return std::vector<uint8_t>{v[i], v[i + 1], v[i + 2]};
  };
  auto expected = [&](double score) {
    Tensor c = heatmap::colorize(heatmap::ScoreMap{1, 1, {score}}, cmap);
    const std::vector<uint8_t> rgb = ops::to_vector<uint8_t>(c);
    return std::vector<uint8_t>{heatmap::add_weighted(rgb[0], 200, 0.5), heatmap::add_weighted(rgb[1], 200, 0.5),
                                heatmap::add_weighted(rgb[2], 200, 0.5)};
  };
  EXPECT_EQ(pixel(0, 0), expected(0.5));
  EXPECT_EQ(pixel(3, 3), expected(0.5));
  EXPECT_EQ(pixel(7, 7), expected(1.0));
  EXPECT_EQ(pixel(4, 4), expected(1.0));
  EXPECT_NE(expected(0.5), expected(1.0));
  EXPECT_EQ(pixel(0, 7), (std::vector<uint8_t>{200, 200, 200}));  // no region there: the thumbnail
  EXPECT_EQ(pixel(7, 0), (std::vector<uint8_t>{200, 200, 200}));
  testing::expect_error([&] { draw_slide_heatmap(t, {0, 0}, 16, {0.2f, 0.8f}, cmap, 0.5); }, {"2 scores need 4"});
}

TEST(SlideTrainHeatmap, CommandDrawsTheSlideAndRefusesAnotherSlidesFeatures) {
  const std::string dir = testing::fresh_dir("slide_heatmap");
  const std::string slide = dir + "/tiny.svs";
  SyntheticSlideOptions so;
  so.width = 1024, so.height = 512;
  write_synthetic_slide(slide, so);
  testing::write_feature_file(dir, "tiny", testing::random_tensor({3, 192}, DType::F32, 4), "sha", "4096", Tensor(),
                              {{"slide", slide}, {"region_size_level0", "256"}});
  train::SlideTrainOptions o;
  auto model = train::make_slide_model(2, o, "");
  train::SlideModelInfo info;
  info.classes = {"a", "b"};
  info.vit4k_sha256 = "sha";
  train::save_slide_model(dir + "/model.safetensors", *model, info);
  const std::string args = " --model " + dir + "/model.safetensors --features " + dir + "/tiny.safetensors --out " +
                           dir + "/out --downsample 4";
  testing::CliRun r = testing::run_hipt("slide-heatmap " + slide + args);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json s = nlohmann::json::parse(r.out);
  EXPECT_EQ(s["regions"], 3);
  EXPECT_EQ(s["image_size"], (nlohmann::json{256, 128}));
  EXPECT_TRUE(s["predicted"] == "a" || s["predicted"] == "b");
  EXPECT_EQ(io::read_png(dir + "/out/tiny_slide_heatmap.png").shape(), (Shape{128, 256, 3}));
  EXPECT_EQ(io::read_png(dir + "/out/tiny_thumbnail.png").shape(), (Shape{128, 256, 3}));
  const std::string csv = testing::read_bytes(dir + "/out/tiny_attention.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "x,y,attention,rank");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  // Features named for another slide are refused.
  std::filesystem::copy_file(slide, dir + "/other.svs");
  testing::CliRun bad = testing::run_hipt("slide-heatmap " + dir + "/other.svs" + args);
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, ::testing::HasSubstr("holds the features of slide " + slide + ", not of " + dir + "/other.svs"));
}

}  // namespace
}  // namespace hipt
