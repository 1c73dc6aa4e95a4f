// Progress of long work on stderr: "label done/total rate unit/s ETA". Redrawn in place on a
// terminal; on a pipe or log file, a line at most every `interval` seconds and at the end.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace hipt {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit, double interval_seconds = 2.0);
  void update(int64_t done, const std::string& note = "");
  void finish(const std::string& note = "");

 private:
  std::string label_, unit_;
  int64_t total_;
  double interval_;
  bool tty_;
  bool done_ = false;  // the final line has been printed
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace hipt
