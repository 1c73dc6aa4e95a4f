// The one place where the engine makes threads: a small persistent pool behind parallel_for.
// The thread count comes from HIPT_NUM_THREADS (default: the machine's hardware threads) and can
// be changed with set_num_threads. Calls from inside a parallel region run serially, so kernels
// may nest (a batched matmul over threaded GEMMs) without oversubscribing the cores.
#pragma once
#include <cstdint>
#include <functional>

namespace hipt {

int num_threads();
void set_num_threads(int n);  // n >= 1

// Calls f(lo, hi) on disjoint chunks covering [begin, end) on up to num_threads() threads
// including the caller; no more chunks than ceil((end - begin) / grain), so a small range stays
// on the calling thread. Returns when all are
// done; the first exception thrown by a chunk is rethrown here.
void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

// True while running a chunk of a parallel_for that was split over threads (a call that runs
// whole on the caller leaves nested calls free to thread).
bool in_parallel_region();

}  // namespace hipt
