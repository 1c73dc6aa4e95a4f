// Progress of long work on stderr: "label done/total rate unit/s ETA". Redrawn in place on a
// terminal (at most every 0.1 s, or `interval` if shorter); on a pipe or log file, a line at most
// every `interval` seconds and at the end.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace hipt {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit, double interval_seconds = 2.0);
  ~Progress();  // ends a line left open on a terminal (work that failed midway), so `error:` starts its own
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(int64_t done, const std::string& note = "");
  void finish(const std::string& note = "");

 private:
  std::string label_, unit_;
  int64_t total_;
  double interval_;
  bool tty_;
  bool done_ = false;  // the final line has been printed
  bool open_line_ = false;  // a terminal line was drawn without its newline
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace hipt
