#include "nn/optim.h"

#include <fmt/ranges.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <type_traits>

#include "tensor/ops.h"
#include "tensor/optim_ops.h"

namespace hipt::nn {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Metadata numbers: fmt writes the shortest string that reads back to the same double.
std::string number(double v) { return fmt::format("{}", v); }

// Reads metadata[key] as a number into `out`; a missing or malformed entry is added to `problems`.
template <class T>
void read_number(const std::map<std::string, std::string>& md, const std::string& key, T& out,
                 std::vector<std::string>& problems) {
  auto it = md.find(key);
  if (it == md.end()) {
    problems.push_back(fmt::format("no {}", key));
    return;
  }
  const char* s = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  if constexpr (std::is_floating_point_v<T>)
    out = std::strtod(s, &end);
  else
    out = static_cast<T>(std::strtoll(s, &end, 10));
  const bool negative_count = std::is_unsigned_v<T> && it->second.find('-') != std::string::npos;
  if (it->second.empty() || *end != '\0' || errno == ERANGE || negative_count)
    problems.push_back(fmt::format("{} is '{}', not a number", key, it->second));
}

}  // namespace

std::vector<ParamGroup> decay_groups(const std::vector<Parameter>& params, double lr, double weight_decay) {
  ParamGroup decay, no_decay;
  decay.lr = no_decay.lr = lr;
  decay.weight_decay = weight_decay;
  no_decay.weight_decay = 0;
  for (const Parameter& p : params) {
    if (!p.tensor.requires_grad()) continue;
    (ends_with(p.name, ".bias") || p.tensor.dim() <= 1 ? no_decay : decay).params.push_back(p.tensor);
  }
  return {decay, no_decay};
}

Optimizer::Optimizer(const char* kind, std::vector<ParamGroup> groups, double lr, double weight_decay,
                     std::vector<std::string> buffers)
    : kind_(kind), buffer_names_(std::move(buffers)) {
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    ParamGroup kept;
    kept.lr = std::isnan(groups[gi].lr) ? lr : groups[gi].lr;
    kept.weight_decay = std::isnan(groups[gi].weight_decay) ? weight_decay : groups[gi].weight_decay;
    HIPT_CHECK(kept.lr >= 0 && kept.weight_decay >= 0, "{}: group {} needs lr and weight_decay >= 0, got {} and {}",
               kind, gi, kept.lr, kept.weight_decay);
    for (const Tensor& p : groups[gi].params) {
      HIPT_CHECK(p.defined(), "{}: group {} holds an undefined tensor", kind, gi);
      if (!p.requires_grad()) continue;  // frozen: not trained
      HIPT_CHECK(p.is_leaf() && p.is_contiguous(), "{}: parameter {} must be a contiguous leaf", kind, p.str());
      kept.params.push_back(p);
      std::vector<Tensor> bufs;
      for (size_t b = 0; b < buffer_names_.size(); ++b) bufs.push_back(ops::zeros_like(p));
      buffers_.push_back(std::move(bufs));
    }
    groups_.push_back(std::move(kept));
  }
  param_steps_.assign(buffers_.size(), 0);
}

void Optimizer::step() {
  size_t n = 0;
  for (const ParamGroup& g : groups_) n += g.params.size();
  HIPT_CHECK(n == buffers_.size(), "{}: the parameter groups now hold {} parameters, the optimizer was built for {}",
             kind_, n, buffers_.size());
  ++steps_;
  size_t k = 0;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (grad.defined()) {
        ++param_steps_[k];
        update(k, g, p, ops::contiguous(grad));
      }
      ++k;
    }
}

void Optimizer::zero_grad() {
  for (ParamGroup& g : groups_)
    for (Tensor& p : g.params) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  for (ParamGroup& g : groups_) g.lr = lr;
}

OptimizerState Optimizer::state() const {
  OptimizerState s;
  auto& md = s.metadata;
  md["optimizer"] = kind_;
  md["params"] = std::to_string(buffers_.size());
  md["groups"] = std::to_string(groups_.size());
  md["steps"] = std::to_string(steps_);
  for (size_t g = 0; g < groups_.size(); ++g) {
    md[fmt::format("group.{}.params", g)] = std::to_string(groups_[g].params.size());
    md[fmt::format("group.{}.lr", g)] = number(groups_[g].lr);
    md[fmt::format("group.{}.weight_decay", g)] = number(groups_[g].weight_decay);
  }
  for (const auto& [name, value] : options_) md[name] = number(*value);
  for (size_t k = 0; k < buffers_.size(); ++k) {
    md[fmt::format("state.{}.step", k)] = std::to_string(param_steps_[k]);
    for (size_t b = 0; b < buffer_names_.size(); ++b)
      s.tensors[fmt::format("state.{}.{}", k, buffer_names_[b])] = buffers_[k][b];
  }
  return s;
}

void Optimizer::load_state(const OptimizerState& state, const std::string& source) {
  const auto& md = state.metadata;
  std::vector<std::string> problems;
  auto kind = md.find("optimizer");
  if (kind == md.end())
    problems.push_back("no optimizer kind");
  else if (kind->second != kind_)
    problems.push_back(fmt::format("it is from {}", kind->second));
  size_t n = 0, ngroups = 0;
  read_number(md, "params", n, problems);
  read_number(md, "groups", ngroups, problems);
  if (n != buffers_.size()) problems.push_back(fmt::format("{} parameters, not {}", n, buffers_.size()));
  if (ngroups != groups_.size()) problems.push_back(fmt::format("{} groups, not {}", ngroups, groups_.size()));
  if (!problems.empty())
    throw Error(fmt::format("{}: does not match this {} over {} parameters in {} groups: {}", source, kind_,
                            buffers_.size(), groups_.size(), fmt::join(problems, "; ")));

  std::vector<ParamGroup> groups = groups_;
  for (size_t g = 0; g < groups.size(); ++g) {
    size_t size = 0;
    read_number(md, fmt::format("group.{}.params", g), size, problems);
    if (size != groups[g].params.size())
      problems.push_back(fmt::format("group {} has {} parameters, not {}", g, size, groups[g].params.size()));
    read_number(md, fmt::format("group.{}.lr", g), groups[g].lr, problems);
    read_number(md, fmt::format("group.{}.weight_decay", g), groups[g].weight_decay, problems);
  }
  std::vector<double> options(options_.size());
  for (size_t i = 0; i < options_.size(); ++i) read_number(md, options_[i].first, options[i], problems);
  int64_t steps = 0;
  read_number(md, "steps", steps, problems);
  std::vector<int64_t> param_steps(buffers_.size());
  std::set<std::string> wanted;
  size_t k = 0;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      read_number(md, fmt::format("state.{}.step", k), param_steps[k], problems);
      for (const std::string& b : buffer_names_) {
        const std::string key = fmt::format("state.{}.{}", k, b);
        wanted.insert(key);
        auto it = state.tensors.find(key);
        if (it == state.tensors.end())
          problems.push_back(fmt::format("no tensor {}", key));
        else if (it->second.shape() != p.shape())
          problems.push_back(fmt::format("{} is {}, the parameter {}", key, it->second.shape().str(), p.shape().str()));
      }
      ++k;
    }
  for (const auto& [key, t] : state.tensors)
    if (!wanted.count(key)) problems.push_back(fmt::format("unexpected tensor {} {}", key, t.shape().str()));
  if (!problems.empty())
    throw Error(fmt::format("{}: does not match this {} over {} parameters in {} groups: {}", source, kind_,
                            buffers_.size(), groups_.size(), fmt::join(problems, "; ")));

  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = groups[g].lr;
    groups_[g].weight_decay = groups[g].weight_decay;
  }
  for (size_t i = 0; i < options_.size(); ++i) *options_[i].second = options[i];
  steps_ = steps;
  param_steps_ = param_steps;
  for (k = 0; k < buffers_.size(); ++k)
    for (size_t b = 0; b < buffer_names_.size(); ++b)
      ops::copy_(buffers_[k][b], state.tensors.at(fmt::format("state.{}.{}", k, buffer_names_[b])));
}

namespace {
std::vector<ParamGroup> one_group(std::vector<Tensor> params) {
  ParamGroup g;
  g.params = std::move(params);
  return {g};
}
AdamWOptions as_adamw(const AdamOptions& o) { return {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}; }
}  // namespace

AdamBase::AdamBase(const char* kind, std::vector<ParamGroup> groups, const AdamWOptions& opts, bool decoupled)
    : Optimizer(kind, std::move(groups), opts.lr, opts.weight_decay, {"exp_avg", "exp_avg_sq"}),
      opts_(opts),
      decoupled_(decoupled) {
  save_options_with_state({{"beta1", &opts_.beta1}, {"beta2", &opts_.beta2}, {"eps", &opts_.eps}});
  HIPT_CHECK(opts.lr >= 0 && opts.eps >= 0 && opts.weight_decay >= 0, "{}: lr, eps and weight_decay must be >= 0",
             kind);
  HIPT_CHECK(opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1,
             "{}: betas must be in [0, 1), got ({}, {})", kind, opts.beta1, opts.beta2);
}

void AdamBase::update(size_t k, const ParamGroup& group, const Tensor& param, const Tensor& grad) {
  ops::AdamWHyper h{group.lr, opts_.beta1, opts_.beta2, opts_.eps, group.weight_decay, steps_of(k)};
  h.decoupled = decoupled_;
  ops::adamw_step(param, grad, buffer(k, 0), buffer(k, 1), h);
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& opts) : AdamW(one_group(std::move(params)), opts) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& opts)
    : AdamBase("AdamW", std::move(groups), opts, true) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& opts) : Adam(one_group(std::move(params)), opts) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& opts)
    : AdamBase("Adam", std::move(groups), as_adamw(opts), false) {}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& opts) : SGD(one_group(std::move(params)), opts) {}
SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& opts)
    : Optimizer("SGD", std::move(groups), opts.lr, opts.weight_decay, {"momentum_buffer"}), opts_(opts) {
  save_options_with_state({{"momentum", &opts_.momentum}});
  HIPT_CHECK(opts.lr >= 0 && opts.momentum >= 0 && opts.weight_decay >= 0,
             "SGD: lr, momentum and weight_decay must be >= 0");
}

void SGD::update(size_t k, const ParamGroup& group, const Tensor& param, const Tensor& grad) {
  ops::sgd_step(param, grad, buffer(k, 0), group.lr, opts_.momentum, group.weight_decay, steps_of(k) == 1);
}

}  // namespace hipt::nn
