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

// hipt info SLIDE: one JSON object (vendor, level_count, levels, properties, associated_images).
int run_slide_info(const std::string& path);

struct ReadRegionOptions {
  std::string slide, out;
  int level = 0;
  int64_t x = 0, y = 0, width = 0, height = 0;
};
// hipt read-region: an RGBA PNG of the region, written atomically.
int run_read_region(const ReadRegionOptions& opts);

}  // namespace hipt
