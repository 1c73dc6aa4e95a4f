#include "nn/module.h"

#include <fmt/ranges.h>

#include <set>

#include "tensor/ops.h"

namespace hipt::nn {

void Module::check_new_name(const char* what, const std::string& name) const {
  for (const auto& p : params_) HIPT_CHECK(p.name != name, "{}: '{}' is already a parameter", what, name);
  for (const auto& b : buffers_) HIPT_CHECK(b.name != name, "{}: '{}' is already a buffer", what, name);
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name("register_parameter", name);
  t.requires_grad_();
  params_.push_back({name, t});
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name("register_buffer", name);
  HIPT_CHECK(t.defined(), "register_buffer: '{}' is an undefined tensor", name);
  HIPT_CHECK(!t.requires_grad(), "register_buffer: '{}' requires grad; a buffer is not trained", name);
  buffers_.push_back({name, t});
  return t;
}

void Module::collect(const std::string& prefix, bool params, bool buffers, std::vector<Parameter>& out) const {
  if (params)
    for (const auto& p : params_) out.push_back({prefix + p.name, p.tensor});
  if (buffers)
    for (const auto& b : buffers_) out.push_back({prefix + b.name, b.tensor});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, buffers, out);
}

std::vector<Parameter> Module::named_parameters() const {
  std::vector<Parameter> out;
  collect("", true, false, out);
  return out;
}

std::vector<Parameter> Module::named_buffers() const {
  std::vector<Parameter> out;
  collect("", false, true, out);
  return out;
}

std::vector<Parameter> Module::named_state() const {
  std::vector<Parameter> out;
  collect("", true, true, out);
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

TensorMap Module::state_dict() const {
  TensorMap out;
  for (auto& p : named_state()) out.emplace(p.name, p.tensor);
  return out;
}

void Module::load_state_dict(const TensorMap& tensors, const std::string& source) {
  std::vector<std::string> missing, unexpected, misshaped;
  std::vector<Parameter> state = named_state();
  std::set<std::string> wanted;
  for (const auto& p : state) wanted.insert(p.name);
  for (const auto& p : state) {
    auto it = tensors.find(p.name);
    if (it == tensors.end())
      missing.push_back(fmt::format("{} {}", p.name, p.tensor.shape().str()));
    else if (it->second.shape() != p.tensor.shape())
      misshaped.push_back(fmt::format("{} (file {}, model {})", p.name, it->second.shape().str(), p.tensor.shape().str()));
  }
  for (const auto& [name, t] : tensors)
    if (!wanted.count(name)) unexpected.push_back(fmt::format("{} {}", name, t.shape().str()));
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    const size_t buffers = named_buffers().size();
    std::string msg = fmt::format("{}: does not match the model's {} parameters", source, state.size() - buffers);
    if (buffers) msg += fmt::format(" and {} buffers", buffers);
    if (!missing.empty()) msg += fmt::format("; missing {}: {}", missing.size(), fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format("; unexpected {}: {}", unexpected.size(), fmt::join(unexpected, ", "));
    if (!misshaped.empty()) msg += fmt::format("; wrong shape {}: {}", misshaped.size(), fmt::join(misshaped, ", "));
    throw Error(msg);
  }
  for (const auto& p : state) ops::copy_(p.tensor, tensors.at(p.name));
}

void Module::to(Device device) {
  for (Parameter& p : named_state()) {
    Storage& old = *p.tensor.storage();
    p.tensor.zero_grad();
    if (old.device() == device) continue;
    // The whole storage as bytes, so views into it keep their offsets and strides.
    const Shape bytes{static_cast<int64_t>(old.nbytes())};
    auto fresh = Storage::allocate(old.nbytes(), device);
    const Tensor src(p.tensor.storage(), bytes, contiguous_strides(bytes), 0, DType::U8);
    const Tensor dst(fresh, bytes, contiguous_strides(bytes), 0, DType::U8);
    ops::copy_(dst, src);
    old.swap_contents(*fresh);  // `fresh` now owns the old memory and frees it
  }
}

void Module::zero_grad() {
  for (auto& p : named_parameters()) p.tensor.zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

}  // namespace hipt::nn
