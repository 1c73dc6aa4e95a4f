// The hipt command line: help, version, doctor, and the one-line error contract for bad flags.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "io/safetensors.h"
#include "tensor/ops.h"

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

TEST(Cli, ConvertCheckpointWritesTheTeacherBackbone) {
  const std::string data = std::string(HIPT_TEST_DATA) + "/pth/";
  const std::string out = ::testing::TempDir() + "hipt_cli_convert.safetensors";
  CliRun r = run_cli("convert-checkpoint " + data + "dino.pth " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("from 'teacher'"));
  hipt::io::TensorMap got = hipt::io::read_safetensors(out);
  hipt::io::TensorMap want = hipt::io::read_safetensors(data + "dino_teacher.expected.safetensors");
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want)
    EXPECT_EQ(hipt::ops::to_vector<float>(got.at(name)), hipt::ops::to_vector<float>(t)) << name;
  auto meta = hipt::io::read_safetensors_metadata(out);
  EXPECT_EQ(meta.at("source"), "dino.pth");
  EXPECT_EQ(meta.at("source_part"), "teacher");
  ASSERT_EQ(run_cli("convert-checkpoint " + data + "dino.pth " + out + " --student").code, 0);
  EXPECT_EQ(hipt::io::read_safetensors_metadata(out).at("source_part"), "student");
  std::remove(out.c_str());
}

TEST(Cli, ConvertCheckpointErrorsAreOneLine) {
  const std::string data = std::string(HIPT_TEST_DATA) + "/pth/";
  const std::string out = ::testing::TempDir() + "hipt_cli_convert_bad.safetensors";
  for (std::string args : {"convert-checkpoint " + data + "evil.pth " + out,
                           "convert-checkpoint /nonexistent/x.pth " + out,
                           "convert-checkpoint " + data + "backbone_f16.pth " + out + " --student",
                           "convert-checkpoint " + data + "dino.pth /proc/nope/out.safetensors",
                           std::string("convert-checkpoint ") + data + "dino.pth"}) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
  std::ifstream missing(out);
  EXPECT_FALSE(missing.good());
}
