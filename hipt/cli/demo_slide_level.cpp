// `hipt demo --slide-level`: the slide level in under a minute. A synthetic labelled cohort of
// feature files is written directly (no embedding), then 5-fold `hipt train-slide`,
// `hipt predict-slide` and `hipt slide-heatmap` run on it and on a synthetic slide, each step
// announced on stdout.
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "hipt/cli/commands.h"
#include "hipt/models/vit.h"
#include "hipt/pipeline/embed_pipeline.h"
#include "hipt/pipeline/synthetic_slide.h"
#include "hipt/pipeline/tiling.h"
#include "hipt/train/cross_validation.h"
#include "io/safetensors.h"

namespace hipt {
namespace {
namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The "tumour" signal: a fixed direction in the 192-d region-feature space.
std::vector<float> tumour_direction(uint64_t seed) {
  std::mt19937_64 gen(seed + 77);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> d(192);
  double norm = 0;
  for (float& v : d) {
    v = n(gen);
    norm += double(v) * v;
  }
  for (float& v : d) v = static_cast<float>(v * 8 / std::sqrt(norm));
  return d;
}

// Region features of one slide: noise, plus the tumour direction on the regions in `tumour`.
Tensor region_features(int64_t M, const std::vector<bool>& tumour, const std::vector<float>& dir,
                       std::mt19937_64& gen) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> h(static_cast<size_t>(M * 192));
  for (int64_t r = 0; r < M; ++r)
    for (int64_t d = 0; d < 192; ++d)
      h[static_cast<size_t>(r * 192 + d)] =
          n(gen) + (tumour[static_cast<size_t>(r)] ? dir[static_cast<size_t>(d)] : 0.f);
  return ops::from_vector(h, {M, 192});
}

void write_features(const std::string& path, const std::string& slide, const Tensor& h, const std::vector<int64_t>& xy,
                    const std::string& vit4k, const std::string& sha) {
  const int64_t M = h.size(0);
  io::write_safetensors(path, {{"region_features", h}, {"coords", ops::from_vector(xy, {M, 2})}},
                        {{"slide", slide},
                         {"region_size", "4096"},
                         {"region_size_level0", "4096"},
                         {"magnification", "20"},
                         {"target_magnification", "20"},
                         {"vit4k", vit4k},
                         {"vit4k_sha256", sha},
                         {"regions", std::to_string(M)},
                         {"weights", "synthetic: region features drawn at random, no embedding"},
                         {"version", HIPT_VERSION}});
}

}  // namespace

int run_slide_level_demo(const std::string& dir, uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  const int steps = 5;
  fs::create_directories(dir + "/cohort");
  const std::vector<float> dir_tumour = tumour_direction(seed);

  // 1: the demo slide and its regions (overlapping, step 2048, so the overview has detail).
  const std::string slide = dir + "/synthetic.svs";
  SyntheticSlideOptions so;
  so.seed = seed;
  fmt::print("[1/{}] Writing a synthetic slide ({}x{} at 20x) to {} and finding its 4096x4096 regions (step 2048)\n",
             steps, so.width, so.height, slide);
  std::fflush(stdout);
  auto t0 = std::chrono::steady_clock::now();
  write_synthetic_slide(slide, so);
  TilingOptions tiling;
  tiling.step = 2048;
  const RegionPlan plan = plan_regions(*io::Slide::open(slide), slide, tiling);
  HIPT_CHECK(!plan.regions.empty(), "demo: {}: no tissue found", slide);
  fmt::print("      {} regions in {:.1f} s\n", plan.regions.size(), seconds_since(t0));

  // 2: the cohort: feature files written directly, and the labels.
  const std::string vit4k = dir + "/weights/vit4k_random_init.safetensors";
  fs::create_directories(dir + "/weights");
  io::write_safetensors(vit4k, vit4k_xs(seed, true)->state_dict(), {{"weights", "random, untrained"}});
  const std::string sha = file_sha256(vit4k);
  const int cases = 60;
  fmt::print(
      "[2/{}] Writing a SYNTHETIC labelled cohort: {} cases (normal / tumour), feature files of 4 to 12 random\n"
      "      regions each, in which a tumour slide has 1 to 3 regions carrying a fixed 'tumour' direction\n"
      "      (no embedding: the region features are drawn, so this takes seconds) into {}/cohort\n",
      steps, cases, dir);
  std::fflush(stdout);
  std::mt19937_64 gen(seed);
  std::string labels = "case_id,slide_id,label\n";
  for (int c = 0; c < cases; ++c) {
    const bool tumour = c % 2 == 1;
    const int64_t M = 4 + static_cast<int64_t>(gen() % 9);
    std::vector<bool> marked(static_cast<size_t>(M), false);
    if (tumour)
      for (uint64_t k = 0, n = 1 + gen() % 3; k < n; ++k) marked[gen() % static_cast<uint64_t>(M)] = true;
    std::vector<int64_t> xy;
    for (int64_t r = 0; r < M; ++r) xy.insert(xy.end(), {4096 * (r % 4), 4096 * (r / 4)});
    const std::string id = fmt::format("case{:02d}_slide", c);
    write_features(dir + "/cohort/" + id + ".safetensors", id + ".svs", region_features(M, marked, dir_tumour, gen), xy,
                   vit4k, sha);
    labels += fmt::format("case{:02d},{},{}\n", c, id, tumour ? "tumour" : "normal");
  }
  std::ofstream(dir + "/labels.csv") << labels;

  // The demo slide's features: the regions of the right third of the tissue are tumour.
  std::vector<int64_t> xy;
  int64_t max_x = 0;
  for (const io::Point& p : plan.regions) max_x = std::max<int64_t>(max_x, p.x);
  std::vector<bool> marked;
  for (const io::Point& p : plan.regions) {
    xy.insert(xy.end(), {p.x, p.y});
    marked.push_back(p.x * 3 >= max_x * 2);
  }
  const std::string demo_features = dir + "/features/synthetic.safetensors";
  fs::create_directories(dir + "/features");
  write_features(demo_features, slide,
                 region_features(static_cast<int64_t>(plan.regions.size()), marked, dir_tumour, gen), xy, vit4k, sha);

  // 3: cross-validation.
  train::CrossValOptions cv;
  cv.features_dir = dir + "/cohort";
  cv.labels_csv = dir + "/labels.csv";
  cv.vit4k = vit4k;
  cv.out_dir = dir + "/train";
  cv.folds = 5;
  cv.overwrite = true;  // a rerun of the demo redoes its work
  cv.train.epochs = 10;
  fmt::print(
      "[3/{}] hipt train-slide --task subtype --folds 5 --epochs 10: HIPT_LGP_FC with the ViT-4K frozen, on the\n"
      "      region features, by the reference recipe, into {}\n",
      steps, cv.out_dir);
  std::fflush(stdout);
  t0 = std::chrono::steady_clock::now();
  const std::string summary =
      train::run_cross_validation(cv, [](const std::string& w) { fmt::print(stderr, "warning: {}\n", w); });
  fmt::print("      done in {:.1f} s; summary ({}/summary.json):\n      {}\n", seconds_since(t0), cv.out_dir, summary);

  // 4: predictions on the demo slide.
  const std::string model = cv.out_dir + "/fold_0/model.safetensors";
  fmt::print("[4/{}] hipt predict-slide with {} on {} into {}/predictions\n", steps, model, demo_features, dir);
  std::fflush(stdout);
  fmt::print("      {}\n",
             train::run_predict_slide(model, demo_features, dir + "/predictions", Device{},
                                      [](const std::string& w) { fmt::print(stderr, "warning: {}\n", w); }));

  // 5: the overview heatmap.
  fmt::print(
      "[5/{}] hipt slide-heatmap of {}: the model's attention over its regions (the right third carries the\n"
      "      tumour signal, so it should rank highest) into {}/slide_heatmap\n",
      steps, slide, dir);
  std::fflush(stdout);
  SlideHeatmapOptions heat;
  heat.slide = slide, heat.model = model, heat.features = demo_features, heat.out = dir + "/slide_heatmap";
  heat.downsample = 32;
  if (int rc = run_slide_heatmap(heat); rc != 0) return rc;

  fmt::print(
      "\nThe slide-level demo took {:.0f} s. Everything here is synthetic: it shows the commands working, not\n"
      "HIPT's results. On real data: hipt embed, then hipt train-slide --labels YOUR_LABELS.csv (see the README).\n",
      seconds_since(start));
  return 0;
}

}  // namespace hipt
