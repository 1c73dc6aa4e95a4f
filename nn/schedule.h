// Schedules: a value per optimisation step (learning rate, weight decay, teacher momentum...), and
// a Scheduler that writes each scheduled value into its target before a step.
//
//   nn::Schedule lr = nn::Schedule::cosine(5e-4, 1e-6, epochs, iters_per_epoch, /*warmup_epochs=*/10);
//   nn::Schedule wd = nn::Schedule::cosine(0.04, 0.4, epochs, iters_per_epoch);
//   double momentum = 0;
//   nn::Scheduler sched;
//   sched.add_lr(lr, opt).add(wd, [&](double v) { /* set the decayed group's weight decay */ })
//        .add(nn::Schedule::cosine(0.996, 1.0, epochs, iters_per_epoch), momentum);
//   for (int64_t step = 0; ...; ++step) { sched.apply(step); ...; opt.step(); }
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace hipt::nn {

class Optimizer;

// A value per step; a small copyable object with no state, so at() may be called for any step in
// any order (a resumed run simply continues at its step count).
class Schedule {
 public:
  // The same value at every step >= 0.
  static Schedule constant(double value);
  // DINO's cosine_scheduler, value for value (same double operations in the same order): with
  // W = warmup_epochs * niter_per_ep warm-up steps and N = epochs * niter_per_ep steps in all,
  //   step s < W:  numpy's linspace(start_warmup_value, base_value, W)[s]  (ends exactly at base)
  //   step s >= W: final + 0.5 * (base - final) * (1 + cos(pi * (s - W) / (N - W)))
  // Defined for steps 0 .. N-1; at() outside that range throws. Requires epochs >= 1,
  // niter_per_ep >= 1, 0 <= warmup_epochs <= epochs and finite values.
  static Schedule cosine(double base_value, double final_value, int64_t epochs, int64_t niter_per_ep,
                         int64_t warmup_epochs = 0, double start_warmup_value = 0);

  double at(int64_t step) const;
  // Number of steps the schedule is defined for; -1 for a constant (unbounded).
  int64_t length() const { return total_; }

 private:
  Schedule() = default;
  bool cosine_ = false;
  double base_ = 0, final_ = 0, start_ = 0;
  int64_t warmup_ = 0, total_ = -1;
};

// Scheduled values and where they go. apply(step) calls every target with its schedule's value at
// `step`, in the order they were added.
class Scheduler {
 public:
  struct Entry {
    Schedule schedule;
    std::function<void(double)> apply;
  };
  Scheduler& add(const Schedule& schedule, std::function<void(double)> apply);
  Scheduler& add(const Schedule& schedule, double& target);  // target must outlive the Scheduler
  Scheduler& add_lr(const Schedule& schedule, Optimizer& optimizer);  // optimizer.set_lr
  // The weight decay of one parameter group (DINO decays only group 0 of nn::decay_groups).
  Scheduler& add_weight_decay(const Schedule& schedule, Optimizer& optimizer, size_t group = 0);
  void apply(int64_t step) const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace hipt::nn
