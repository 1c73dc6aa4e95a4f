#include "hipt/pipeline/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace hipt {

Progress::Progress(std::string label, int64_t total, std::string unit, double interval_seconds)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      interval_(interval_seconds),
      tty_(::isatty(2)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  if (open_line_) fmt::print(stderr, "\n");
}

void Progress::update(int64_t done, const std::string& note) {
  if (done_) return;
  auto now = std::chrono::steady_clock::now();
  bool last = done >= total_;
  done_ = last;
  if (!last && std::chrono::duration<double>(now - last_).count() < (tty_ ? std::min(0.1, interval_) : interval_)) return;
  last_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? done / elapsed : 0;
  double eta = rate > 0 ? (total_ - done) / rate : 0;
  fmt::print(stderr, "{}{} {}/{} {:.1f} {}/s ETA {:.0f}s{}{}", tty_ ? "\r" : "", label_, done, total_, rate, unit_, eta,
             note.empty() ? "" : " ", note);
  if (!tty_ || last) fmt::print(stderr, "\n");
  open_line_ = tty_ && !last;
  std::fflush(stderr);
}

void Progress::finish(const std::string& note) { update(total_, note); }

}  // namespace hipt
