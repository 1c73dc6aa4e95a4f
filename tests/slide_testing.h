// Helpers for the slide tests: where the samples are, pixel digests, temp files.
#pragma once
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "io/png.h"
#include "io/sha256.h"
#include "io/slide.h"
#include "tensor/ops.h"
#include "testing.h"

namespace hipt::testing {

inline bool path_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

inline std::string sample(const std::string& name) { return std::string(HIPT_SAMPLES) + "/" + name; }

// Skips the test (with a message) when ../shared/wsi-samples is not there.
#define HIPT_REQUIRE_SAMPLES()                                                                     \
  do {                                                                                             \
    if (!::hipt::testing::path_exists(HIPT_SAMPLES)) GTEST_SKIP() << "no samples at " << HIPT_SAMPLES; \
  } while (0)

// sha256[:16] of the tensor's bytes (u8, row-major), as SOURCES.md computes its digests.
inline std::string digest16(const Tensor& t) {
  Tensor c = ops::contiguous(t);
  return io::sha256_hex(c.data<uint8_t>(), static_cast<size_t>(c.shape().numel())).substr(0, 16);
}

// Per process: ctest runs tests in parallel processes, and other checkouts share /tmp.
inline std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/hipt_slide_" + std::to_string(::getpid()) + "_" + name;
}

// Removes this process's temp files when the test program ends (a few MB of pyramids per run).
class SlideTempCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::string prefix = "hipt_slide_" + std::to_string(::getpid()) + "_";
    std::string dir = ::testing::TempDir();
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d))
        if (std::string(e->d_name).rfind(prefix, 0) == 0) std::system(("rm -rf '" + dir + "/" + e->d_name + "'").c_str());
      closedir(d);
    }
  }
};
inline ::testing::Environment* const kSlideTempCleanup = ::testing::AddGlobalTestEnvironment(new SlideTempCleanup);

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// What `hipt ARGS` did, run as a user runs it. `prefix` goes in front of the program (variables,
// a launcher such as mpiexec).
struct CliRun {
  int code;
  std::string out, err;
};
inline CliRun run_hipt(const std::string& args, const std::string& prefix = "") {
  const std::string o = temp_path("cli_stdout"), e = temp_path("cli_stderr");
  const int status = std::system((prefix + HIPT_CLI + " " + args + " >" + o + " 2>" + e).c_str());
  CliRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_bytes(o), read_bytes(e)};
  std::remove(o.c_str());
  std::remove(e.c_str());
  return r;
}

inline bool have_tool(const std::string& tool) {
  return std::system(("command -v " + tool + " > /dev/null 2>&1").c_str()) == 0;
}

}  // namespace hipt::testing

namespace hipt::testing {

// A 700x500 RGB test card (gradients and an XOR pattern, so tiles differ and edges are partial).
inline Tensor test_card(int64_t w = 700, int64_t h = 500) {
  Tensor t = ops::empty({h, w, 3}, DType::U8);
  uint8_t* p = t.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x, p += 3) {
      p[0] = static_cast<uint8_t>(x * 3 + y);
      p[1] = static_cast<uint8_t>(x ^ y);
      p[2] = static_cast<uint8_t>((x * y) / 7);
    }
  return t;
}

// `vips tiffsave <png of the test card> <out> --tile --pyramid <args>`; "" when vips is absent.
inline std::string vips_pyramid(const std::string& name, const std::string& args) {
  if (!have_tool("vips")) return {};
  std::string png = temp_path("vips_card.png");
  if (!path_exists(png)) io::write_png(png, test_card());
  std::string out = temp_path(name);
  std::string cmd = "vips tiffsave " + png + " " + out + " --tile --pyramid " + args + " > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return {};
  return out;
}

}  // namespace hipt::testing
