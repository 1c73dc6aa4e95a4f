#include "nn/schedule.h"

#include <cmath>
#include <string>
#include <utility>

#include "nn/optim.h"
#include "tensor/error.h"

namespace hipt::nn {

namespace {

constexpr double kPi = 3.141592653589793;  // numpy.pi, the double nearest to pi

// Stores a product before it is added to, so that the compiler cannot fuse the two into one fma
// (numpy rounds each operation separately, and the values must match it bit for bit).
double rounded(double x) {
  volatile double v = x;
  return v;
}

}  // namespace

Schedule Schedule::constant(double value) {
  HIPT_CHECK(std::isfinite(value), "constant schedule: value must be finite, got {}", value);
  Schedule s;
  s.base_ = value;
  return s;
}

Schedule Schedule::cosine(double base_value, double final_value, int64_t epochs, int64_t niter_per_ep,
                          int64_t warmup_epochs, double start_warmup_value) {
  HIPT_CHECK(epochs >= 1 && niter_per_ep >= 1, "cosine schedule: epochs ({}) and niter_per_ep ({}) must be >= 1",
             epochs, niter_per_ep);
  HIPT_CHECK(warmup_epochs >= 0 && warmup_epochs <= epochs,
             "cosine schedule: warmup_epochs ({}) must be in [0, epochs = {}]", warmup_epochs, epochs);
  HIPT_CHECK(std::isfinite(base_value) && std::isfinite(final_value) && std::isfinite(start_warmup_value),
             "cosine schedule: values must be finite, got base {}, final {}, start_warmup {}", base_value,
             final_value, start_warmup_value);
  HIPT_CHECK(epochs <= INT64_MAX / niter_per_ep, "cosine schedule: {} epochs of {} steps overflow", epochs,
             niter_per_ep);
  Schedule s;
  s.cosine_ = true;
  s.base_ = base_value;
  s.final_ = final_value;
  s.start_ = start_warmup_value;
  s.warmup_ = warmup_epochs * niter_per_ep;
  s.total_ = epochs * niter_per_ep;
  return s;
}

double Schedule::at(int64_t step) const {
  HIPT_CHECK(step >= 0 && (total_ < 0 || step < total_), "schedule: step {} outside [0, {})", step,
             total_ < 0 ? "inf" : std::to_string(total_));
  if (!cosine_) return base_;
  const double i = static_cast<double>(step);
  if (step < warmup_) {
    // numpy.linspace(start, base, W): i * ((base - start) / (W - 1)) + start, the last one exactly
    // base; with a zero step (i / (W - 1)) * delta; with W == 1, 0 * delta.
    if (warmup_ > 1 && step == warmup_ - 1) return base_;
    const double delta = base_ - start_;
    const double div = static_cast<double>(warmup_ - 1);
    double y = 0.0 * delta;
    if (warmup_ > 1) {
      const double inc = delta / div;
      y = inc == 0 ? (i / div) * delta : i * inc;
    }
    return rounded(y) + start_;
  }
  const double n = static_cast<double>(total_ - warmup_);
  const double half_range = 0.5 * (base_ - final_);
  const double c = 1 + std::cos(kPi * static_cast<double>(step - warmup_) / n);
  return final_ + rounded(half_range * c);
}

Scheduler& Scheduler::add(const Schedule& schedule, std::function<void(double)> apply) {
  HIPT_CHECK(static_cast<bool>(apply), "scheduler: add needs a target");
  entries_.push_back({schedule, std::move(apply)});
  return *this;
}

Scheduler& Scheduler::add(const Schedule& schedule, double& target) {
  return add(schedule, [&target](double v) { target = v; });
}

Scheduler& Scheduler::add_lr(const Schedule& schedule, Optimizer& optimizer) {
  return add(schedule, [&optimizer](double v) { optimizer.set_lr(v); });
}

Scheduler& Scheduler::add_weight_decay(const Schedule& schedule, Optimizer& optimizer, size_t group) {
  HIPT_CHECK(group < optimizer.param_groups().size(), "scheduler: weight decay of group {}, but the optimizer has {}",
             group, optimizer.param_groups().size());
  return add(schedule, [&optimizer, group](double v) { optimizer.param_groups()[group].weight_decay = v; });
}

void Scheduler::apply(int64_t step) const {
  // All values first, so that a step outside one schedule throws before any target changes.
  std::vector<double> values;
  values.reserve(entries_.size());
  for (const Entry& e : entries_) values.push_back(e.schedule.at(step));
  for (size_t k = 0; k < entries_.size(); ++k) entries_[k].apply(values[k]);
}

}  // namespace hipt::nn
