#include "nn/module.h"

namespace hipt::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  for (const auto& p : params_) HIPT_CHECK(p.name != name, "register_parameter: '{}' registered twice", name);
  t.requires_grad_();
  params_.push_back({name, t});
  return t;
}

void Module::collect(const std::string& prefix, std::vector<Parameter>& out) const {
  for (const auto& p : params_) out.push_back({prefix + p.name, p.tensor});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<Parameter> Module::named_parameters() const {
  std::vector<Parameter> out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& p : named_parameters()) out.push_back(p.tensor);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : named_parameters()) n += p.tensor.numel();
  return n;
}

void Module::zero_grad() {
  for (auto& p : named_parameters()) p.tensor.zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

}  // namespace hipt::nn
