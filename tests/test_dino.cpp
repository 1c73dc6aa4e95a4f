// hipt/train/dino.h against PyTorch 1.13: tests/data/dino_tiny.safetensors is written by
// scripts/make_dino_fixture.py (head, loss and two full steps of a tiny ViT-4K student/teacher).
#include <cmath>

#include "autograd/gradcheck.h"
#include "hipt/train/dino.h"
#include "io/safetensors.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace hipt {
namespace {
using namespace hipt::testing;
using train::DinoHead;
using train::DinoHeadConfig;

DinoHeadConfig tiny_head() {  // HEAD in the fixture script
  DinoHeadConfig c;
  c.in_dim = 32;
  c.out_dim = 64;
  c.hidden_dim = 32;
  c.bottleneck_dim = 16;
  return c;
}

VitConfig tiny_backbone() {  // BACKBONE in the fixture script
  VitConfig c;
  c.embed_dim = 32;
  c.depth = 2;
  c.heads = 2;
  c.in_chans = 24;
  c.img_size = 224;
  return c;
}

void load_prefixed(nn::Module& m, const io::TensorMap& all, const std::string& prefix) {
  io::TensorMap sub;
  for (const nn::Parameter& p : m.named_state())
    if (all.count(prefix + p.name)) sub[p.name] = all.at(prefix + p.name);
  for (const nn::Parameter& p : m.named_buffers()) sub[p.name] = p.tensor;
  m.load_state_dict(sub, prefix);
}

const io::TensorMap& fixture() {
  static io::TensorMap f = read_fixture("dino_tiny.safetensors");
  return f;
}

TEST(Dino, HeadParameterNamesAreTheReferences) {
  Generator gen(0);
  DinoHead head(tiny_head(), gen);
  std::vector<std::string> names;
  for (const nn::Parameter& p : head.named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight",
                                             "mlp.4.bias", "last_layer.weight_g", "last_layer.weight_v"}));
  EXPECT_FALSE(head.last_layer->weight_g.requires_grad());  // norm_last_layer
  EXPECT_EQ(ops::to_vector<float>(head.last_layer->weight_g), std::vector<float>(64, 1.0f));
  // trunc-normal std 0.02: no |w| beyond the bounds, biases zero
  for (float w : ops::to_vector<float>(head.fc2->weight)) EXPECT_LE(std::abs(w), 0.2f);
  for (float b : ops::to_vector<float>(head.fc2->bias)) EXPECT_EQ(b, 0.0f);
}

TEST(Dino, HeadForwardAndBackwardMatchTorch) {
  Generator gen(0);
  DinoHead head(tiny_head(), gen);
  load_prefixed(head, fixture(), "head.init.");
  Tensor y = head.forward(fixture().at("head.x"));
  EXPECT_LE(relative_error(y, fixture().at("head.out"), "out"), 1e-5);
  backward(sum(mul(y, fixture().at("head.w"))));
  for (const nn::Parameter& p : head.named_parameters()) {
    if (!p.tensor.requires_grad()) continue;
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    EXPECT_LE(relative_error(p.tensor.grad(), fixture().at("head.grad." + p.name), p.name), 1e-4) << p.name;
  }
}

TEST(Dino, Vit256StudentRunsEachResolutionGroupOnce) {
  VitConfig c;
  c.embed_dim = 32, c.depth = 1, c.heads = 2, c.patch = 8, c.img_size = 32;
  Generator gen(0);
  train::DinoModel m(std::make_shared<VisionTransformer>(c), std::make_shared<DinoHead>(tiny_head(), gen));
  std::vector<Tensor> crops = {random_tensor({2, 3, 32, 32}, DType::F32, 1),
                               random_tensor({2, 3, 32, 32}, DType::F32, 2),
                               random_tensor({2, 3, 16, 16}, DType::F32, 3)};
  Tensor out = m.forward(crops);
  ASSERT_EQ(out.shape(), Shape({6, 64}));
  // The same as one crop at a time: grouping changes only how the backbone is called.
  auto* vit = static_cast<VisionTransformer*>(m.backbone.get());
  Tensor one = m.head->forward(vit->forward(crops[2]));
  EXPECT_LE(relative_error(slice(out, 0, 4, 6), one), 1e-5);
  backward(sum(out));
  EXPECT_TRUE(vit->patch_embed->proj->weight.grad().defined());
}

TEST(Dino, L2NormalizeGradcheck) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return train::l2_normalize(in[0]); },
                   {random_tensor({3, 5}, DType::F64, 7)});
}

TEST(Dino, L2NormalizeOfZeroIsZero) {  // F.normalize's eps: no division by zero
  Tensor y = train::l2_normalize(ops::zeros({2, 3}));
  for (float v : ops::to_vector<float>(y)) EXPECT_EQ(v, 0.0f);
}

TEST(Dino, LossAndCenterMatchTorch) {
  train::DinoLossOptions o;
  o.warmup_teacher_temp = o.teacher_temp = 0.07;
  train::DinoLoss loss(64, 4, o);
  ops::copy_(loss.center, fixture().at("loss.center"));
  Tensor value = loss.forward(fixture().at("loss.student"), fixture().at("loss.teacher"), 0);
  EXPECT_NEAR(value.item(), fixture().at("loss.value").item(), 1e-5 * std::abs(fixture().at("loss.value").item()));
  EXPECT_LE(relative_error(loss.center, fixture().at("loss.new_center"), "center"), 1e-6);
}

TEST(Dino, TeacherTemperatureWarmsUpLinearlyThenStays) {
  train::DinoLossOptions o;
  o.warmup_teacher_temp = 0.04;
  o.teacher_temp = 0.07;
  o.warmup_teacher_temp_epochs = 4;
  train::DinoLoss loss(8, 4, o);
  EXPECT_DOUBLE_EQ(loss.teacher_temp(0), 0.04);
  EXPECT_DOUBLE_EQ(loss.teacher_temp(1), 0.05);
  EXPECT_DOUBLE_EQ(loss.teacher_temp(3), 0.07);
  EXPECT_DOUBLE_EQ(loss.teacher_temp(30), 0.07);
}

TEST(Dino, LossRefusesMisshapedOutputs) {
  train::DinoLoss loss(8, 4);
  expect_error([&] { loss.forward(ops::zeros({7, 8}), ops::zeros({4, 8}), 0); }, {"DinoLoss", "student"});
  expect_error([&] { loss.forward(ops::zeros({8, 8}), ops::zeros({2, 8}), 0); }, {"DinoLoss", "teacher"});
}

TEST(Dino, CenterAveragesOverEveryRank) {  // a communicator that doubles the sums: two equal ranks
  struct TwoRanks : Communicator {
    int rank() const override { return 0; }
    int size() const override { return 2; }
    void all_reduce_sum(const Tensor& t) override { ops::copy_(t, ops::mul(t, 2.0)); }
    void broadcast(const Tensor&, int) override {}
  } comm;
  train::DinoLoss a(4, 2), b(4, 2);
  Tensor s = random_tensor({4, 4}, DType::F32, 3), t = random_tensor({4, 4}, DType::F32, 4);
  a.forward(s, t, 0);
  b.forward(s, t, 0, &comm);
  EXPECT_LE(relative_error(b.center, a.center), 1e-7);
  EXPECT_GT(std::abs(ops::to_vector<float>(a.center)[0]), 0.0f);
}

// A tiny ViT-4K DINO student and teacher, both at the fixture's initial weights ("init.").
std::pair<std::shared_ptr<train::DinoModel>, std::shared_ptr<train::DinoModel>> fixture_pair(const io::TensorMap& f) {
  Generator gen(0);
  auto make = [&] {
    return std::make_shared<train::DinoModel>(std::make_shared<VisionTransformer4K>(tiny_backbone()),
                                              std::make_shared<DinoHead>(tiny_head(), gen));
  };
  auto student = make(), teacher = make();
  load_prefixed(*student, f, "init.");
  load_prefixed(*teacher, f, "init.");
  return {student, teacher};
}

TEST(Dino, FullStepsMatchTorch) {
  const io::TensorMap& f = fixture();
  auto [student, teacher] = fixture_pair(f);
  train::DinoOptions o;  // STEP in the fixture script
  o.epochs = 4;
  o.lr = 1e-2;
  o.min_lr = 1e-3;
  o.warmup_epochs = 0;
  o.weight_decay = 0.04;
  o.weight_decay_end = 0.4;
  o.momentum_teacher = 0.9;
  o.clip_grad = 0.3;
  o.freeze_last_layer = 1;
  o.adam_eps = 1e-4;
  o.loss.warmup_teacher_temp = 0.04;
  o.loss.teacher_temp = 0.07;
  o.loss.warmup_teacher_temp_epochs = 2;
  train::DinoLoss loss(64, 4, o.loss);
  train::DinoTraining run(*student, *teacher, loss, o, /*iters_per_epoch=*/1);
  std::vector<Tensor> crops;
  for (int v = 0; v < 4; ++v) crops.push_back(f.at("crop." + std::to_string(v)));

  // The gradients are read inside the step, after clipping and the last layer's cancelling.
  for (int t = 1; t <= 2; ++t) {
    const std::string p = "step" + std::to_string(t) + ".";
    train::DinoStepStats stats = run.step(crops, t - 1);
    EXPECT_NEAR(stats.loss, f.at(p + "loss").item(), 1e-5 * f.at(p + "loss").item()) << p;
    for (const nn::Parameter& q : student->named_parameters()) {
      if (!q.tensor.requires_grad()) continue;
      const bool want_grad = f.count(p + "grad." + q.name) > 0;
      ASSERT_EQ(q.tensor.grad().defined(), want_grad) << p << q.name;
      if (want_grad) {
        EXPECT_LE(relative_error(q.tensor.grad(), f.at(p + "grad." + q.name), q.name), 1e-4) << p << q.name;
      }
    }
    for (const nn::Parameter& q : student->named_parameters())
      EXPECT_LE(relative_error(q.tensor, f.at(p + "student." + q.name), q.name), 1e-4) << p << q.name;
    for (const nn::Parameter& q : teacher->named_parameters())
      EXPECT_LE(relative_error(q.tensor, f.at(p + "teacher." + q.name), q.name), 1e-4) << p << q.name;
    EXPECT_LE(relative_error(loss.center, f.at(p + "center"), "center"), 1e-4) << p;
  }
  // Epoch 0 left the last layer as it was; epoch 1 moved it.
  EXPECT_GT(relative_error(student->head->last_layer->weight_v, f.at("init.head.last_layer.weight_v")), 0);
}

TEST(Dino, AStepInTwoPartsIsTheStepOverTheWholeBatch) {  // gradient accumulation
  const io::TensorMap& f = fixture();
  auto [student, teacher] = fixture_pair(f);
  train::DinoOptions o;
  o.epochs = 4;
  o.lr = 1e-2;
  o.min_lr = 1e-3;
  o.warmup_epochs = 0;
  o.momentum_teacher = 0.9;
  o.clip_grad = 0.3;
  o.adam_eps = 1e-4;
  o.loss.teacher_temp = 0.07;
  o.loss.warmup_teacher_temp_epochs = 2;
  train::DinoLoss loss(64, 4, o.loss);
  train::DinoTraining run(*student, *teacher, loss, o, 1);
  std::vector<std::vector<Tensor>> parts(2);
  for (int v = 0; v < 4; ++v)
    for (int b = 0; b < 2; ++b)
      parts[static_cast<size_t>(b)].push_back(slice(f.at("crop." + std::to_string(v)), 0, b, b + 1));
  train::DinoStepStats stats = run.step(parts, 0);
  EXPECT_NEAR(stats.loss, f.at("step1.loss").item(), 1e-5 * f.at("step1.loss").item());
  for (const nn::Parameter& q : student->named_parameters())
    EXPECT_LE(relative_error(q.tensor, f.at("step1.student." + q.name), q.name), 1e-4) << q.name;
  EXPECT_LE(relative_error(loss.center, f.at("step1.center"), "center"), 1e-5);
}

}  // namespace
}  // namespace hipt
