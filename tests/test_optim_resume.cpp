// Resuming training: Generator positions and hipt/train's training-state file (model, optimizer,
// generator, progress in one .safetensors), checked by stopping and resuming a run bit for bit.
#include <filesystem>

#include "hipt/train/checkpoint.h"
#include "io/safetensors.h"
#include "nn/layers.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {

struct Mlp : nn::Module {
  Mlp(Generator& gen, int64_t hidden = 8) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, hidden, true, gen));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(hidden));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, 2, true, gen));
  }
  Tensor forward(const Tensor& x) const { return fc2->forward(tanh(norm->forward(fc1->forward(x)))); }
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::LayerNorm> norm;
};

// One run: a model, AdamW over the usual two groups, and a generator that draws each batch.
struct TrainingRun {
  explicit TrainingRun(uint64_t init_seed, uint64_t data_seed = 7, int64_t hidden = 8)
      : init(init_seed), model(init, hidden), opt(nn::decay_groups(model.named_parameters(), 1e-2, 0.05)),
        data(data_seed) {}
  void steps(int n) {
    for (int i = 0; i < n; ++i) {
      Tensor x = ops::normal({5, 4}, 0, 1, data);
      Tensor y = model.forward(x);
      opt.zero_grad();
      backward(mean(mul(y, y)));
      opt.step();
    }
  }
  std::vector<std::vector<float>> params() const {
    std::vector<std::vector<float>> out;
    for (const Tensor& p : model.parameters()) out.push_back(ops::to_vector<float>(p));
    return out;
  }
  Generator init;
  Mlp model;
  nn::AdamW opt;
  Generator data;
};

std::string temp(const std::string& name) { return ::testing::TempDir() + name; }

}  // namespace

TEST(GeneratorState, RestoresThePositionOfTheStream) {
  Generator a(42);
  ops::uniform({7}, 0, 1, a);
  const Generator::State s = a.state();
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.offset, 2u);  // 7 f32 numbers: two Philox blocks
  const std::vector<float> next = ops::to_vector<float>(ops::normal({9}, 0, 1, a));
  Generator b(5);
  b.set_state(s);
  EXPECT_EQ(ops::to_vector<float>(ops::normal({9}, 0, 1, b)), next);
}

TEST(TrainingState, FourStepsEqualTwoSavedLoadedAndTwoMore) {
  TrainingRun straight(0);
  straight.steps(4);

  const std::string path = temp("hipt_training_state.safetensors");
  {
    TrainingRun first(0);
    first.steps(2);
    train::save_training_state(path, first.model, first.opt, first.data, {2, 1});
  }
  TrainingRun resumed(99, 123);  // other weights and another stream: the file replaces both
  const train::Progress p = train::load_training_state(path, resumed.model, resumed.opt, resumed.data);
  EXPECT_EQ(p.step, 2);
  EXPECT_EQ(p.epoch, 1);
  EXPECT_EQ(resumed.opt.steps(), 2);
  resumed.steps(2);
  EXPECT_EQ(resumed.params(), straight.params());
  EXPECT_EQ(resumed.data.state().offset, straight.data.state().offset);

  // The documented layout.
  const io::TensorMap tensors = io::read_safetensors(path);
  EXPECT_TRUE(tensors.count("model.fc1.weight"));
  EXPECT_TRUE(tensors.count("optimizer.state.0.exp_avg_sq"));
  const auto md = io::read_safetensors_metadata(path);
  EXPECT_EQ(md.at("format"), "hipt-training-state");
  EXPECT_EQ(md.at("optimizer.optimizer"), "AdamW");
  EXPECT_EQ(md.at("optimizer.group.1.weight_decay"), "0");
  EXPECT_EQ(md.at("generator.seed"), "7");
  std::filesystem::remove(path);
}

TEST(TrainingState, RefusesAModelWithOtherParametersNamingTheFile) {
  const std::string path = temp("hipt_training_state_mismatch.safetensors");
  TrainingRun saved(0);
  saved.steps(1);
  train::save_training_state(path, saved.model, saved.opt, saved.data, {1, 0});
  TrainingRun other(0, 8, /*hidden=*/9);
  const nn::OptimizerState before = other.opt.state();
  expect_error([&] { train::load_training_state(path, other.model, other.opt, other.data); },
               {path + ": does not match the model's", "fc1.weight (file [8, 4], model [9, 4])"});
  EXPECT_EQ(other.opt.state().metadata, before.metadata);  // the optimizer is left as it was
  EXPECT_EQ(other.data.state().seed, 8u);  // nor the generator

  // An optimizer of another kind over the same model: named with the file too.
  TrainingRun same(0);
  nn::Adam adam(same.model.parameters());
  expect_error([&] { train::load_training_state(path, same.model, adam, same.data); },
               {path + ": does not match this Adam", "from AdamW"});
  std::filesystem::remove(path);

  // A weights file is not a training state.
  const std::string weights = temp("hipt_training_state_weights.safetensors");
  io::write_safetensors(weights, saved.model.state_dict());
  expect_error([&] { train::load_training_state(weights, same.model, same.opt, same.data); },
               {weights + ": not a training state"});
  std::filesystem::remove(weights);
}
