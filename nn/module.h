// Module: a tree of named parameters and buffers, named the way PyTorch names state-dict keys
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

// A parameter or a buffer with its key.
struct Parameter {
  std::string name;  // full dotted name from the root module
  Tensor tensor;     // shares storage with the module's member; a parameter is a leaf (requires_grad
                     // unless frozen), a buffer never requires grad
};

class Module {
 public:
  virtual ~Module() = default;

  std::vector<Parameter> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;  // total elements
  // The buffers: state that is saved and loaded but not trained (e.g. a running center).
  std::vector<Parameter> named_buffers() const;

  // Parameters and buffers in the order of PyTorch's state_dict(): each module's parameters, then
  // its buffers, then its children's, depth first in registration order.
  std::vector<Parameter> named_state() const;
  // The same tensors by name; they are the module's own (writing into them changes it).
  TensorMap state_dict() const;
  // Copies each tensor into the parameter or buffer of the same name, converted to its dtype.
  // Strict: every missing, unexpected or mis-shaped name is listed (with shapes) in one
  // hipt::Error that starts with `source` (the file name); nothing is copied then.
  void load_state_dict(const TensorMap& tensors, const std::string& source = "state dict");
  void zero_grad();
  // Moves every parameter and buffer to `device` in place: each storage's bytes move and every
  // handle to it (members, optimizer state built on them) follows. Accumulated gradients are dropped.
  void to(Device device);

  // Training mode (dropout active) vs evaluation; applies to the whole subtree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  // Registers `t` as a parameter under `name` and marks it requires_grad. Keep the returned
  // handle as the member: it and the registry share the tensor.
  Tensor register_parameter(const std::string& name, Tensor t);
  // Registers `t` as a buffer under `name`; it must not require grad. Keep the returned handle as
  // the member and update it in place (ops::copy_), so that the registry sees the new values.
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.push_back({name, m});
    return m;
  }

 private:
  void collect(const std::string& prefix, bool params, bool buffers, std::vector<Parameter>& out) const;
  void check_new_name(const char* what, const std::string& name) const;
  std::vector<Parameter> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace hipt::nn
