#include "autograd/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "tensor/ops.h"

namespace hipt {
namespace {
thread_local bool t_grad_enabled = true;
}

// A chain of a million nodes (a running total never detached) would free recursively, node ->
// input meta -> its node -> ..., and overflow the stack. Instead each dying node hands the nodes
// that only it keeps alive to a local stack, so every destructor runs at depth one.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> orphans;
  auto adopt = [&](std::vector<std::shared_ptr<AutogradMeta>>& metas) {
    for (auto& m : metas)
      if (m && m.use_count() == 1 && m->grad_fn) orphans.push_back(std::move(m->grad_fn));
    metas.clear();
  };
  adopt(inputs);
  while (!orphans.empty()) {
    std::shared_ptr<Node> n = std::move(orphans.back());
    orphans.pop_back();
    if (n.use_count() == 1) adopt(n->inputs);
  }  // n dies here with no inputs left, so its destructor does not recurse
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

bool needs_graph(const std::vector<const Tensor*>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

Tensor record(const char* op, Tensor out, const std::vector<const Tensor*>& inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  for (const Tensor* t : inputs) {
    node->inputs.push_back(t->defined() && t->requires_grad() ? t->autograd_meta() : nullptr);
    node->input_shapes.push_back(t->defined() ? t->shape() : Shape{});
  }
  node->backward = std::move(backward);
  auto meta = std::make_shared<AutogradMeta>();
  meta->grad_fn = std::move(node);
  out.set_autograd_meta(std::move(meta));
  return out;
}

namespace {

// Nodes in an order where every node comes after all nodes that consume its output, found by an
// iterative depth-first search (deep graphs would overflow a recursive one).
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const auto& in = node->inputs[next++];
      Node* child = in ? in->grad_fn.get() : nullptr;
      if (child && visited.insert(child).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};  // consumers first
}

void accumulate(Tensor& slot, const Tensor& g) { slot = slot.defined() ? ops::add(slot, g) : g; }

}  // namespace

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  HIPT_CHECK(root.requires_grad(), "backward: the tensor {} does not require grad (no parameter reaches it)", root.str());
  Tensor seed = grad;
  if (!seed.defined()) {
    HIPT_CHECK(root.numel() == 1, "backward: root {} has {} elements; pass its gradient explicitly", root.str(),
               root.numel());
    seed = ops::ones_like(root);
  }
  HIPT_CHECK(seed.shape() == root.shape(), "backward: gradient {} does not match root {}", seed.str(), root.str());
  NoGradGuard no_grad;  // a rule that calls a differentiable op must not grow the graph it walks

  const auto& meta = root.autograd_meta();
  if (!meta->grad_fn) {  // the root is itself a leaf
    meta->grad = meta->grad.defined() ? ops::add(meta->grad, seed) : ops::clone(seed);
    return;
  }
  std::unordered_map<Node*, Tensor> pending{{meta->grad_fn.get(), seed}};
  for (Node* node : topological_order(meta->grad_fn.get())) {
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // no gradient flows through this node
    Tensor g = std::move(it->second);
    pending.erase(it);
    HIPT_CHECK(node->backward, "backward: the graph through '{}' was already freed; pass retain_graph=true to the "
               "first backward to run it twice", node->op);
    Grads grads = node->backward(g);
    HIPT_CHECK(grads.size() == node->inputs.size(), "backward: '{}' returned {} gradients for {} inputs", node->op,
               grads.size(), node->inputs.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      const auto& in = node->inputs[i];
      if (!in || !grads[i].defined()) continue;
      HIPT_CHECK(grads[i].shape() == node->input_shapes[i], "backward: '{}' gave a gradient of shape {} for input {} "
                 "of shape {}", node->op, grads[i].shape().str(), i, node->input_shapes[i].str());
      if (in->grad_fn)
        accumulate(pending[in->grad_fn.get()], grads[i]);
      else if (in->requires_grad)  // a leaf owns its gradient: never alias a tensor another slot holds
        in->grad = in->grad.defined() ? ops::add(in->grad, grads[i]) : ops::clone(grads[i]);
    }
    if (!retain_graph) node->backward = nullptr;  // frees the tensors the lambda saved
  }
}

}  // namespace hipt
