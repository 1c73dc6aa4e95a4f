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
// and finalised at exit. A plain run (no launcher in the environment) never calls MPI. A build
// without MPI started by a launcher with several processes throws: each would do all the work.
// Call world(), gather and max from one thread; every rank must make the same gather/max calls
// in the same order (a rank that skips one leaves the others waiting).
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
ShardSpec effective_shard(const ShardSpec& flag, int rank, int size);  // the same for any rank and size

// The world size an MPI launcher announced in the environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE);
// -1 when launched with no usable size (PMIX_RANK alone, or an unreadable value); 0 when not
// launched by one.
int mpi_launcher_size();
bool mpi_built();  // hipt was built with MPI (HIPT_WITH_MPI and Open MPI found)

// The indices k in [0, n) with k mod s.count == s.index. Throws for a spec outside 0 <= index < count.
std::vector<size_t> shard_indices(size_t n, const ShardSpec& s);

}  // namespace hipt
