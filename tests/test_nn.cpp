// nn/: module naming, Linear and LayerNorm, AdamW and SGD against a PyTorch fixture.
#include <cmath>
#include <fstream>
#include <sstream>

#include "nn/layers.h"
#include "nn/optim.h"
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

namespace {
// tests/data/adamw_torch.txt: "<optimizer> <step> <13 hex floats>" (scripts/make_adamw_fixture.py)
std::vector<float> torch_row(const std::string& opt, int step) {
  std::ifstream in(std::string(HIPT_TEST_DATA) + "/adamw_torch.txt");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name;
    int t;
    if (!(ls >> name >> t) || name != opt || t != step) continue;
    std::vector<float> v;
    std::string tok;
    while (ls >> tok) v.push_back(static_cast<float>(std::strtod(tok.c_str(), nullptr)));
    return v;
  }
  ADD_FAILURE() << "no row " << opt << " " << step << " in the fixture";
  return {};
}

template <class Opt, class Options> void check_against_torch(const std::string& name, const Options& opts) {
  const int N = 13;
  std::vector<float> p0;
  for (int i = 0; i < N; ++i) p0.push_back(static_cast<float>(std::sin(0.37 * i + 0.1)));
  Tensor p = ops::from_vector(p0, {N}).requires_grad_();
  Opt opt({p}, opts);
  for (int t = 1; t <= 3; ++t) {
    std::vector<float> g;
    for (int i = 0; i < N; ++i) g.push_back(static_cast<float>(std::cos(0.11 * i * t + 0.3) * 0.5));
    opt.zero_grad();
    backward(sum(mul(p, ops::from_vector(g, {N}))));  // dL/dp = g
    opt.step();
    std::vector<float> want = torch_row(name, t);
    std::vector<double> wd(want.begin(), want.end());
    // PyTorch's vectorised loop fuses one multiply-add that its scalar tail and we do not: allow 2 ulp.
    expect_close(p, wd, 0, 2.5e-7, name + " step " + std::to_string(t));
  }
}
}  // namespace

TEST(Optim, AdamWStepsEqualPyTorch) {
  nn::AdamWOptions o;
  o.lr = 1e-2;
  o.weight_decay = 0.05;
  check_against_torch<nn::AdamW>("adamw", o);
}

TEST(Optim, SGDMomentumStepsEqualPyTorch) {
  nn::SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 0.01;
  check_against_torch<nn::SGD>("sgd", o);
}

TEST(Optim, Errors) {
  Tensor p = ops::zeros({2});
  expect_error([&] { nn::AdamW opt({p}); }, {"optimizer", "requires grad"});
  Tensor q = ops::zeros({2}).requires_grad_();
  nn::AdamWOptions bad;
  bad.beta1 = 1.0;
  expect_error([&] { nn::AdamW opt({q}, bad); }, {"AdamW", "betas"});
}

TEST(Optim, AdamWCountsStepsPerParameterAsPyTorch) {
  // A parameter with no gradient on the first step must start its bias correction at its own
  // first step: its update then equals that of a fresh optimizer's first step.
  Tensor a = ops::ones({3}).requires_grad_(), b = ops::ones({3}).requires_grad_();
  nn::AdamW opt({a, b});
  backward(sum(a));
  opt.step();  // b has no grad: skipped
  opt.zero_grad();
  backward(sum(b));
  opt.step();
  Tensor c = ops::ones({3}).requires_grad_();
  nn::AdamW fresh({c});
  backward(sum(c));
  fresh.step();
  EXPECT_EQ(ops::to_vector<float>(b), ops::to_vector<float>(c));
}
