// HIPT_LGP_FC and the MCAT survival head against PyTorch (scripts/make_slide_model_fixture.py),
// finite-difference gradients of the global path and the loss, and the errors for bad inputs.
#include "autograd/nn_functions.h"
#include "hipt/models/checkpoint.h"
#include "hipt/models/slide_model.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace hipt {
namespace {
using testing::param_table;
using testing::relative_error;

SlideModelConfig fixture_config() {
  SlideModelConfig c;
  c.n_classes = 4;
  c.init_local_vit = false;  // the formula overwrites every weight
  return c;
}

TEST(SlideModel, ParameterNamesAndOrderAreTheReferences) {
  HiptLgpFc model(fixture_config());
  const std::string path = std::string(HIPT_TEST_DATA) + "/slide_model_hipt_lgp.safetensors";
  EXPECT_EQ(param_table(model), io::read_safetensors_metadata(path).at("params"));
  // 3,376,515 for two classes (hipt-model.md §6.2); each extra class adds 193.
  EXPECT_EQ(model.num_parameters(), 3376515 + 2 * 193);
}

TEST(SlideModel, LoadsAFineTunedCheckpointWithDataParallelNames) {
  // s_<fold>_checkpoint.pt was saved with local_vit wrapped in DataParallel: local_vit.module.*.
  HiptLgpFc trained(fixture_config());
  testing::set_fixture_weights(trained);
  io::TensorMap saved;
  for (const auto& [name, t] : trained.state_dict()) {
    const std::string prefix = "local_vit.";
    saved[name.rfind(prefix, 0) == 0 ? prefix + "module." + name.substr(prefix.size()) : name] = t;
  }
  const std::string path = ::testing::TempDir() + "hipt_slide_ckpt.safetensors";
  io::write_safetensors(path, saved);
  HiptLgpFc model(fixture_config());
  load_backbone(model, path);
  nn::TensorMap loaded = model.state_dict();
  for (const auto& [name, t] : trained.state_dict())
    ASSERT_EQ(ops::to_vector<float>(loaded.at(name)), ops::to_vector<float>(t)) << name;
  std::remove(path.c_str());
}

TEST(SlideModel, HiptLgpFcMatchesPyTorch) {
  HiptLgpFc model(fixture_config());
  testing::set_fixture_weights(model);
  model.eval();
  io::TensorMap want = testing::read_fixture("slide_model_hipt_lgp.safetensors");
  Tensor x = testing::fixture_tensor({3, 256, 384}, 1005, 1.0);
  NoGradGuard no_grad;
  SlideOutput out = model.forward(x);
  EXPECT_LE(relative_error(model.region_features(x), want.at("region_features")), 1e-5);
  EXPECT_LE(relative_error(out.attention, want.at("attention")), 1e-5);
  EXPECT_LE(relative_error(out.logits, want.at("logits")), 1e-5);
  EXPECT_LE(relative_error(out.probs, want.at("probs")), 1e-5);
  EXPECT_EQ(ops::to_vector<int64_t>(out.y_hat), ops::to_vector<int64_t>(want.at("y_hat")));
  EXPECT_EQ(out.y_hat.shape(), (Shape{1, 1}));
  SurvivalOutput s = survival_head(out.logits);
  EXPECT_LE(relative_error(s.hazards, want.at("hazards")), 1e-5);
  EXPECT_LE(relative_error(s.survival, want.at("survival")), 1e-5);
  EXPECT_LE(relative_error(s.risk, want.at("risk")), 1e-5);
}

TEST(SlideModel, SurvivalLossMatchesPyTorch) {
  io::TensorMap want = testing::read_fixture("slide_model_hipt_lgp.safetensors");
  Tensor z = testing::fixture_tensor({6, 4}, 1006, 3.0);
  z.requires_grad_();
  Tensor bin = ops::from_vector<int64_t>({0, 1, 2, 3, 0, 3}, {6});
  Tensor censored = ops::from_vector<float>({0, 0, 1, 1, 1, 0}, {6});
  SurvivalOutput s = survival_head(z);
  Tensor loss = nll_survival_loss(s.hazards, s.survival, bin, censored, 0.0);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_LE(relative_error(ops::reshape(loss, {1}), want.at("loss_alpha0")), 1e-6);
  backward(loss);
  EXPECT_LE(relative_error(z.grad(), want.at("loss_grad_alpha0")), 1e-5);
  Tensor loss04 = nll_survival_loss(s.hazards, s.survival, bin, censored, 0.4);
  EXPECT_LE(relative_error(ops::reshape(loss04, {1}), want.at("loss_alpha04")), 1e-6);
}

TEST(SlideModel, SurvivalLossClampsLogsAtEps) {
  // hazard 1 in bin 0: S = 0 everywhere, so an uncensored event in bin 1 costs -log(eps) for S(0)
  // and a censored patient in bin 0 costs -log(eps) for S(0) as well.
  Tensor h = ops::from_vector<double>({1, 0.5}, {1, 2});
  Tensor s = ops::from_vector<double>({0, 0}, {1, 2});
  Tensor y1 = ops::from_vector<int64_t>({1}, {1});
  Tensor y0 = ops::from_vector<int64_t>({0}, {1});
  const double eps = 1e-7;
  EXPECT_NEAR(nll_survival_loss(h, s, y1, ops::zeros({1}, DType::F64), 0, eps).item(), -std::log(eps) - std::log(0.5),
              1e-12);
  EXPECT_NEAR(nll_survival_loss(h, s, y0, ops::ones({1}, DType::F64), 0, eps).item(), -std::log(eps), 1e-12);
  // Uncensored in bin 0: S_pad(-1) = 1, so only log h(0) = 0.
  EXPECT_NEAR(nll_survival_loss(h, s, y0, ops::zeros({1}, DType::F64), 0, eps).item(), 0.0, 1e-12);
}

SlideModelConfig small_config(DType dtype) {
  SlideModelConfig c;
  c.n_classes = 3;
  c.dim = 8;
  c.heads = 2;
  c.feedforward = 6;
  c.layers = 2;
  c.seed = 5;
  c.dtype = dtype;
  return c;
}

TEST(SlideModel, GlobalPathAndLossGradcheck) {
  HiptGlobalModel model(small_config(DType::F64));
  model.eval();
  testing::expect_gradcheck([&](const std::vector<Tensor>& in) { return model.forward(in[0]).logits; },
                            {testing::random_tensor({4, 8}, DType::F64, 3)});
  Tensor bin = ops::from_vector<int64_t>({0, 3, 1, 2}, {4});
  Tensor censored = ops::from_vector<double>({0, 1, 1, 0}, {4});
  testing::expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        SurvivalOutput s = survival_head(in[0]);
        return nll_survival_loss(s.hazards, s.survival, bin, censored, 0.4);
      },
      {testing::random_tensor({4, 4}, DType::F64, 4, -2, 2)});
}

TEST(SlideModel, TrainsWithDropoutAndReachesEveryParameter) {
  HiptGlobalModel model(small_config(DType::F32));
  model.train();
  Tensor h = testing::random_tensor({5, 8}, DType::F32, 6);
  SlideOutput a = model.forward(h), b = model.forward(h);
  EXPECT_NE(ops::to_vector<float>(a.logits), ops::to_vector<float>(b.logits));  // dropout draws differ
  backward(cross_entropy(a.logits, ops::from_vector<int64_t>({2}, {1})));
  for (const auto& p : model.named_parameters()) EXPECT_TRUE(p.tensor.grad().defined()) << p.name;
  model.eval();
  EXPECT_EQ(ops::to_vector<float>(model.forward(h).logits), ops::to_vector<float>(model.forward(h).logits));
}

TEST(SlideModel, BadInputsNameTheProblem) {
  HiptGlobalModel global(small_config(DType::F32));
  testing::expect_error([&] { global.forward(ops::zeros({4, 7})); }, {"region features must be [M, 8]", "[4, 7]"});
  testing::expect_error([&] { global.forward(ops::zeros({0, 8})); }, {"M > 0"});
  HiptLgpFc model(fixture_config());
  testing::expect_error([&] { model.forward(ops::zeros({2, 255, 384})); }, {"x_256 must be [M, 256, 384]"});
  Tensor h = ops::full({2, 4}, 0.5), s = ops::full({2, 4}, 0.5);
  Tensor bin = ops::from_vector<int64_t>({0, 4}, {2}), c = ops::zeros({2});
  testing::expect_error([&] { nll_survival_loss(h, s, bin, c); }, {"bin 4 of sample 1 is outside [0, 4)"});
  testing::expect_error([&] { nll_survival_loss(h, s, ops::zeros({2}), c); }, {"bin must be i64"});
  testing::expect_error([&] { nll_survival_loss(h, ops::zeros({2, 3}), bin, c); }, {"must both be [B, K]"});
  testing::expect_error([&] { nll_survival_loss(h, s, bin, ops::zeros({3})); }, {"censored must be [2]"});
  testing::expect_error([&] { survival_head(ops::zeros({4})); }, {"logits must be [B, K]"});
  SlideModelConfig bad = small_config(DType::F32);
  bad.heads = 3;
  testing::expect_error([&] { HiptGlobalModel m(bad); }, {"not a multiple of heads 3"});
}

}  // namespace
}  // namespace hipt
