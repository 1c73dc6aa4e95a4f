// hipt/train/slide_trainer: one training step against PyTorch (scripts/make_slide_train_fixture.py),
// and learning on synthetic cohorts whose labels depend on a few regions (subtyping) or on a
// known hazard (survival).
#include <algorithm>
#include <random>

#include "autograd/nn_functions.h"
#include "hipt/train/metrics.h"
#include "hipt/train/slide_trainer.h"
#include "slide_cohort.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace hipt::train {
namespace {
using testing::relative_error;

const char* kWatch[] = {"classifier.weight",
                        "classifier.bias",
                        "global_phi.0.bias",
                        "global_rho.0.bias",
                        "global_transformer.layers.0.self_attn.in_proj_bias",
                        "global_transformer.layers.1.linear2.bias",
                        "global_attn_pool.attention_a.0.bias",
                        "global_attn_pool.attention_c.weight"};

void expect_step_matches(const HiptLgpFc& model, const io::TensorMap& want, const std::string& prefix,
                         const std::vector<std::string>& names) {
  std::map<std::string, Tensor> params;
  for (const auto& p : model.named_parameters()) params[p.name] = p.tensor;
  for (const auto& name : names) {
    Tensor p = params.at(name), grad = p.grad();
    ASSERT_TRUE(grad.defined()) << name;
    Tensor want_grad = want.at(prefix + "grad." + name), want_after = want.at(prefix + "after." + name);
    if (name.find("in_proj_bias") != std::string::npos || name.find("qkv.bias") != std::string::npos) {
      // The key bias cancels in the softmax: its gradient is rounding noise (in both), which
      // Adam's first step inflates to +-lr. Compared: the query and value biases.
      auto qv = [](const Tensor& t) { return ops::cat({ops::slice(t, 0, 0, 192), ops::slice(t, 0, 384, 576)}, 0); };
      p = qv(p), grad = qv(grad), want_grad = qv(want_grad), want_after = qv(want_after);
    }
    // Gradients: f32 rounding through ViT-4K and a two-region softmax leaves up to ~1.1e-5.
    EXPECT_LE(relative_error(grad, want_grad), 2e-5) << name;
    // After one Adam step each parameter moved by about lr = 2e-4: 1e-6 is half a percent of it.
    testing::expect_close(p, want_after, 1e-6, 0, name);
  }
}

TEST(SlideTrain, OneFrozenSubtypingStepMatchesPyTorch) {
  const io::TensorMap want = testing::read_fixture("slide_train_step.safetensors");
  SlideTrainOptions o;
  auto model = make_slide_model(2, o, "");
  testing::set_fixture_weights(*model);
  model->eval();  // dropout off, as the fixture
  auto optimizer = make_slide_optimizer(*model, o);
  EXPECT_FALSE(model->local_vit->pos_embed.requires_grad());
  Tensor loss = slide_loss(slide_forward(*model, testing::fixture_tensor({5, 192}, 1007, 1.0)), o.task, 1, false, 0);
  EXPECT_LE(relative_error(ops::reshape(loss, {1}), want.at("subtype.loss")), 1e-6);
  backward(mul(loss, 1.0 / 32));
  optimizer->step();
  expect_step_matches(*model, want, "subtype.", std::vector<std::string>(std::begin(kWatch), std::end(kWatch)));
}

TEST(SlideTrain, OneFineTunedSurvivalStepMatchesPyTorch) {
  const io::TensorMap want = testing::read_fixture("slide_train_step.safetensors");
  SlideTrainOptions o;
  o.task = SlideTask::kSurvival;
  o.finetune_vit4k = true;
  auto model = make_slide_model(4, o, "");
  testing::set_fixture_weights(*model);
  model->eval();
  auto optimizer = make_slide_optimizer(*model, o);
  Tensor loss =
      slide_loss(slide_forward(*model, testing::fixture_tensor({2, 256, 384}, 1008, 1.0)), o.task, 2, false, 0);
  EXPECT_LE(relative_error(ops::reshape(loss, {1}), want.at("survival.loss")), 1e-6);
  backward(mul(loss, 1.0 / 32));
  optimizer->step();
  std::vector<std::string> names(std::begin(kWatch), std::end(kWatch));
  for (const char* n : {"local_vit.blocks.0.attn.qkv.bias", "local_vit.phi.0.bias", "local_vit.cls_token"})
    names.push_back(n);
  expect_step_matches(*model, want, "survival.", names);
}

// Bags of M random regions; in class 1, `informative` of them carry a signal direction.
struct SyntheticCohort {
  LabelSet labels;
  std::vector<Bag> bags;
  std::vector<std::vector<int64_t>> signal;  // the informative regions of each bag
};

SyntheticCohort subtype_cohort(int n, int64_t M, int64_t informative, uint32_t seed) {
  SyntheticCohort c;
  c.labels.task = SlideTask::kSubtype;
  c.labels.classes = {"neg", "pos"};
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0, 1);
  for (int i = 0; i < n; ++i) {
    CaseLabel cl;
    cl.case_id = "c" + std::to_string(i);
    cl.slides = {"s" + std::to_string(i)};
    cl.label = i % 2;
    c.labels.cases.push_back(cl);
    std::vector<float> h(static_cast<size_t>(M * 192));
    for (float& v : h) v = noise(gen);
    std::vector<int64_t> idx(static_cast<size_t>(M));
    std::iota(idx.begin(), idx.end(), 0);
    std::shuffle(idx.begin(), idx.end(), gen);
    idx.resize(static_cast<size_t>(informative));
    if (cl.label == 1)
      for (int64_t r : idx)
        for (int64_t d = 0; d < 16; ++d) h[static_cast<size_t>(r * 192 + d)] += 2.0f;
    c.signal.push_back(cl.label == 1 ? idx : std::vector<int64_t>{});
    Bag b;
    b.case_index = static_cast<size_t>(i);
    b.slides = cl.slides;
    b.regions = {M};
    b.region_features = ops::from_vector(h, {M, 192});
    c.bags.push_back(std::move(b));
  }
  return c;
}

TEST(SlideTrain, LearnsWhichRegionsDecideTheLabel) {
  SyntheticCohort c = subtype_cohort(96, 8, 2, 11);
  FoldData data;
  for (size_t i = 0; i < 64; ++i) data.train.push_back(&c.bags[i]);
  SlideTrainOptions o;
  o.epochs = 4;
  o.lr = 5e-4;
  auto model = make_slide_model(2, o, "");
  TrainSummary s = train_slide_model(*model, c.labels, data, o);
  EXPECT_EQ(s.epochs_run, 4);
  EXPECT_LT(s.train_loss.back(), s.train_loss.front());
  std::vector<BagPrediction> preds;
  std::vector<const Bag*> test;
  int top_informative = 0, positives = 0;
  for (size_t i = 64; i < c.bags.size(); ++i) {
    preds.push_back(predict_bag(*model, c.bags[i], o.task, false, &c.labels.cases[i]));
    test.push_back(&c.bags[i]);
    if (c.signal[i].empty()) continue;
    ++positives;
    const auto& a = preds.back().attention;
    const int64_t top = std::max_element(a.begin(), a.end()) - a.begin();
    top_informative += std::count(c.signal[i].begin(), c.signal[i].end(), top) > 0;
  }
  const auto m = slide_metrics(preds, test, c.labels);
  EXPECT_GE(m.at("auc"), 0.95);
  EXPECT_GE(m.at("accuracy"), 0.85);
  // The attention's highest region is an informative one in (nearly) every positive slide.
  EXPECT_GE(top_informative, positives * 9 / 10) << top_informative << " of " << positives;
}

TEST(SlideTrain, SurvivalLearnsAKnownHazard) {
  // Hazard exp(3 s), s carried by one region of each case's bag; 30% censored at a random earlier time.
  const int n = 120;
  const int64_t M = 4;
  std::mt19937 gen(5);
  std::normal_distribution<float> noise(0, 1);
  std::uniform_real_distribution<double> unit(0, 1);
  LabelSet labels;
  labels.task = SlideTask::kSurvival;
  std::vector<Bag> bags;
  for (int i = 0; i < n; ++i) {
    const float s = noise(gen);
    std::vector<float> h(static_cast<size_t>(M * 192));
    for (float& v : h) v = noise(gen);
    for (int64_t d = 0; d < 32; ++d) h[static_cast<size_t>(d)] += 2.0f * s;  // the model sees s; the hazard is exp(3 s)
    CaseLabel cl;
    cl.case_id = "c" + std::to_string(i);
    cl.time = -std::log(1 - unit(gen)) / std::exp(3.0 * s) * 20;
    if (unit(gen) < 0.3) {
      cl.censored = true;
      cl.time *= unit(gen);
    }
    labels.cases.push_back(cl);
    Bag b;
    b.case_index = static_cast<size_t>(i);
    b.regions = {M};
    b.region_features = ops::from_vector(h, {M, 192});
    bags.push_back(std::move(b));
  }
  labels.bin_edges = survival_bin_edges(labels.cases, 4);
  for (auto& cl : labels.cases) cl.label = survival_bin(labels.bin_edges, cl.time);
  FoldData data;
  for (int i = 0; i < 80; ++i) data.train.push_back(&bags[static_cast<size_t>(i)]);
  SlideTrainOptions o;
  o.task = SlideTask::kSurvival;
  o.epochs = 8;
  o.gc = 1;
  auto model = make_slide_model(4, o, "");
  train_slide_model(*model, labels, data, o);
  std::vector<BagPrediction> preds;
  std::vector<const Bag*> test;
  for (int i = 80; i < n; ++i) {
    preds.push_back(
        predict_bag(*model, bags[static_cast<size_t>(i)], o.task, false, &labels.cases[static_cast<size_t>(i)]));
    test.push_back(&bags[static_cast<size_t>(i)]);
  }
  EXPECT_GE(slide_metrics(preds, test, labels).at("c_index"), 0.75);
}

TEST(SlideTrain, EarlyStoppingKeepsTheBestValidationEpoch) {
  SyntheticCohort c = subtype_cohort(24, 4, 1, 3);
  FoldData data;
  for (size_t i = 0; i < 16; ++i) data.train.push_back(&c.bags[i]);
  for (size_t i = 16; i < 24; ++i) data.val.push_back(&c.bags[i]);
  SlideTrainOptions o;
  o.epochs = 6;
  o.early_stopping = true;
  o.patience = 1;
  o.lr = 1e-2;  // unstable on purpose: validation loss soon stops improving
  auto model = make_slide_model(2, o, "");
  TrainSummary s = train_slide_model(*model, c.labels, data, o);
  ASSERT_EQ(s.val_loss.size(), static_cast<size_t>(s.epochs_run));
  EXPECT_EQ(s.best_epoch, std::min_element(s.val_loss.begin(), s.val_loss.end()) - s.val_loss.begin() + 1);
  double loss = 0;
  for (Bag* b : data.val) loss += predict_bag(*model, *b, o.task, false, &c.labels.cases[b->case_index]).loss;
  EXPECT_NEAR(loss / 8, s.val_loss[static_cast<size_t>(s.best_epoch - 1)], 1e-5);  // the kept model is the best one
}

TEST(SlideTrain, FeaturesOfAnotherViT4kAreRecomputedFromPatchFeatures) {
  const std::string dir = testing::fresh_dir("slide_train_patches");
  std::string labels = "case_id,slide_id,label\n";
  for (int i = 0; i < 4; ++i) {
    const std::string slide = "p" + std::to_string(i);
    testing::write_feature_file(dir, slide, ops::zeros({2, 192}), "made-with-another", "4096",
                                testing::random_tensor({2, 256, 384}, DType::F32, static_cast<uint32_t>(10 + i)));
    labels += "c" + std::to_string(i) + "," + slide + "," + (i % 2 ? "b" : "a") + "\n";
  }
  testing::write_text(dir + "/labels.csv", labels);
  const LabelSet l = read_labels(dir + "/labels.csv", SlideTask::kSubtype);
  std::vector<std::string> warnings;
  std::vector<Bag> bags = load_bags(l, dir, "the-model-vit4k", [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_EQ(warnings.size(), 1u);  // said once for the run
  SlideTrainOptions o;
  o.epochs = 1;
  auto frozen = make_slide_model(2, o, "");
  // Frozen: the stale region features in the files are replaced by the model's ViT-4K on the patches.
  const Tensor h = bag_input(*frozen, bags[0], false);
  NoGradGuard no_grad;
  EXPECT_LE(relative_error(h, frozen->region_features(bags[0].patch_features())), 1e-6);
  EXPECT_EQ(bag_input(*frozen, bags[0], false).raw_data(), h.raw_data());  // computed once, kept in the bag
}

TEST(SlideTrain, FineTuningMovesTheViT4kAndFreezingDoesNot) {
  const std::string dir = testing::fresh_dir("slide_train_finetune");
  std::vector<Bag> bags(2);
  LabelSet l;
  l.classes = {"a", "b"};
  for (int i = 0; i < 2; ++i) {
    testing::write_feature_file(dir, "f" + std::to_string(i), ops::zeros({1, 192}), "sha", "4096",
                                testing::random_tensor({1, 256, 384}, DType::F32, static_cast<uint32_t>(20 + i)));
    bags[static_cast<size_t>(i)] = load_slide_bag(dir + "/f" + std::to_string(i) + ".safetensors", "sha");
    bags[static_cast<size_t>(i)].case_index = static_cast<size_t>(i);
    CaseLabel c;
    c.label = i;
    l.cases.push_back(c);
  }
  for (bool finetune : {false, true}) {
    SlideTrainOptions o;
    o.epochs = 1;
    o.finetune_vit4k = finetune;
    auto model = make_slide_model(2, o, "");
    const std::vector<float> before = ops::to_vector<float>(model->local_vit->cls_token);
    const std::vector<float> classifier = ops::to_vector<float>(model->classifier->weight);
    FoldData data{{&bags[0], &bags[1]}, {}, {}};
    train_slide_model(*model, l, data, o);
    EXPECT_EQ(ops::to_vector<float>(model->local_vit->cls_token) != before, finetune);
    EXPECT_NE(ops::to_vector<float>(model->classifier->weight), classifier);
  }
}

}  // namespace
}  // namespace hipt::train
