// Reverse-mode autograd: graph nodes, grad mode, and backward().
//
// A differentiable op computes its output with the raw kernels (tensor/ops.h) and, only when grad
// mode is on and an input requires grad, attaches a Node: the inputs' autograd records plus a
// lambda that maps dL/d(output) to dL/d(each input). backward() orders the nodes topologically
// from the loss and runs the lambdas in reverse, summing gradients where a tensor fans out.
// docs/autograd.md follows one expression through this file.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "tensor/tensor.h"

namespace hipt {

using Grads = std::vector<Tensor>;  // one per input; undefined where none is needed
using BackwardFn = std::function<Grads(const Tensor& grad_output)>;

struct Node {
  ~Node();         // frees long chains iteratively: a recursive free would overflow the stack
  const char* op;  // for messages
  std::vector<std::shared_ptr<AutogradMeta>> inputs;  // null for inputs that need no gradient
  std::vector<Shape> input_shapes;                     // to check what each backward returns
  BackwardFn backward;                                 // released after use unless the graph is retained
};

// Grad mode is per thread and on by default. NoGradGuard turns it off for a scope: nothing is
// recorded, so inference allocates no graph.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when an op on these inputs must record a node.
bool needs_graph(const std::vector<const Tensor*>& inputs);
inline bool needs_graph(const Tensor& a) { return needs_graph({&a}); }
inline bool needs_graph(const Tensor& a, const Tensor& b) { return needs_graph({&a, &b}); }

// Attaches a node made by `op` to `out` and returns it. Call only when needs_graph() is true.
// The lambda must capture saved tensors detached (t.detach()), never `out` itself: a node that
// holds its own output would keep itself alive.
Tensor record(const char* op, Tensor out, const std::vector<const Tensor*>& inputs, BackwardFn backward);

// Accumulates d(root)/d(leaf) into every leaf's grad(). `grad` defaults to 1 for a one-element
// root. The graph is freed afterwards unless retain_graph; a second backward through a freed
// graph throws.
void backward(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false);

}  // namespace hipt
