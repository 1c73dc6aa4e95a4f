// nn/clip: DINO's clip_gradients and torch.nn.utils.clip_grad_norm_ against PyTorch 1.13
// (tests/data/clip_torch.txt, written by scripts/make_schedule_clip_fixture.py), and the errors.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "nn/clip.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {

// The fixture's gradients: grad_k[i] = a_k * sin(0.37 i + 0.3 k + 0.1), computed in double and cast.
const std::vector<Shape> kShapes = {{13}, {4, 5}, {3, 2, 2}, {16, 21}};
const std::vector<double> kScales = {0.1, 2.0, 0.35, 0.05};

// Parameters (zeros) whose gradients are the fixture's, set by a backward pass.
std::vector<Tensor> params_with_grads(DType dtype) {
  std::vector<Tensor> params;
  for (size_t k = 0; k < kShapes.size(); ++k) {
    std::vector<double> g(static_cast<size_t>(kShapes[k].numel()));
    for (size_t i = 0; i < g.size(); ++i) g[i] = kScales[k] * std::sin(0.37 * double(i) + 0.3 * double(k) + 0.1);
    Tensor p = ops::zeros(kShapes[k], dtype).requires_grad_();
    backward(sum(mul(p, ops::cast(ops::from_vector(g, kShapes[k]), dtype))));  // dL/dp = g
    params.push_back(p);
  }
  return params;
}

// "<case> <what> <hex values>" lines of tests/data/clip_torch.txt, by "<case> <what>".
const std::map<std::string, std::vector<double>>& fixture() {
  static const std::map<std::string, std::vector<double>> rows = [] {
    std::map<std::string, std::vector<double>> r;
    std::ifstream in(std::string(HIPT_TEST_DATA) + "/clip_torch.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string name, what, tok;
      ls >> name >> what;
      std::vector<double>& v = r[name + " " + what];
      while (ls >> tok) v.push_back(std::strtod(tok.c_str(), nullptr));
    }
    return r;
  }();
  return rows;
}

const std::vector<double>& row(const std::string& key) {
  static const std::vector<double> none;
  auto it = fixture().find(key);
  if (it == fixture().end()) {
    ADD_FAILURE() << "no row \"" << key << "\" in tests/data/clip_torch.txt";
    return none;
  }
  return it->second;
}

void expect_norms(const std::vector<double>& got, const std::string& name) {
  const std::vector<double>& want = row(name + " norms");
  ASSERT_EQ(got.size(), want.size()) << name;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * std::abs(want[i])) << name << " " << i;
}

void expect_grads(const std::vector<Tensor>& params, const std::string& name) {
  for (size_t k = 0; k < params.size(); ++k) {
    const std::string key = name + " grad" + std::to_string(k);
    expect_close(params[k].grad(), row(key), 0, 1e-6, key);
  }
}

}  // namespace

TEST(Clip, PerTensorEqualsDino) {
  for (auto [name, clip, dtype] : {std::tuple{"per_tensor_1", 1.0, DType::F32}, {"per_tensor_0.25", 0.25, DType::F32},
                                   {"per_tensor_100", 100.0, DType::F32}, {"per_tensor_f64_1", 1.0, DType::F64}}) {
    std::vector<Tensor> params = params_with_grads(dtype);
    expect_norms(nn::clip_gradients(params, clip), name);
    expect_grads(params, name);
    for (const Tensor& p : params) EXPECT_EQ(p.grad().dtype(), dtype);
  }
}

TEST(Clip, GlobalNormEqualsTorch) {
  for (auto [name, max_norm, dtype] :
       {std::tuple{"global_2", 2.0, DType::F32}, {"global_100", 100.0, DType::F32}, {"global_f64_2", 2.0, DType::F64}}) {
    std::vector<Tensor> params = params_with_grads(dtype);
    expect_norms({nn::clip_grad_norm(params, max_norm)}, name);
    expect_grads(params, name);
  }
}

TEST(Clip, SkipsParametersWithoutGradients) {
  std::vector<Tensor> params = params_with_grads(DType::F32);
  Tensor frozen = ops::ones({5}).requires_grad_();  // no backward reached it
  params.insert(params.begin() + 1, frozen);
  std::vector<double> norms = nn::clip_gradients(params, 1.0);
  EXPECT_EQ(norms.size(), 4u);
  EXPECT_FALSE(frozen.grad().defined());
  params.erase(params.begin() + 1);
  expect_grads(params, "per_tensor_1");

  std::vector<Tensor> again = params_with_grads(DType::F32);
  again.push_back(frozen);
  expect_norms({nn::clip_grad_norm(again, 2.0)}, "global_2");
  EXPECT_EQ(nn::clip_grad_norm({frozen}, 2.0), 0.0);
  EXPECT_TRUE(nn::clip_gradients({frozen}, 2.0).empty());
}

TEST(Clip, Errors) {
  std::vector<Tensor> params = params_with_grads(DType::F32);
  expect_error([&] { nn::clip_gradients(params, -1.0); }, {"clip_gradients", "clip", "> 0", "-1"});
  expect_error([&] { nn::clip_gradients(params, 0.0); }, {"clip_gradients", "> 0"});
  expect_error([&] { nn::clip_gradients(params, NAN); }, {"clip_gradients", "finite"});
  expect_error([&] { nn::clip_grad_norm(params, -2.0); }, {"clip_grad_norm", "max_norm", "> 0"});
  expect_error([&] { nn::clip_grad_norm(params, INFINITY); }, {"clip_grad_norm", "finite"});
  std::vector<Tensor> mixed = params_with_grads(DType::F32);
  mixed.push_back(params_with_grads(DType::F64)[0]);
  expect_error([&] { nn::clip_grad_norm(mixed, 1.0); }, {"clip_grad_norm", "f32", "f64"});
  // The failed calls changed nothing.
  expect_grads(params, "per_tensor_100");
}

TEST(Clip, NonFiniteTotalSpreadsAsInTorch) {
  // torch.nn.utils.clip_grad_norm_ with a NaN in one gradient returns NaN and leaves every
  // gradient NaN (the clamped coefficient stays NaN).
  Tensor a = ops::zeros({2}).requires_grad_(), b = ops::zeros({2}).requires_grad_();
  backward(sum(mul(a, ops::from_vector<float>({NAN, 1.f}, {2}))));
  backward(sum(mul(b, ops::from_vector<float>({1.f, 2.f}, {2}))));
  EXPECT_TRUE(std::isnan(nn::clip_grad_norm({a, b}, 1.0)));
  for (float v : ops::to_vector<float>(b.grad())) EXPECT_TRUE(std::isnan(v));
}
