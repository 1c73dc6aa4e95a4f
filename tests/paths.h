// Where the tests find their data, the CLI, the presets and the slide samples: the paths CMake
// compiled in (HIPT_*_BUILT), unless the environment names others, as a copy of the test binary on
// another machine does (tools/device_check.sh):
//   HIPT_TEST_DATA_DIR, HIPT_TEST_CLI, HIPT_TEST_PRESETS_DIR, HIPT_TEST_SAMPLES_DIR.
// Every test file gets this header first (tests/CMakeLists.txt: -include).
#pragma once
#include <cstdlib>

namespace hipt::testing {

inline const char* path_from_env(const char* var, const char* built) {
  const char* e = std::getenv(var);
  return e != nullptr && *e != '\0' ? e : built;
}

}  // namespace hipt::testing

#define HIPT_TEST_DATA ::hipt::testing::path_from_env("HIPT_TEST_DATA_DIR", HIPT_TEST_DATA_BUILT)
#define HIPT_CLI ::hipt::testing::path_from_env("HIPT_TEST_CLI", HIPT_CLI_BUILT)
#define HIPT_PRESETS_DIR ::hipt::testing::path_from_env("HIPT_TEST_PRESETS_DIR", HIPT_PRESETS_DIR_BUILT)
#define HIPT_SAMPLES ::hipt::testing::path_from_env("HIPT_TEST_SAMPLES_DIR", HIPT_SAMPLES_BUILT)
