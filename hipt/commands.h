// The subcommands of the hipt CLI, one function each (hipt/main.cpp parses the flags).
#pragma once
#include <cstdint>

namespace hipt {

int run_doctor();

struct DemoOptions {
  int steps = 1000;
  uint64_t seed = 0;
};
int run_demo(const DemoOptions& opts);

}  // namespace hipt
