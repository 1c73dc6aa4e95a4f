// nn/: module buffers (state saved and loaded but not trained) and the weight-normalised Linear,
// against PyTorch on tests/data/weight_norm_torch.txt (scripts/make_weight_norm_fixture.py).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "nn/layers.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {

// The fixture's lines: "<dtype> <case> <tensor> <hex floats>" and "keys <names>".
struct Fixture {
  std::map<std::string, std::vector<double>> values;  // "f32 free grad_v" -> values
  std::vector<std::string> keys;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture out;
    std::ifstream in(std::string(HIPT_TEST_DATA) + "/weight_norm_torch.txt");
    EXPECT_TRUE(in.good()) << "weight_norm_torch.txt is missing";
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string first, word;
      ls >> first;
      if (first == "keys") {
        while (ls >> word) out.keys.push_back(word);
        continue;
      }
      std::string c, tensor;
      ls >> c >> tensor;
      std::vector<double>& v = out.values[first + " " + c + " " + tensor];
      while (ls >> word) v.push_back(std::strtod(word.c_str(), nullptr));
    }
    return out;
  }();
  return f;
}

// The script's layer sizes and formulas.
constexpr int64_t kIn = 5, kOut = 4, kRows = 3;

Tensor table(int64_t rows, int64_t cols, const std::function<double(int64_t, int64_t)>& f, DType dtype) {
  std::vector<double> v;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v.push_back(f(r, c));
  return ops::cast(ops::from_vector(v, {rows, cols}), dtype);
}

// The largest difference must stay within rel · the largest magnitude of PyTorch's tensor.
void expect_matches_torch(const Tensor& got, const std::string& key, double rel) {
  auto it = fixture().values.find(key);
  ASSERT_NE(it, fixture().values.end()) << "no row " << key << " in the fixture";
  const std::vector<double>& want = it->second;
  std::vector<double> g = ops::to_vector<double>(got);
  ASSERT_EQ(g.size(), want.size()) << key;
  double scale = 0, err = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    err = std::max(err, std::abs(g[i] - want[i]));
  }
  EXPECT_LE(err, rel * scale) << key << ": largest difference " << err << " against magnitude " << scale;
}

struct Head : nn::Module {
  explicit Head(Generator& gen) {
    mlp = register_module("mlp", std::make_shared<nn::Linear>(3, 3, true, gen));
    center = register_buffer("center", ops::zeros({1, 2}));
    last_layer = register_module("last_layer", std::make_shared<nn::WeightNormLinear>(3, 2, true, gen));
  }
  std::shared_ptr<nn::Linear> mlp;
  std::shared_ptr<nn::WeightNormLinear> last_layer;
  Tensor center;
};

// The script's Net: registration order differs from state_dict order on purpose (buffers and
// parameters of one module come before its children's, parameters before buffers).
struct Net : nn::Module {
  explicit Net(Generator& gen) {
    head = register_module("head", std::make_shared<Head>(gen));
    step = register_buffer("step", ops::zeros({1}));
    gamma = register_parameter("gamma", ops::ones({3}));
  }
  std::shared_ptr<Head> head;
  Tensor step, gamma;
};

std::vector<std::string> names(const std::vector<nn::Parameter>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.name);
  return out;
}

}  // namespace

TEST(Buffers, StateDictKeysInPyTorchOrder) {
  Generator gen(0);
  Net net(gen);
  ASSERT_FALSE(fixture().keys.empty());
  EXPECT_EQ(names(net.named_state()), fixture().keys);
  EXPECT_EQ(names(net.named_buffers()), (std::vector<std::string>{"step", "head.center"}));
  nn::TensorMap sd = net.state_dict();
  std::vector<std::string> sd_keys;
  for (const auto& [k, t] : sd) sd_keys.push_back(k);
  std::vector<std::string> sorted = fixture().keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sd_keys, sorted);
}

TEST(Buffers, AreNotParametersAndNeverRequireGrad) {
  Generator gen(0);
  Net net(gen);
  EXPECT_EQ(names(net.named_parameters()),
            (std::vector<std::string>{"gamma", "head.mlp.weight", "head.mlp.bias", "head.last_layer.bias",
                                      "head.last_layer.weight_g", "head.last_layer.weight_v"}));
  EXPECT_EQ(net.parameters().size(), 6u);
  EXPECT_EQ(net.num_parameters(), 3 + 12 + 2 + 2 + 6);
  for (const auto& b : net.named_buffers()) EXPECT_FALSE(b.tensor.requires_grad()) << b.name;
  // a buffer and its member are one tensor; zero_grad and train leave it alone
  ops::fill_(net.head->center, 0.25);
  EXPECT_EQ(ops::to_vector<float>(net.state_dict().at("head.center")), (std::vector<float>{0.25f, 0.25f}));
  net.zero_grad();
  net.eval();
  EXPECT_EQ(ops::to_vector<float>(net.head->center), (std::vector<float>{0.25f, 0.25f}));
}

TEST(Buffers, RegistrationErrors) {
  struct Bad : nn::Module {
    void twice() {
      register_parameter("w", ops::zeros({2}));
      register_buffer("w", ops::zeros({2}));
    }
    void trained() { register_buffer("c", ops::zeros({2}).requires_grad_()); }
    void undefined() { register_buffer("c", Tensor()); }
  };
  expect_error([] { Bad().twice(); }, {"register_buffer: 'w' is already a parameter"});
  expect_error([] { Bad().trained(); }, {"register_buffer: 'c' requires grad"});
  expect_error([] { Bad().undefined(); }, {"register_buffer: 'c' is an undefined tensor"});
}

TEST(Buffers, SaveLoadRoundTrip) {
  Generator gen(1), gen2(2);
  Net a(gen), b(gen2);
  ops::copy_(a.head->center, ops::from_vector(std::vector<double>{0.5, -1.5}, {1, 2}));
  ops::fill_(a.step, 7);
  nn::TensorMap saved;
  for (const auto& [k, t] : a.state_dict()) saved[k] = ops::clone(t);
  b.load_state_dict(saved);
  // loading copies into the registered tensors, so the members see the values
  EXPECT_EQ(ops::to_vector<float>(b.head->center), (std::vector<float>{0.5f, -1.5f}));
  EXPECT_EQ(ops::to_vector<float>(b.step), (std::vector<float>{7.f}));
  for (const auto& [k, t] : a.state_dict())
    EXPECT_EQ(ops::to_vector<float>(b.state_dict().at(k)), ops::to_vector<float>(t)) << k;
  EXPECT_FALSE(b.head->center.requires_grad());
}

TEST(Buffers, LoadIsStrictAboutBuffers) {
  Generator gen(1);
  Net net(gen);
  nn::TensorMap sd;
  for (const auto& [k, t] : net.state_dict()) sd[k] = ops::clone(t);
  nn::TensorMap missing = sd;
  missing.erase("head.center");
  expect_error([&] { net.load_state_dict(missing, "ckpt.safetensors"); },
               {"ckpt.safetensors: does not match the model's 6 parameters and 2 buffers",
                "missing 1: head.center [1, 2]"});
  nn::TensorMap misshaped = sd;
  misshaped["step"] = ops::zeros({2});
  ops::fill_(misshaped["head.center"], 3);
  expect_error([&] { net.load_state_dict(misshaped, "ckpt.safetensors"); },
               {"wrong shape 1: step (file [2], model [1])"});
  EXPECT_EQ(ops::to_vector<float>(net.head->center), (std::vector<float>{0.f, 0.f}));  // nothing copied
}

TEST(WeightNorm, InitialWeightIsLinearsAndParametersAreInPyTorchOrder) {
  Generator g1(5), g2(5);
  nn::Linear lin(7, 3, true, g1);
  nn::WeightNormLinear wn(7, 3, true, g2);
  EXPECT_EQ(names(wn.named_parameters()), (std::vector<std::string>{"bias", "weight_g", "weight_v"}));
  EXPECT_EQ(wn.weight_g.shape(), Shape({3, 1}));
  EXPECT_EQ(ops::to_vector<float>(wn.weight_v), ops::to_vector<float>(lin.weight));
  EXPECT_EQ(ops::to_vector<float>(wn.bias), ops::to_vector<float>(lin.bias));
  expect_close(wn.weight(), lin.weight, 1e-7, 1e-6, "g · v / |v| at init");
  Tensor x = random_tensor({2, 7}, DType::F32, 9);
  expect_close(wn.forward(x), lin.forward(x), 1e-6, 1e-5, "forward at init");
  // g holds each row's norm
  std::vector<float> v = ops::to_vector<float>(wn.weight_v), g = ops::to_vector<float>(wn.weight_g);
  for (int o = 0; o < 3; ++o) {
    double n = 0;
    for (int i = 0; i < 7; ++i) n += double(v[o * 7 + i]) * v[o * 7 + i];
    EXPECT_NEAR(g[o], std::sqrt(n), 1e-6) << o;
  }
  nn::WeightNormLinear no_bias(7, 3, false, g2);
  EXPECT_EQ(names(no_bias.named_parameters()), (std::vector<std::string>{"weight_g", "weight_v"}));
  expect_error([&] { wn.forward(ops::zeros({2, 6})); },
               {"WeightNormLinear: input [2, 6] does not end in in_features 7"});
}

TEST(WeightNorm, ForwardAndGradientsEqualPyTorch) {
  for (DType dtype : {DType::F32, DType::F64}) {
    for (std::string c : {"free", "unit"}) {
      const std::string prefix = std::string(dtype == DType::F32 ? "f32 " : "f64 ") + c + " ";
      Generator gen(0);
      nn::WeightNormLinear layer(kIn, kOut, true, gen, dtype);
      auto v = [](int64_t o, int64_t i) { return std::sin(0.37 * double(o * kIn + i) + 0.1) * 0.6; };
      auto g = [](int64_t o, int64_t) { return 0.5 + 0.3 * std::cos(1.3 * double(o)); };
      auto b = [](int64_t, int64_t o) { return std::cos(0.7 * double(o)) * 0.1; };
      auto xf = [](int64_t r, int64_t i) { return std::cos(0.23 * double(r * kIn + i) - 0.4); };
      auto uf = [](int64_t r, int64_t o) { return std::sin(0.5 * double(r * kOut + o) + 0.2); };
      ops::copy_(layer.weight_v, table(kOut, kIn, v, dtype));
      if (c == "free") {
        ops::copy_(layer.weight_g, table(kOut, 1, g, dtype));
      } else {
        ops::fill_(layer.weight_g, 1);
        layer.freeze_g();
      }
      ops::copy_(layer.bias, reshape(table(1, kOut, b, dtype), {kOut}));
      Tensor x = table(kRows, kIn, xf, dtype);
      x.requires_grad_();
      Tensor u = table(kRows, kOut, uf, dtype);
      Tensor y = layer.forward(x);
      backward(sum(mul(y, u)));
      const double rel = dtype == DType::F32 ? 1e-6 : 1e-13;
      expect_matches_torch(y, prefix + "y", rel);
      expect_matches_torch(layer.weight_v.grad(), prefix + "grad_v", rel);
      expect_matches_torch(layer.bias.grad(), prefix + "grad_bias", rel);
      expect_matches_torch(x.grad(), prefix + "grad_x", rel);
      if (c == "free") {
        ASSERT_EQ(layer.weight_g.grad().shape(), Shape({kOut, 1}));
        expect_matches_torch(layer.weight_g.grad(), prefix + "grad_g", rel);
      } else {
        EXPECT_FALSE(layer.weight_g.grad().defined()) << "a frozen g gets no gradient";
        EXPECT_EQ(names(layer.named_parameters()).size(), 3u);  // still a parameter: saved and loaded
      }
    }
  }
}

TEST(WeightNorm, Gradcheck) {
  for (bool with_bias : {true, false}) {
    Generator gen(3);
    nn::WeightNormLinear layer(4, 3, with_bias, gen, DType::F64);
    Tensor x = random_tensor({2, 4}, DType::F64, 11);
    std::vector<Tensor> inputs = {x, layer.weight_g, layer.weight_v};
    if (with_bias) inputs.push_back(layer.bias);
    // the layer's own tensors are perturbed in place by gradcheck, so forward sees each change
    expect_gradcheck([&](const std::vector<Tensor>& in) { return layer.forward(in[0]); }, inputs);
    // a 1-D input and a negative g take the same path
    ops::fill_(slice(layer.weight_g, 0, 1, 2), -0.7);
    expect_gradcheck([&](const std::vector<Tensor>& in) { return layer.forward(in[0]); },
                     {random_tensor({4}, DType::F64, 12), layer.weight_g, layer.weight_v});
  }
}
