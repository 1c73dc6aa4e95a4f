// The thread pool behind every threaded kernel.
#include <atomic>
#include <thread>

#include "tensor/parallel.h"
#include "testing.h"

using namespace hipt;

TEST(Parallel, CoversTheRangeOnceAndNestsSerially) {
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<std::atomic<int>> hits(1000);
    std::atomic<int> nested_chunks{0};
    parallel_for(0, 1000, 7, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) hits[i]++;
      if (threads > 1) {  // a range run whole on the caller is no region
        EXPECT_TRUE(in_parallel_region());
      }
      parallel_for(0, 10, 1, [&](int64_t a, int64_t b) {  // inside a region: one serial chunk
        EXPECT_EQ(a, 0);
        EXPECT_EQ(b, 10);
        nested_chunks++;
      });
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    EXPECT_LE(nested_chunks.load(), threads);
    EXPECT_FALSE(in_parallel_region());
  }
  set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(Parallel, RethrowsTheFirstErrorAndStaysUsable) {
  set_num_threads(2);
  EXPECT_THROW(parallel_for(0, 100, 1, [](int64_t lo, int64_t) {
                 if (lo >= 50) throw Error("chunk failed");
               }),
               Error);
  std::atomic<int64_t> total{0};
  parallel_for(0, 100, 1, [&](int64_t lo, int64_t hi) { total += hi - lo; });
  EXPECT_EQ(total.load(), 100);
  hipt::testing::expect_error([] { set_num_threads(0); }, {"set_num_threads", "at least 1"});
}

TEST(Parallel, ConcurrentCallersFromOutsideThreads) {
  set_num_threads(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 50; ++rep) parallel_for(0, 64, 1, [&](int64_t lo, int64_t hi) { total += hi - lo; });
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(total.load(), 4 * 50 * 64);
}
