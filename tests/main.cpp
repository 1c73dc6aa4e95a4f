// The test binary's main: the kernel tables are set up as in the CLI before any test runs.
#include <gtest/gtest.h>

#include "cuda/runtime.h"

int main(int argc, char** argv) {
  hipt::cuda::register_backend();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
