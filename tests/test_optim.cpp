// nn/optim: Adam, AdamW and SGD against PyTorch (tests/data/adamw_torch.txt), parameter groups,
// and the optimizer state that resumes training.
#include <cmath>
#include <fstream>
#include <sstream>

#include "nn/optim.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {
// tests/data/adamw_torch.txt: "<optimizer> <step> <hex floats>" (scripts/make_adamw_fixture.py)
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
  Tensor q = ops::zeros({2}).requires_grad_();
  nn::AdamWOptions bad;
  bad.beta1 = 1.0;
  expect_error([&] { nn::AdamW opt({q}, bad); }, {"AdamW", "betas"});
  nn::AdamOptions negative;
  negative.eps = -1;
  expect_error([&] { nn::Adam opt({q}, negative); }, {"Adam:", "eps"});
  Tensor not_leaf = mul(q, 2.0);
  expect_error([&] { nn::SGD opt({not_leaf}); }, {"SGD", "leaf"});
  std::vector<nn::ParamGroup> groups(2);
  groups[1].params = {q};
  groups[1].lr = -1;
  expect_error([&] { nn::AdamW opt(groups); }, {"AdamW", "group 1", "lr", "-1"});
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

namespace {
std::vector<float> seq(int n, const std::function<double(int)>& f) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<float>(f(i)));
  return v;
}

// The "<name>.groups" rows: w [13] in group 0 (lr 1e-2, wd 0.05), b [5] in group 1 (lr 3e-3, wd 0).
void check_groups_against_torch(const std::string& name, const std::function<std::unique_ptr<nn::Optimizer>(
                                                              std::vector<nn::ParamGroup>)>& make) {
  Tensor w = ops::from_vector(seq(13, [](int i) { return std::sin(0.37 * i + 0.1); }), {13}).requires_grad_();
  Tensor b = ops::from_vector(seq(5, [](int i) { return std::cos(0.23 * i + 0.2) * 0.3; }), {5}).requires_grad_();
  std::vector<nn::ParamGroup> groups(2);
  groups[0] = {{w}, 1e-2, 0.05};
  groups[1] = {{b}, 3e-3, 0.0};
  std::unique_ptr<nn::Optimizer> opt = make(groups);
  for (int t = 1; t <= 5; ++t) {
    Tensor gw = ops::from_vector(seq(13, [t](int i) { return std::cos(0.11 * i * t + 0.3) * 0.5; }), {13});
    Tensor gb = ops::from_vector(seq(5, [t](int i) { return std::sin(0.17 * i * t + 0.5) * 0.25; }), {5});
    opt->zero_grad();
    backward(add(sum(mul(w, gw)), sum(mul(b, gb))));
    opt->step();
    std::vector<float> want = torch_row(name, t);
    ASSERT_EQ(want.size(), 18u);
    const std::string what = name + " step " + std::to_string(t);
    expect_close(w, std::vector<double>(want.begin(), want.begin() + 13), 0, 2.5e-7, what + " w");
    expect_close(b, std::vector<double>(want.begin() + 13, want.end()), 0, 2.5e-7, what + " b");
  }
}
}  // namespace

TEST(Optim, AdamWithTwoGroupsEqualsPyTorch) {
  nn::AdamOptions o;
  o.beta1 = 0.85;
  o.beta2 = 0.995;
  o.eps = 1e-6;
  check_groups_against_torch("adam.groups", [&](std::vector<nn::ParamGroup> g) {
    return std::make_unique<nn::Adam>(std::move(g), o);
  });
}

TEST(Optim, AdamWWithTwoGroupsEqualsPyTorch) {
  check_groups_against_torch("adamw.groups", [](std::vector<nn::ParamGroup> g) {
    return std::make_unique<nn::AdamW>(std::move(g));
  });
}

TEST(Optim, AdamWeightDecayIsAnL2TermInTheGradient) {
  // Adam with weight decay wd on gradient g takes the step Adam without decay takes on g + wd·p.
  Tensor p = random_tensor({7}, DType::F64, 3).requires_grad_(), q = ops::clone(p).requires_grad_();
  Tensor g = random_tensor({7}, DType::F64, 4);
  nn::AdamOptions decay, plain;
  decay.weight_decay = 0.3;
  nn::Adam a({p}, decay), b({q}, plain);
  backward(sum(mul(p, g)));
  backward(sum(mul(q, ops::add(g, ops::mul(ops::clone(q), 0.3)))));
  a.step();
  b.step();
  EXPECT_EQ(ops::to_vector<double>(p), ops::to_vector<double>(q));
}

TEST(Optim, DecayGroupsLeaveBiasesAndOneDimParametersUndecayed) {
  auto param = [](const Shape& s, bool train = true) {
    Tensor t = ops::zeros(s);
    return train ? t.requires_grad_() : t;
  };
  std::vector<nn::Parameter> named = {{"fc.weight", param({3, 4})},      {"fc.bias", param({3})},
                                      {"norm.weight", param({4})},       {"pos_embed", param({1, 5, 4})},
                                      {"proj.bias", param({2, 2})},      {"head.weight", param({2, 4}, false)},
                                      {"cls_token", param({4})}};
  std::vector<nn::ParamGroup> groups = nn::decay_groups(named, 0.5, 0.04);
  ASSERT_EQ(groups.size(), 2u);
  auto same = [](const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
    if (got.size() != want.size()) return false;
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i].data<float>() != want[i].data<float>()) return false;
    return true;
  };
  EXPECT_TRUE(same(groups[0].params, {named[0].tensor, named[3].tensor}));
  EXPECT_TRUE(same(groups[1].params, {named[1].tensor, named[2].tensor, named[4].tensor, named[6].tensor}));
  EXPECT_EQ(groups[0].weight_decay, 0.04);
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  EXPECT_EQ(groups[0].lr, 0.5);
  EXPECT_EQ(groups[1].lr, 0.5);
}

TEST(Optim, FrozenParametersAreLeftOut) {
  Tensor frozen = ops::ones({3}), trained = ops::ones({3}).requires_grad_();
  nn::AdamW opt({frozen, trained});
  ASSERT_EQ(opt.param_groups().size(), 1u);
  EXPECT_EQ(opt.param_groups()[0].params.size(), 1u);
  EXPECT_EQ(opt.state().metadata.at("params"), "1");
}

TEST(Optim, GroupSettingsAreWrittenBetweenSteps) {
  Tensor a = ops::ones({3}).requires_grad_(), b = ops::ones({3}).requires_grad_();
  std::vector<nn::ParamGroup> groups(2);
  groups[0].params = {a};
  groups[1].params = {b};
  groups[1].weight_decay = 0;
  nn::SGDOptions o;
  o.lr = 0.1;
  o.weight_decay = 0.5;
  nn::SGD opt(groups, o);
  EXPECT_EQ(opt.param_groups()[0].weight_decay, 0.5);  // unset: the options' value
  EXPECT_EQ(opt.param_groups()[1].weight_decay, 0.0);
  opt.set_lr(0.25);
  EXPECT_EQ(opt.lr(), 0.25);
  EXPECT_EQ(opt.param_groups()[1].lr, 0.25);
  opt.param_groups()[1].lr = 0;  // as a schedule would
  backward(add(sum(a), sum(b)));
  opt.step();
  EXPECT_EQ(ops::to_vector<float>(b), std::vector<float>(3, 1.0f));
  EXPECT_EQ(ops::to_vector<float>(a), std::vector<float>(3, 1.0f - 0.25f * (1 + 0.5f)));
  opt.param_groups()[0].params.push_back(ops::ones({1}).requires_grad_());
  expect_error([&] { opt.step(); }, {"SGD", "now hold 3 parameters", "built for 2"});
}

namespace {
// Two groups of parameters like those of a small model, and one gradient per step.
struct Problem {
  Tensor w = random_tensor({4, 3}, DType::F32, 1).requires_grad_(), b = random_tensor({3}, DType::F32, 2).requires_grad_();
  std::vector<nn::ParamGroup> groups() const { return {{{w}, 1e-2, 0.05}, {{b}, 2e-2, 0.0}}; }
  void grads(int t) {
    w.zero_grad();
    b.zero_grad();
    Tensor gw = random_tensor({4, 3}, DType::F32, 10 + t), gb = random_tensor({3}, DType::F32, 20 + t);
    backward(add(sum(mul(w, gw)), sum(mul(b, gb))));
  }
};
}  // namespace

TEST(Optim, StateNamesBuffersAndGroupSettings) {
  Problem pr;
  nn::AdamW opt(pr.groups());
  pr.grads(1);
  opt.step();
  nn::OptimizerState s = opt.state();
  std::vector<std::string> keys;
  for (const auto& [k, t] : s.tensors) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"state.0.exp_avg", "state.0.exp_avg_sq", "state.1.exp_avg",
                                            "state.1.exp_avg_sq"}));
  EXPECT_EQ(s.tensors.at("state.0.exp_avg").shape(), Shape({4, 3}));
  EXPECT_EQ(s.metadata.at("optimizer"), "AdamW");
  EXPECT_EQ(s.metadata.at("groups"), "2");
  EXPECT_EQ(s.metadata.at("group.0.lr"), "0.01");
  EXPECT_EQ(s.metadata.at("group.1.lr"), "0.02");
  EXPECT_EQ(s.metadata.at("group.0.weight_decay"), "0.05");
  EXPECT_EQ(s.metadata.at("group.1.params"), "1");
  EXPECT_EQ(s.metadata.at("state.1.step"), "1");
  EXPECT_EQ(s.metadata.at("steps"), "1");
  EXPECT_EQ(s.metadata.at("beta2"), "0.999");
}

TEST(Optim, LoadedStateResumesBitwise) {
  for (const std::string kind : {"AdamW", "Adam", "SGD"}) {
    auto make = [&](const Problem& pr) -> std::unique_ptr<nn::Optimizer> {
      if (kind == "AdamW") return std::make_unique<nn::AdamW>(pr.groups());
      if (kind == "Adam") return std::make_unique<nn::Adam>(pr.groups());
      nn::SGDOptions o;
      o.momentum = 0.9;
      return std::make_unique<nn::SGD>(pr.groups(), o);
    };
    Problem straight, resumed;
    auto a = make(straight), b = make(resumed);
    for (int t = 1; t <= 4; ++t) {
      straight.grads(t);
      a->step();
    }
    for (int t = 1; t <= 2; ++t) {
      resumed.grads(t);
      b->step();
    }
    Problem fresh;
    ops::copy_(fresh.w, resumed.w);
    ops::copy_(fresh.b, resumed.b);
    auto c = make(fresh);
    c->param_groups()[1].lr = 0.5;  // the loaded settings replace this
    c->load_state(b->state());
    EXPECT_EQ(c->steps(), 2);
    for (int t = 3; t <= 4; ++t) {
      fresh.grads(t);
      c->step();
    }
    EXPECT_EQ(ops::to_vector<float>(fresh.w), ops::to_vector<float>(straight.w)) << kind;
    EXPECT_EQ(ops::to_vector<float>(fresh.b), ops::to_vector<float>(straight.b)) << kind;
  }
}

TEST(Optim, LoadStateRefusesAStateThatDoesNotMatch) {
  Problem pr;
  nn::AdamW adamw(pr.groups());
  nn::Adam adam(pr.groups());
  expect_error([&] { adamw.load_state(adam.state(), "run.safetensors"); },
               {"run.safetensors: does not match this AdamW over 2 parameters in 2 groups", "from Adam"});
  nn::AdamW one({pr.w});
  expect_error([&] { adamw.load_state(one.state(), "s"); }, {"s: ", "1 parameters, not 2", "1 groups, not 2"});
  nn::OptimizerState s = adamw.state();
  s.tensors["state.1.exp_avg"] = ops::zeros({4});
  s.tensors["state.7.exp_avg"] = ops::zeros({1});
  s.metadata["group.0.lr"] = "fast";
  s.metadata["group.1.params"] = "-1";
  s.metadata.erase("state.0.step");
  s.tensors.erase("state.0.exp_avg_sq");
  pr.grads(1);
  adamw.step();
  const std::vector<float> before = ops::to_vector<float>(adamw.state().tensors.at("state.1.exp_avg"));
  expect_error([&] { adamw.load_state(s, "s"); },
               {"state.1.exp_avg is [4], the parameter [3]", "unexpected tensor state.7.exp_avg [1]",
                "group.0.lr is 'fast', not a number", "group.1.params is '-1', not a number", "no state.0.step", "no tensor state.0.exp_avg_sq"});
  EXPECT_EQ(ops::to_vector<float>(adamw.state().tensors.at("state.1.exp_avg")), before);  // nothing changed
  EXPECT_EQ(adamw.param_groups()[0].lr, 1e-2);
}
