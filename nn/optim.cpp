#include "nn/optim.h"

#include "tensor/ops.h"
#include "tensor/optim_ops.h"

namespace hipt::nn {

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {
  for (const Tensor& p : params_)
    HIPT_CHECK(p.requires_grad() && p.is_leaf() && p.is_contiguous(),
               "optimizer: parameter {} must be a contiguous leaf that requires grad", p.str());
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& opts) : Optimizer(std::move(params)), opts_(opts) {
  HIPT_CHECK(opts.lr >= 0 && opts.eps >= 0 && opts.weight_decay >= 0, "AdamW: lr, eps and weight_decay must be >= 0");
  HIPT_CHECK(opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1,
             "AdamW: betas must be in [0, 1), got ({}, {})", opts.beta1, opts.beta2);
  lr_ = opts.lr;
  for (const Tensor& p : params_) {
    exp_avg_.push_back(ops::zeros_like(p));
    exp_avg_sq_.push_back(ops::zeros_like(p));
  }
  param_steps_.assign(params_.size(), 0);
}

void AdamW::step() {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    const ops::AdamWHyper h{lr_, opts_.beta1, opts_.beta2, opts_.eps, opts_.weight_decay, ++param_steps_[i]};
    ops::adamw_step(params_[i], ops::contiguous(g), exp_avg_[i], exp_avg_sq_[i], h);
  }
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& opts) : Optimizer(std::move(params)), opts_(opts) {
  HIPT_CHECK(opts.lr >= 0 && opts.momentum >= 0 && opts.weight_decay >= 0,
             "SGD: lr, momentum and weight_decay must be >= 0");
  lr_ = opts.lr;
  for (const Tensor& p : params_) momentum_.push_back(ops::zeros_like(p));
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    ops::sgd_step(params_[i], ops::contiguous(g), momentum_[i], lr_, opts_.momentum, opts_.weight_decay, first_);
  }
  first_ = false;
}

}  // namespace hipt::nn
