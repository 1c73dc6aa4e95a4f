// hipt/pipeline/progress.h on a terminal (a pseudo-terminal as stderr) and on a pipe.
#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "hipt/pipeline/progress.h"

namespace {

// Runs `body` with stderr on a new terminal (is_tty) or pipe, and returns what it wrote there.
template <typename F>
std::string capture_stderr(bool is_tty, F body) {
  int read_end = -1, write_end = -1;
  if (is_tty) {
    EXPECT_EQ(openpty(&read_end, &write_end, nullptr, nullptr, nullptr), 0);
  } else {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    read_end = p[0], write_end = p[1];
  }
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(write_end, 2);
  body();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(write_end);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(read_end, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(read_end);
  return out;
}

TEST(Progress, TerminalLineLeftOpenByFailedWorkIsEndedSoTheErrorStartsItsOwnLine) {
  std::string out = capture_stderr(true, [] {
    hipt::Progress p("work", 10, "items", 0.0);
    p.update(3);  // then the work fails: the Progress goes out of scope unfinished
  });
  ASSERT_NE(out.find("work 3/10"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n') << out;
}

TEST(Progress, FinishEndsTheLineOnceOnATerminalAndOnAPipe) {
  for (bool tty : {true, false}) {
    std::string out = capture_stderr(tty, [] {
      hipt::Progress p("work", 4, "items", 0.0);
      p.update(2);
      p.finish();
    });
    ASSERT_NE(out.find("work 4/4"), std::string::npos) << out;
    EXPECT_EQ(out.back(), '\n') << out;
    EXPECT_EQ(out.find("\n\n"), std::string::npos) << "a blank line: " << out;
    if (!tty) {
      EXPECT_NE(out.find("work 2/4"), std::string::npos) << out;
    }
  }
}

}  // namespace
