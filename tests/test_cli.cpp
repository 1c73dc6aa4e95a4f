// The hipt command line: help, version, doctor, and the one-line error contract for bad flags.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include "testing.h"

namespace {
struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
  std::string err;  // stderr alone
};

CliRun run_cli(const std::string& args) {
  // ctest runs tests in parallel processes: each call gets its own stderr file.
  std::string err_file = ::testing::TempDir() + "/hipt_cli_stderr_XXXXXX";
  int fd = mkstemp(err_file.data());
  if (fd >= 0) close(fd);
  std::string cmd = std::string(HIPT_CLI) + " " + args + " 2>" + err_file;
  CliRun r{0, "", ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  FILE* e = fopen(err_file.c_str(), "r");
  while (e && (n = fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
  if (e) fclose(e);
  std::remove(err_file.c_str());
  return r;
}
}  // namespace

TEST(Cli, HelpVersionDoctor) {
  CliRun help = run_cli("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, ::testing::HasSubstr("doctor"));
  EXPECT_THAT(help.out, ::testing::HasSubstr("demo"));
  CliRun version = run_cli("--version");
  EXPECT_EQ(version.code, 0);
  EXPECT_THAT(version.out, ::testing::HasSubstr(std::string("hipt ") + HIPT_VERSION));
  CliRun doctor = run_cli("doctor");
  EXPECT_EQ(doctor.code, 0);
  for (const char* field : {"build type:", "simd detected:", "gemm kernel:", "threads:", "cuda:", "gpu"})
    EXPECT_THAT(doctor.out, ::testing::HasSubstr(field));
}

TEST(Cli, BadFlagIsOneErrorLine) {
  for (const char* args : {"--bogus", "demo --steps -3", "demo --steps x", "nosuchcommand"}) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}
