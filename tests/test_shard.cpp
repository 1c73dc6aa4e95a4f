// hipt/pipeline/shard in one process: --shard parsing, shards covering a list exactly once, the launcher
// detection, and the group of one. The MPI world itself is tested under mpirun by
// mpi_test_shard.cpp (ctest shard_mpi_np2).
#include <cstdlib>
#include <optional>

#include "hipt/pipeline/shard.h"
#include "testing.h"

namespace {
using namespace hipt;
namespace ht = hipt::testing;

TEST(Shard, ParsesIOverNAndRefusesTheRest) {
  ShardSpec s = parse_shard("0/1");
  EXPECT_EQ(s.index, 0);
  EXPECT_EQ(s.count, 1);
  s = parse_shard("3/4");
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 4);
  struct Case {
    std::string spec, says;
  } cases[] = {{"", "is not i/N"},           {"1", "is not i/N"},        {"a/b", "is not i/N"},
               {"1/2/3", "is not i/N"},      {" 1/2", "is not i/N"},     {"1 /2", "is not i/N"},
               {"1/2x", "is not i/N"},       {"1.0/2", "is not i/N"},    {"99999999999/2", "is not i/N"},
               {"0/0", "count must be positive"}, {"0/-2", "count must be positive"},
               {"4/4", "index must be in [0, 4)"}, {"-1/4", "index must be in [0, 4)"}};
  for (const Case& c : cases) ht::expect_error([&] { parse_shard(c.spec); }, {"--shard", "'" + c.spec + "'", c.says});
}

// Every index in [0, n) in exactly one shard, ascending, k mod count == index.
void expect_partition(size_t n, const std::vector<ShardSpec>& shards) {
  std::vector<int> seen(n, 0);
  for (const ShardSpec& s : shards) {
    std::vector<size_t> ks = shard_indices(n, s);
    for (size_t j = 0; j < ks.size(); ++j) {
      ASSERT_LT(ks[j], n);
      EXPECT_EQ(ks[j] % static_cast<size_t>(s.count), static_cast<size_t>(s.index));
      if (j) {
        EXPECT_LT(ks[j - 1], ks[j]);
      }
      ++seen[ks[j]];
    }
  }
  for (size_t k = 0; k < n; ++k) EXPECT_EQ(seen[k], 1) << "slide " << k << " of " << n;
}

TEST(Shard, ShardsCoverTheListExactlyOnce) {
  for (size_t n : {0, 1, 2, 5, 17, 64})
    for (int count = 1; count <= 9; ++count) {
      std::vector<ShardSpec> shards;
      for (int i = 0; i < count; ++i) shards.push_back({i, count});
      expect_partition(n, shards);
    }
  ht::expect_error([] { shard_indices(3, {0, 0}); }, {"shard 0/0"});
  ht::expect_error([] { shard_indices(3, {2, 2}); }, {"shard 2/2"});
}

// --shard i/N over K MPI ranks: the N·K effective shards still cover the list exactly once.
TEST(Shard, FlagShardsSplitOverRanksCoverTheListExactlyOnce) {
  for (int count = 1; count <= 4; ++count)
    for (int size = 1; size <= 4; ++size) {
      std::vector<ShardSpec> shards;
      for (int i = 0; i < count; ++i)
        for (int rank = 0; rank < size; ++rank) shards.push_back(effective_shard({i, count}, rank, size));
      for (size_t n : {0, 3, 31}) expect_partition(n, shards);
    }
  EXPECT_EQ(effective_shard({1, 3}, 1, 2).index, 3);
  EXPECT_EQ(effective_shard({1, 3}, 1, 2).count, 6);
  ht::expect_error([] { effective_shard({0, 1}, 2, 2); }, {"rank 2 of 2"});
  ht::expect_error([] { effective_shard({0, 1 << 30}, 0, 4); }, {"too many shards"});
}

// Sets (or unsets) one environment variable for a scope, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Shard, DetectsMpiLaunchersFromTheEnvironment) {
  ScopedEnv a("OMPI_COMM_WORLD_SIZE", nullptr), b("PMI_SIZE", nullptr), c("PMIX_RANK", nullptr);
  EXPECT_EQ(mpi_launcher_size(), 0);
  {
    ScopedEnv e("OMPI_COMM_WORLD_SIZE", "4");
    EXPECT_EQ(mpi_launcher_size(), 4);
  }
  {
    ScopedEnv e("PMI_SIZE", "2");
    EXPECT_EQ(mpi_launcher_size(), 2);
  }
  {
    ScopedEnv e("PMIX_RANK", "0");
    EXPECT_EQ(mpi_launcher_size(), -1);
  }
  {
    ScopedEnv e("OMPI_COMM_WORLD_SIZE", "many");
    EXPECT_EQ(mpi_launcher_size(), -1);
  }
}

// Not started by a launcher: the group of one, whatever the build, without calling MPI.
TEST(Shard, PlainRunIsAGroupOfOne) {
  ScopedEnv a("OMPI_COMM_WORLD_SIZE", nullptr), b("PMI_SIZE", nullptr), c("PMIX_RANK", nullptr);
  ProcessGroup& g = ProcessGroup::world();
  EXPECT_FALSE(g.mpi());
  EXPECT_EQ(g.rank(), 0);
  EXPECT_EQ(g.size(), 1);
  EXPECT_EQ(g.local_rank(), 0);
  EXPECT_EQ(g.gather("summary"), std::vector<std::string>{"summary"});
  EXPECT_EQ(g.max(-3), -3);
  ShardSpec s = effective_shard({2, 5}, g);
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
}

// Built without MPI but started by mpirun -np 2: refused, since both processes would take every
// slide. (With MPI built in, setting these variables would make world() call MPI_Init with no
// launcher behind it; that build's path is tested under mpirun instead.)
TEST(Shard, LaunchWithoutMpiSupportIsRefused) {
  if (mpi_built()) GTEST_SKIP() << "this build has MPI: ctest shard_mpi_np2 tests the launched path";
  ScopedEnv b("PMI_SIZE", nullptr), c("PMIX_RANK", nullptr);
  {
    ScopedEnv e("OMPI_COMM_WORLD_SIZE", "2");
    ht::expect_error([] { ProcessGroup::world(); }, {"MPI launcher (2 processes)", "built without MPI", "--shard"});
  }
  {
    ScopedEnv e("PMIX_RANK", "1");
    ht::expect_error([] { ProcessGroup::world(); }, {"MPI launcher (an unknown number of processes)", "built without MPI"});
  }
  ScopedEnv e("OMPI_COMM_WORLD_SIZE", "1");  // mpirun -np 1: one process is right either way
  EXPECT_EQ(ProcessGroup::world().size(), 1);
}

}  // namespace
