// Splitting a slide list over processes: `--shard i/N` (job arrays of a cluster scheduler) and
// `mpirun -np K` (Open MPI ranks), or both. Slide k goes to the process whose shard index is
// k mod count, so the outputs do not depend on how the list was split.
#pragma once
#include <string>
#include <vector>

namespace hipt {

struct ShardSpec {
  int index = 0, count = 1;
};

// "i/N" with 0 <= i < N. Throws hipt::Error naming the flag and the bad text.
ShardSpec parse_shard(const std::string& spec);

// The processes working together: the MPI world when hipt was built with MPI and launched by
// mpirun/mpiexec, otherwise this process alone. MPI is initialised on the first call to world()
// and finalised at exit.
class ProcessGroup {
 public:
  static ProcessGroup& world();
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among the processes on this host (GPU choice)
  bool mpi() const { return mpi_; }
  // Every rank's string, in rank order, on rank 0; an empty list elsewhere.
  std::vector<std::string> gather(const std::string& mine);
  int max(int value);  // the largest value over all ranks, on every rank

 private:
  ProcessGroup() = default;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  bool mpi_ = false;
};

// The shard this process takes: the --shard flag's, split again over the process group's ranks
// (shard index·size + rank of count·size).
ShardSpec effective_shard(const ShardSpec& flag, const ProcessGroup& group);

// The indices k in [0, n) with k mod s.count == s.index.
std::vector<size_t> shard_indices(size_t n, const ShardSpec& s);

}  // namespace hipt
