// nn/schedule: DINO's cosine_scheduler value for value (tests/data/schedule_dino.txt, written by
// scripts/make_schedule_clip_fixture.py), the constant schedule, the Scheduler and the errors.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "nn/optim.h"
#include "nn/schedule.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {
double hex(const std::string& s) { return std::strtod(s.c_str(), nullptr); }
}  // namespace

// Each line: cosine <base> <final> <epochs> <niter_per_ep> <warmup_epochs> <start_warmup> <n> <n values>
TEST(Schedule, CosineEqualsDinoBitForBit) {
  std::ifstream in(std::string(HIPT_TEST_DATA) + "/schedule_dino.txt");
  ASSERT_TRUE(in) << "missing tests/data/schedule_dino.txt";
  std::string line;
  int settings = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string kind, base, final_value, start;
    int64_t epochs, niter, warmup, n;
    ASSERT_TRUE(ls >> kind >> base >> final_value >> epochs >> niter >> warmup >> start >> n) << line;
    ASSERT_EQ(kind, "cosine");
    nn::Schedule s = nn::Schedule::cosine(hex(base), hex(final_value), epochs, niter, warmup, hex(start));
    ASSERT_EQ(s.length(), n);
    int mismatches = 0;
    for (int64_t step = 0; step < n; ++step) {
      std::string tok;
      ASSERT_TRUE(ls >> tok);
      const double want = hex(tok), got = s.at(step);
      if (got != want && mismatches++ < 5)
        ADD_FAILURE() << "setting " << settings << " step " << step << ": got " << got << ", want " << want;
    }
    EXPECT_EQ(mismatches, 0) << "setting " << settings;
    expect_error([&] { s.at(n); }, {"schedule", "step " + std::to_string(n), "[0, " + std::to_string(n) + ")"});
    ++settings;
  }
  EXPECT_EQ(settings, 9);
}

TEST(Schedule, ConstantAndShapeOfTheCosine) {
  nn::Schedule c = nn::Schedule::constant(0.25);
  EXPECT_EQ(c.at(0), 0.25);
  EXPECT_EQ(c.at(int64_t{1} << 40), 0.25);
  EXPECT_EQ(c.length(), -1);

  // Warm-up ends exactly at base; the cosine then starts at base and falls towards final.
  nn::Schedule s = nn::Schedule::cosine(1.0, 0.1, 4, 10, 1, 0.0);
  EXPECT_EQ(s.at(0), 0.0);
  EXPECT_EQ(s.at(9), 1.0);
  EXPECT_EQ(s.at(10), 1.0);
  for (int64_t i = 11; i < 40; ++i) EXPECT_LT(s.at(i), s.at(i - 1)) << i;
  EXPECT_GT(s.at(39), 0.1);  // the last step is one short of the cosine's end
  EXPECT_NEAR(s.at(39), 0.1 + 0.45 * (1 + std::cos(3.141592653589793 * 29 / 30)), 1e-16);
}

TEST(Schedule, SchedulerSetsLrAndAnyScalar) {
  Tensor p = ops::zeros({3}).requires_grad_();
  nn::SGD opt({p}, {});
  double momentum = 0, weight_decay = 0;
  nn::Scheduler sched;
  const nn::Schedule lr = nn::Schedule::cosine(0.5, 0.0, 2, 3, 1);
  const nn::Schedule m = nn::Schedule::cosine(0.996, 1.0, 2, 3);
  sched.add_lr(lr, opt).add(m, momentum).add(nn::Schedule::constant(0.04), [&](double v) { weight_decay = v; });
  EXPECT_EQ(sched.entries().size(), 3u);
  for (int64_t step = 0; step < 6; ++step) {
    sched.apply(step);
    EXPECT_EQ(opt.lr(), lr.at(step));
    EXPECT_EQ(momentum, m.at(step));
    EXPECT_EQ(weight_decay, 0.04);
  }
  // A step past one schedule's end throws before any target changes.
  const double before = opt.lr();
  momentum = -1;
  expect_error([&] { sched.apply(6); }, {"schedule", "step 6", "[0, 6)"});
  EXPECT_EQ(opt.lr(), before);
  EXPECT_EQ(momentum, -1);
}

TEST(Schedule, SchedulerSetsTheWeightDecayOfOneGroup) {
  Tensor w = ops::zeros({2, 3}).requires_grad_(), b = ops::zeros({3}).requires_grad_();
  nn::AdamW opt(nn::decay_groups({{"fc.weight", w}, {"fc.bias", b}}, 1e-3, 0.04), {});
  const nn::Schedule wd = nn::Schedule::cosine(0.04, 0.4, 2, 3);
  nn::Scheduler sched;
  sched.add_weight_decay(wd, opt);
  for (int64_t step = 0; step < 6; ++step) {
    sched.apply(step);
    EXPECT_EQ(opt.param_groups()[0].weight_decay, wd.at(step));
    EXPECT_EQ(opt.param_groups()[1].weight_decay, 0.0);  // biases never decay
  }
  expect_error([&] { sched.add_weight_decay(wd, opt, 2); }, {"scheduler", "group 2", "has 2"});
}

TEST(Schedule, Errors) {
  expect_error([] { nn::Schedule::cosine(1, 0, 0, 10); }, {"cosine schedule", "epochs (0)", ">= 1"});
  expect_error([] { nn::Schedule::cosine(1, 0, 3, 0); }, {"cosine schedule", "niter_per_ep (0)"});
  expect_error([] { nn::Schedule::cosine(1, 0, 3, 5, 4); }, {"cosine schedule", "warmup_epochs (4)", "epochs = 3"});
  expect_error([] { nn::Schedule::cosine(1, 0, 3, 5, -1); }, {"cosine schedule", "warmup_epochs (-1)"});
  expect_error([] { nn::Schedule::cosine(NAN, 0, 3, 5); }, {"cosine schedule", "finite"});
  expect_error([] { nn::Schedule::cosine(1, 0, 3, 5, 1, INFINITY); }, {"cosine schedule", "finite"});
  expect_error([] { nn::Schedule::cosine(1, 0, int64_t{1} << 40, int64_t{1} << 40); }, {"cosine schedule", "overflow"});
  expect_error([] { nn::Schedule::constant(NAN); }, {"constant schedule", "finite"});
  expect_error([] { nn::Schedule::constant(1).at(-1); }, {"schedule", "step -1", "[0, inf)"});
  expect_error([] { nn::Schedule::cosine(1, 0, 1, 2).at(-1); }, {"schedule", "step -1", "[0, 2)"});
  nn::Scheduler sched;
  expect_error([&] { sched.add(nn::Schedule::constant(1), std::function<void(double)>()); },
               {"scheduler", "target"});
}
