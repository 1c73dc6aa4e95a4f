#include "examples/spirals.h"

#include <chrono>
#include <cmath>

#include "autograd/nn_functions.h"
#include "nn/layers.h"
#include "nn/optim.h"

namespace hipt {

SpiralsData make_spirals(int64_t n, double noise, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> t = ops::to_vector<float>(ops::uniform({n}, 0.05, 1.0, gen));
  std::vector<float> jitter = ops::to_vector<float>(ops::normal({2 * n, 2}, 0.0, noise, gen));
  std::vector<float> pts;
  std::vector<int64_t> labels;
  for (int c = 0; c < 2; ++c)
    for (int64_t i = 0; i < n; ++i) {
      double angle = 3.5 * M_PI * t[i] + c * M_PI;  // the second arm is the first rotated by 180°
      int64_t k = c * n + i;
      pts.push_back(static_cast<float>(t[i] * std::cos(angle)) + jitter[2 * k]);
      pts.push_back(static_cast<float>(t[i] * std::sin(angle)) + jitter[2 * k + 1]);
      labels.push_back(c);
    }
  return {ops::from_vector(pts, {2 * n, 2}), ops::from_vector(labels, {2 * n})};
}

namespace {
struct Mlp : nn::Module {
  explicit Mlp(Generator& gen) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(2, 64, true, gen));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(64, 64, true, gen));
    fc3 = register_module("fc3", std::make_shared<nn::Linear>(64, 2, true, gen));
  }
  Tensor forward(const Tensor& x) const { return fc3->forward(tanh(fc2->forward(tanh(fc1->forward(x))))); }
  std::shared_ptr<nn::Linear> fc1, fc2, fc3;
};
}  // namespace

SpiralsReport train_spirals(int steps, uint64_t seed, const std::function<void(int, int, double)>& progress) {
  HIPT_CHECK(steps > 0, "train_spirals: steps must be positive, got {}", steps);
  auto start = std::chrono::steady_clock::now();
  SpiralsData data = make_spirals(200, 0.02, seed);
  Generator gen(seed + 1);
  Mlp mlp(gen);
  nn::AdamWOptions o;
  o.lr = 1e-2;
  o.weight_decay = 1e-4;
  nn::AdamW opt(mlp.parameters(), o);
  SpiralsReport report;
  for (int step = 1; step <= steps; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(mlp.forward(data.points), data.labels);
    backward(loss);
    opt.step();
    report.loss.push_back(loss.item());
    if (progress) progress(step, steps, report.loss.back());
  }
  NoGradGuard no_grad;
  Tensor predicted = ops::argmax(mlp.forward(data.points), 1);
  Tensor correct = ops::compare(ops::Compare::Eq, predicted, data.labels);
  report.accuracy = ops::mean(ops::cast(correct, DType::F64)).item();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace hipt
