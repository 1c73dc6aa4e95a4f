// A complete training program against hipt's public API: an MLP learns to separate two spirals.
//
//   cmake --build build --target spiral_mlp && ./build/bin/spiral_mlp
//
// The pieces: a Module with named parameters (nn/), differentiable ops (autograd/functions.h,
// autograd/nn_functions.h), backward() and an optimizer (nn/optim.h).
#include <fmt/core.h>

#include "autograd/nn_functions.h"
#include "examples/spirals.h"  // make_spirals: 2n points on two interleaved spirals, labels 0/1
#include "nn/layers.h"
#include "nn/optim.h"

using namespace hipt;

// Two hidden layers of 32 with GELU: parameters are registered under the names a PyTorch
// state dict would use ("hidden.weight", ...).
struct SpiralNet : nn::Module {
  explicit SpiralNet(Generator& gen)
      : hidden(register_module("hidden", std::make_shared<nn::Linear>(2, 32, true, gen))),
        hidden2(register_module("hidden2", std::make_shared<nn::Linear>(32, 32, true, gen))),
        out(register_module("out", std::make_shared<nn::Linear>(32, 2, true, gen))) {}

  // x [N, 2] -> logits [N, 2]
  Tensor operator()(const Tensor& x) const { return out->forward(gelu(hidden2->forward(gelu(hidden->forward(x))))); }

  std::shared_ptr<nn::Linear> hidden, hidden2, out;
};

int main() {
  SpiralsData data = make_spirals(/*points per arm=*/200, /*noise=*/0.02, /*seed=*/7);
  Generator gen(42);  // the same seed always gives the same initial weights
  SpiralNet net(gen);
  nn::AdamW optimizer(net.parameters(), {/*lr=*/1e-2, 0.9, 0.999, 1e-8, /*weight_decay=*/1e-4});

  for (int step = 1; step <= 1500; ++step) {
    optimizer.zero_grad();                                  // forget the last step's gradients
    Tensor loss = cross_entropy(net(data.points), data.labels);  // records the graph as it computes
    backward(loss);                                         // fills p.grad() for every parameter
    optimizer.step();                                       // p -= lr * adam(p.grad()), in place
    if (step % 300 == 0) fmt::print("step {:4d}  loss {:.4f}\n", step, loss.item());
  }

  NoGradGuard inference;  // no graph from here on
  Tensor predicted = ops::argmax(net(data.points), /*dim=*/1);
  double accuracy = ops::mean(ops::cast(ops::compare(ops::Compare::Eq, predicted, data.labels), DType::F64)).item();
  fmt::print("training accuracy {:.1f}% with {} parameters\n", 100 * accuracy, net.num_parameters());
  return accuracy >= 0.98 ? 0 : 1;
}
