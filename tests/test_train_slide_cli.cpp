// hipt train-slide and hipt predict-slide as a user runs them, on tiny synthetic cohorts of
// feature files: the outputs, their formats, resuming an interrupted cross-validation, errors.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "hipt/models/vit.h"
#include "hipt/pipeline/embed_pipeline.h"
#include "hipt/train/slide_model_file.h"
#include "slide_cohort.h"
#include "slide_testing.h"
#include "testing.h"

namespace hipt {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_hipt;

// 18 slides of 16 cases (two cases have two slides), M = 3..5 regions, class "tumor" marked in
// one region; a ViT-4K checkpoint whose hash the feature files carry.
struct Cohort {
  std::string dir, features, vit4k, labels, survival_labels;
};

Cohort make_cohort(const std::string& name) {
  Cohort c;
  c.dir = testing::fresh_dir(name);
  c.features = c.dir + "/features";
  fs::create_directories(c.features);
  c.vit4k = c.dir + "/vit4k.safetensors";
  io::write_safetensors(c.vit4k, vit4k_xs(0, true)->state_dict());
  const std::string sha = file_sha256(c.vit4k);
  std::string labels = "case_id,slide_id,label\n", surv = "case_id,slide_id,survival_months,censorship\n";
  std::mt19937 gen(3);
  std::normal_distribution<float> noise(0, 1);
  for (int i = 0; i < 18; ++i) {
    const int case_id = i < 16 ? i : i - 16;  // slides 16 and 17 belong to cases 0 and 1
    const bool tumor = case_id % 2 == 1;
    const int64_t M = 3 + i % 3;
    std::vector<float> h(static_cast<size_t>(M * 192));
    for (float& v : h) v = noise(gen);
    if (tumor)
      for (int d = 0; d < 16; ++d) h[static_cast<size_t>(192 + d)] += 3;
    const std::string slide = fmt::format("slide{:02d}", i);
    testing::write_feature_file(c.features, slide, ops::from_vector(h, {M, 192}), sha);
    labels += fmt::format("case{},{}.svs,{}\n", case_id, slide, tumor ? "tumor" : "normal");
    surv += fmt::format("case{},{},{},{}\n", case_id, slide, 10 + case_id * (tumor ? 1 : 3), case_id % 4 == 0 ? 1 : 0);
  }
  c.labels = c.dir + "/labels.csv";
  c.survival_labels = c.dir + "/survival.csv";
  testing::write_text(c.labels, labels);
  testing::write_text(c.survival_labels, surv);
  return c;
}

std::string train_args(const Cohort& c, const std::string& out, const std::string& extra = "", int epochs = 2) {
  return "train-slide --task subtype --features " + c.features + " --labels " + c.labels + " --vit4k " + c.vit4k +
         " --out " + out + " --folds 3 --threads 2 --epochs " + std::to_string(epochs) + " " + extra;
}

TEST(CrossValCli, TrainsPredictsAndWritesEveryOutput) {
  const Cohort c = make_cohort("cv_cli");
  const std::string out = c.dir + "/run";
  testing::CliRun r = run_hipt(train_args(c, out));
  ASSERT_EQ(r.code, 0) << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["task"], "subtype");
  EXPECT_EQ(s["folds"], 3);
  EXPECT_EQ(s["reported"], "test_auc");
  EXPECT_EQ(s["cases"], 16);
  EXPECT_EQ(s["bags"], 18);
  EXPECT_EQ(s["classes"], (json{"normal", "tumor"}));
  EXPECT_EQ(s["metrics"]["test_auc"]["folds"].size(), 3u);
  EXPECT_TRUE(s["metrics"]["test_auc"]["mean"].is_number());
  EXPECT_TRUE(s["metrics"].contains("val_loss"));
  EXPECT_THAT(r.err, ::testing::HasSubstr("fold 3/3"));
  EXPECT_EQ(json::parse(testing::read_bytes(out + "/summary.json"))["metrics"], s["metrics"]);
  for (int k = 0; k < 3; ++k) {
    const std::string fold = out + fmt::format("/fold_{}", k);
    const json m = json::parse(testing::read_bytes(fold + "/metrics.json"));
    EXPECT_EQ(m["train_loss"].size(), 2u);
    EXPECT_TRUE(m["test"].contains("balanced_accuracy"));
    const std::string csv = testing::read_bytes(fold + "/predictions.csv");
    EXPECT_EQ(csv.substr(0, csv.find('\n')), "split,case_id,slide_id,label,predicted,p_normal,p_tumor");
  }
  // The checkpoint: the whole model and what is needed to use it.
  train::LoadedSlideModel m = train::load_slide_model(out + "/fold_0/model.safetensors");
  EXPECT_EQ(m.info.classes, (std::vector<std::string>{"normal", "tumor"}));
  EXPECT_FALSE(m.info.finetune_vit4k);
  EXPECT_EQ(m.info.vit4k_sha256, file_sha256(c.vit4k));
  EXPECT_EQ(json::parse(m.info.config_json)["epochs"], 2);
  EXPECT_EQ(io::read_safetensors(out + "/fold_0/model.safetensors").count("local_vit.pos_embed"), 1u);

  const std::string pred = c.dir + "/pred";
  testing::CliRun p = run_hipt("predict-slide --model " + out + "/fold_0/model.safetensors --features " + c.features +
                               " --out " + pred);
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(json::parse(p.out)["slides"], 18);
  const std::string csv = testing::read_bytes(pred + "/predictions.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "slide,p_normal,p_tumor,predicted");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 19);
  const std::string att = testing::read_bytes(pred + "/attention/slide04.csv");
  EXPECT_EQ(att.substr(0, att.find('\n')), "x,y,attention");
  EXPECT_EQ(std::count(att.begin(), att.end(), '\n'), 1 + 4);  // slide 4 has 3 + 4 % 3 = 4 regions
  EXPECT_THAT(att, ::testing::HasSubstr("\n4096,0,"));
}

TEST(CrossValCli, AnInterruptedRunResumedGivesTheSameSummary) {
  const Cohort c = make_cohort("cv_resume");
  const std::string full = c.dir + "/full", cut = c.dir + "/cut";
  ASSERT_EQ(run_hipt(train_args(c, full)).code, 0);
  ASSERT_EQ(run_hipt(train_args(c, cut)).code, 0);
  // Stopped during fold 1: its model written but not its metrics; fold 2 and the summary never written.
  fs::remove(cut + "/fold_1/metrics.json");
  fs::remove_all(cut + "/fold_2");
  fs::remove(cut + "/summary.json");
  const auto fold0_time = fs::last_write_time(cut + "/fold_0/model.safetensors");
  testing::CliRun r = run_hipt(train_args(c, cut));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["folds_reused"], 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("fold 1/3: finished earlier, kept"));
  EXPECT_EQ(fs::last_write_time(cut + "/fold_0/model.safetensors"), fold0_time);
  EXPECT_EQ(testing::read_bytes(cut + "/summary.json"),
            testing::read_bytes(full + "/summary.json")
                .replace(testing::read_bytes(full + "/summary.json").find(full), full.size(), cut));
  for (int k = 0; k < 3; ++k)
    EXPECT_EQ(testing::read_bytes(cut + fmt::format("/fold_{}/predictions.csv", k)),
              testing::read_bytes(full + fmt::format("/fold_{}/predictions.csv", k)));
  // Other settings do not mix with finished folds.
  testing::CliRun other = run_hipt(train_args(c, cut, "", 3));
  EXPECT_EQ(other.code, 1);
  EXPECT_THAT(other.err, ::testing::HasSubstr("fold_0/metrics.json holds the results of a run with other settings"));
  EXPECT_EQ(run_hipt(train_args(c, cut, "--overwrite", 1)).code, 0);
}

TEST(CrossValCli, SurvivalReportsValidationAndTestCindex) {
  const Cohort c = make_cohort("cv_surv");
  testing::CliRun r =
      run_hipt("train-slide --task survival --features " + c.features + " --labels " + c.survival_labels + " --vit4k " +
               c.vit4k + " --out " + c.dir + "/run --folds 3 --epochs 1 --gc 4 --alpha 0.2");
  ASSERT_EQ(r.code, 0) << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["reported"], "val_c_index");
  EXPECT_EQ(s["bin_edges"].size(), 5u);
  EXPECT_EQ(s["bags"], 16);  // one per case
  EXPECT_TRUE(s["metrics"].contains("test_c_index"));
  EXPECT_TRUE(s["metrics"].contains("val_c_index"));
  const std::string csv = testing::read_bytes(c.dir + "/run/fold_0/predictions.csv");
  EXPECT_EQ(
      csv.substr(0, csv.find('\n')),
      "split,case_id,slide_id,survival_months,censorship,bin,risk,predicted_bin,hazard_0,hazard_1,hazard_2,hazard_3");
  EXPECT_THAT(csv, ::testing::HasSubstr(",case0,slide00;slide16,"));  // a case's slides in one bag
}

TEST(CrossValCli, BadInputsAreOneErrorLine) {
  const Cohort c = make_cohort("cv_bad");
  testing::write_text(c.dir + "/missing.csv", "case_id,slide_id,label\ncase0,slide00,a\ncase1,nope,b\n");
  testing::CliRun r = run_hipt("train-slide --task subtype --features " + c.features + " --labels " + c.dir +
                               "/missing.csv --vit4k " + c.vit4k + " --out " + c.dir + "/run --folds 2");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("line 3: slide 'nope' has no feature file"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_hipt(train_args(c, c.dir + "/run2", "--splits " + c.dir));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("--folds and --splits exclude each other"));
  r = run_hipt("predict-slide --model " + c.vit4k + " --features " + c.features + " --out " + c.dir + "/p");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("no 'format' in the metadata"));
}

}  // namespace
}  // namespace hipt
