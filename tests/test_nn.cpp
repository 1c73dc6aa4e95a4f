// nn/: module naming, Linear and LayerNorm (the optimizers: test_optim.cpp).
#include <cmath>

#include "nn/layers.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {
struct Block : nn::Module {
  explicit Block(Generator& gen) {
    norm = register_module("norm1", std::make_shared<nn::LayerNorm>(4, 1e-6));
    fc = register_module("fc1", std::make_shared<nn::Linear>(4, 3, true, gen));
    scale = register_parameter("gamma", ops::ones({3}));
  }
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> fc;
  Tensor scale;
};
struct Net : nn::Module {
  explicit Net(Generator& gen) {
    for (int i = 0; i < 2; ++i) blocks.push_back(register_module("blocks." + std::to_string(i), std::make_shared<Block>(gen)));
  }
  std::vector<std::shared_ptr<Block>> blocks;
};
}  // namespace

TEST(Module, NamesParametersLikeStateDictKeys) {
  Generator gen(0);
  Net net(gen);
  std::vector<std::string> names;
  for (const auto& p : net.named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"blocks.0.gamma", "blocks.0.norm1.weight", "blocks.0.norm1.bias",
                                             "blocks.0.fc1.weight", "blocks.0.fc1.bias", "blocks.1.gamma",
                                             "blocks.1.norm1.weight", "blocks.1.norm1.bias", "blocks.1.fc1.weight",
                                             "blocks.1.fc1.bias"}));
  EXPECT_EQ(net.num_parameters(), 2 * (3 + 4 + 4 + 12 + 3));
  // the registry and the member are one tensor: writing through one shows in the other
  ops::fill_(net.named_parameters()[3].tensor, 0.5);
  EXPECT_EQ(ops::to_vector<float>(net.blocks[0]->fc->weight)[0], 0.5f);
  net.eval();
  EXPECT_FALSE(net.blocks[1]->fc->training());
}

TEST(Linear, MatchesReferenceAndInitBounds) {
  Generator gen(3);
  nn::Linear lin(5, 4, true, gen);
  EXPECT_EQ(lin.weight.shape(), Shape({4, 5}));
  for (float w : ops::to_vector<float>(lin.weight)) EXPECT_LE(std::abs(w), 1 / std::sqrt(5.f));
  Tensor x = random_tensor({2, 3, 5}, DType::F32, 4);
  std::vector<float> xv = ops::to_vector<float>(x), wv = ops::to_vector<float>(lin.weight),
                     bv = ops::to_vector<float>(lin.bias);
  std::vector<double> want;
  for (int r = 0; r < 6; ++r)
    for (int o = 0; o < 4; ++o) {
      double s = bv[o];
      for (int i = 0; i < 5; ++i) s += double(xv[r * 5 + i]) * wv[o * 5 + i];
      want.push_back(s);
    }
  expect_close(lin.forward(x), want, 1e-6, 1e-6);
  expect_error([&] { lin.forward(ops::zeros({2, 4})); }, {"Linear", "[2, 4]", "5"});
}
