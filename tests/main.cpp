// The test binary's main: the kernel tables are set up as in the CLI before any test runs, and each
// test process gets its own scratch folder (::testing::TempDir()), so that test runs in parallel,
// from several checkouts at once, never write into each other's files.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "cuda/runtime.h"

int main(int argc, char** argv) {
  hipt::cuda::register_backend();
  std::string scratch;
  if (!getenv("TEST_TMPDIR")) {
    char tmpl[] = "/tmp/hipt_tests.XXXXXX";
    if (mkdtemp(tmpl)) {
      scratch = tmpl;
      setenv("TEST_TMPDIR", tmpl, 1);
    } else {
      std::perror("hipt_tests: mkdtemp in /tmp (tests use the default temp folder)");
    }
  }
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  std::error_code ignored;
  if (!scratch.empty()) std::filesystem::remove_all(scratch, ignored);
  return rc;
}
