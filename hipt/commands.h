// The subcommands of the hipt CLI, one function each (hipt/main.cpp parses the flags).
#pragma once
#include <cstdint>
#include <string>

namespace hipt {

int run_doctor();

struct DemoOptions {
  int steps = 1000;
  uint64_t seed = 0;
};
int run_demo(const DemoOptions& opts);

// Writes the backbone state dict of `input` (hipt/checkpoint.h rules) to `output` (.safetensors).
struct ConvertCheckpointOptions {
  std::string input, output;
  bool student = false;
};
int run_convert_checkpoint(const ConvertCheckpointOptions& opts);

}  // namespace hipt
