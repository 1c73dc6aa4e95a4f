// Atomic result writes: the file appears whole or not at all, and failures name the path.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "testing.h"

TEST(Output, WritesAtomicallyAndCreatesFolders) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(::testing::TempDir()) / "hipt_output_test";
  fs::remove_all(dir);
  std::string path = (dir / "a" / "result.json").string();
  hipt::write_file_atomic(path, "{\"x\": 1}\n");
  hipt::write_file_atomic(path, "{\"x\": 2}\n");  // replaces the old file
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "{\"x\": 2}\n");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir / "a")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary left behind
  // a folder where the file should go: one error naming the path
  fs::create_directories(dir / "b" / "taken");
  std::string bad = (dir / "b" / "taken").string();
  hipt::testing::expect_error([&] { hipt::write_file_atomic(bad, "x"); }, {bad, "write failed"});
  fs::remove_all(dir);
}
