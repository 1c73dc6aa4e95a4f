// Module: a tree of named parameters, named the way PyTorch names state-dict keys
// ("blocks.0.attn.qkv.weight"), so checkpoints map one to one.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"

namespace hipt::nn {

// Tensors by name, as a state dict holds them (the same alias as io::TensorMap; nn/ does not
// include io/).
using TensorMap = std::map<std::string, Tensor>;

struct Parameter {
  std::string name;  // full dotted name from the root module
  Tensor tensor;     // a leaf with requires_grad; shares storage with the module's member
};

class Module {
 public:
  virtual ~Module() = default;

  std::vector<Parameter> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;  // total elements

  // The parameters by name; the tensors are the module's own (writing into them changes it).
  TensorMap state_dict() const;
  // Copies each tensor into the parameter of the same name, converted to the parameter's dtype.
  // Strict: every missing, unexpected or mis-shaped name is listed (with shapes) in one
  // hipt::Error that starts with `source` (the file name); nothing is copied then.
  void load_state_dict(const TensorMap& tensors, const std::string& source = "state dict");
  void zero_grad();

  // Training mode (dropout active) vs evaluation; applies to the whole subtree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  // Registers `t` as a parameter under `name` and marks it requires_grad. Keep the returned
  // handle as the member: it and the registry share the tensor.
  Tensor register_parameter(const std::string& name, Tensor t);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.push_back({name, m});
    return m;
  }

 private:
  void collect(const std::string& prefix, std::vector<Parameter>& out) const;
  std::vector<Parameter> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace hipt::nn
