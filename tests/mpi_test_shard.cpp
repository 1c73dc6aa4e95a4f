// hipt/pipeline/shard's MPI world, run by ctest under `mpiexec -n 2` (shard_mpi_np2, and
// shard_mpi_np2_world_init). Its own main: MPI is initialised before GoogleTest, only rank 0 prints
// results, and the exit code is the worst rank's, so a failure on any rank fails the test.
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "hipt/pipeline/shard.h"

namespace {
using namespace hipt;

int mpi_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int mpi_size() {
  int s = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// What rank r sends: lengths differ, rank 1's is empty, bytes include NUL and non-ASCII.
std::string message_of(int r) {
  if (r == 1) return "";
  return "rank " + std::to_string(r) + std::string(static_cast<size_t>(r) * 37, static_cast<char>('a' + r % 26)) +
         std::string(1, '\0') + "\xc3\xa9";
}

TEST(ShardMpi, WorldIsTheMpiWorld) {
  ProcessGroup& g = ProcessGroup::world();
  EXPECT_TRUE(g.mpi());
  EXPECT_EQ(g.rank(), mpi_rank());
  EXPECT_EQ(g.size(), mpi_size());
  EXPECT_GE(g.size(), 2) << "run this under mpiexec -n 2 or more";
  EXPECT_EQ(mpi_launcher_size(), g.size());
  // All ranks of a ctest run share this host: the rank among them is the world rank.
  EXPECT_EQ(g.local_rank(), g.rank());
  EXPECT_TRUE(mpi_built());
}

TEST(ShardMpi, GatherReturnsEveryRanksStringInRankOrderOnRankZero) {
  ProcessGroup& g = ProcessGroup::world();
  // Both gathers before any check: a failed ASSERT must not make one rank skip a collective.
  std::vector<std::string> first = g.gather(message_of(g.rank()));
  std::vector<std::string> second = g.gather(std::to_string(g.rank()));  // nothing left over from the first
  if (g.rank() != 0) {
    EXPECT_TRUE(first.empty());
    EXPECT_TRUE(second.empty());
    return;
  }
  ASSERT_EQ(first.size(), static_cast<size_t>(g.size()));
  ASSERT_EQ(second.size(), static_cast<size_t>(g.size()));
  for (int r = 0; r < g.size(); ++r) {
    EXPECT_EQ(first[static_cast<size_t>(r)], message_of(r)) << "rank " << r;
    EXPECT_EQ(second[static_cast<size_t>(r)], std::to_string(r));
  }
}

TEST(ShardMpi, MaxIsTheLargestOverRanksOnEveryRank) {
  ProcessGroup& g = ProcessGroup::world();
  EXPECT_EQ(g.max(7 * g.rank() - 3), 7 * (g.size() - 1) - 3);
  EXPECT_EQ(g.max(g.rank() == 1 ? 5 : 0), 5);  // the "some slide failed" exit code
  EXPECT_EQ(g.max(-g.rank()), 0);
}

// With --shard 0/2 and 1/2 (two job-array tasks), each run by this world, the shards gathered on
// rank 0 cover a list exactly once.
TEST(ShardMpi, EffectiveShardsOfTheWorldCoverTheListExactlyOnce) {
  ProcessGroup& g = ProcessGroup::world();
  const size_t n = 23;
  std::string mine;
  for (int flag = 0; flag < 2; ++flag)
    for (size_t k : shard_indices(n, effective_shard({flag, 2}, g))) mine += std::to_string(k) + ",";
  std::vector<std::string> all = g.gather(mine);
  if (g.rank() != 0) return;
  std::vector<int> seen(n, 0);
  for (const std::string& s : all)
    for (size_t at = 0, comma; (comma = s.find(',', at)) != std::string::npos; at = comma + 1)
      ++seen.at(std::stoul(s.substr(at, comma - at)));
  for (size_t k = 0; k < n; ++k) EXPECT_EQ(seen[k], 1) << "slide " << k;
}

}  // namespace

int main(int argc, char** argv) {
  // --world-init: MPI is initialised by ProcessGroup::world() and finalised at exit, as in hipt
  // itself (ctest shard_mpi_np2_world_init); otherwise by this main, as a program embedding hipt's
  // library would, and world() must leave the finalising to it.
  bool world_init = false;
  for (int i = 1; i < argc; ++i) world_init |= std::string(argv[i]) == "--world-init";
  if (world_init) {
    if (!hipt::ProcessGroup::world().mpi()) return 3;  // not started by mpiexec
  } else {
    MPI_Init(&argc, &argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  if (mpi_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int code = RUN_ALL_TESTS(), worst = 0;
  MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (!world_init) MPI_Finalize();
  return worst;
}
