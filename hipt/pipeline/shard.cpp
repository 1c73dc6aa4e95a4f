// Shards of a slide list, and the MPI world when hipt was built with it (HIPT_HAVE_MPI is defined
// for this file only).
#include "hipt/pipeline/shard.h"

#include <charconv>
#include <climits>
#include <cstdlib>

#include "tensor/error.h"

#ifdef HIPT_HAVE_MPI
#include <mpi.h>
#endif

namespace hipt {
namespace {

bool parse_int(const std::string& text, int& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

#ifdef HIPT_HAVE_MPI
void check_mpi(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(fmt::format("MPI: {} failed: {}", call, std::string(text, static_cast<size_t>(len))));
}

void finalize_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}
#endif

}  // namespace

ShardSpec parse_shard(const std::string& spec) {
  size_t slash = spec.find('/');
  ShardSpec s;
  HIPT_CHECK(slash != std::string::npos && parse_int(spec.substr(0, slash), s.index) &&
                 parse_int(spec.substr(slash + 1), s.count),
             "--shard: '{}' is not i/N (two integers, e.g. 0/4)", spec);
  HIPT_CHECK(s.count > 0, "--shard: '{}': the shard count must be positive", spec);
  HIPT_CHECK(s.index >= 0 && s.index < s.count, "--shard: '{}': the index must be in [0, {}) (shards count from 0)",
             spec, s.count);
  return s;
}

int mpi_launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(name)) {
      int n = 0;
      return parse_int(v, n) && n > 0 ? n : -1;
    }
  return std::getenv("PMIX_RANK") ? -1 : 0;
}

bool mpi_built() {
#ifdef HIPT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

ProcessGroup& ProcessGroup::world() {
#ifdef HIPT_HAVE_MPI
  static ProcessGroup g = [] {
    ProcessGroup p;
    if (mpi_launcher_size() == 0) return p;  // a plain run never touches MPI
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {  // a program that initialised MPI itself (the MPI tests) also finalises it
      int provided = 0;  // only the thread that called world() makes MPI calls
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      std::atexit(finalize_mpi);
    }
    p.mpi_ = true;
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &p.rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &p.size_), "MPI_Comm_size");
    // Another MPI's launcher (MPICH's mpiexec for an Open MPI build) starts K singletons of size 1,
    // each of which would do all the work.
    const int launched = mpi_launcher_size();
    HIPT_CHECK(launched < 0 || launched == p.size_,
               "the MPI launcher started {} processes but MPI sees {}: launch hipt with the mpirun of the MPI it "
               "was built with (Open MPI)",
               launched, p.size_);
    MPI_Comm host;
    check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, p.rank_, MPI_INFO_NULL, &host),
              "MPI_Comm_split_type");
    check_mpi(MPI_Comm_rank(host, &p.local_rank_), "MPI_Comm_rank");
    MPI_Comm_free(&host);
    return p;
  }();
  return g;
#else
  // Checked on every call, not once: without MPI every rank would take every slide, each writing
  // the same outputs, so a launch by mpirun with several processes is refused.
  int n = mpi_launcher_size();
  HIPT_CHECK(n == 0 || n == 1,
             "started by an MPI launcher ({} processes), but this hipt was built without MPI, so every process "
             "would do all the work: rebuild with Open MPI (libopenmpi-dev, -DHIPT_WITH_MPI=ON) or run one process "
             "per --shard i/N",
             n > 0 ? std::to_string(n) : std::string("an unknown number of"));
  static ProcessGroup g;
  return g;
#endif
}

std::vector<std::string> ProcessGroup::gather(const std::string& mine) {
#ifdef HIPT_HAVE_MPI
  if (mpi_) {
    // MPI counts are ints: each string under 2 GiB / size keeps rank 0's total within one.
    HIPT_CHECK(mine.size() <= static_cast<size_t>(INT_MAX / size_), "gather: {} bytes from rank {} is too long",
               mine.size(), rank_);
    int length = static_cast<int>(mine.size());
    std::vector<int> lengths(rank_ == 0 ? size_ : 0), offsets(lengths.size());
    check_mpi(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
    int total = 0;
    for (size_t r = 0; r < lengths.size(); ++r) offsets[r] = total, total += lengths[r];
    std::string all(static_cast<size_t>(total), '\0');
    check_mpi(MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
                          MPI_COMM_WORLD),
              "MPI_Gatherv");
    std::vector<std::string> out;
    for (size_t r = 0; r < lengths.size(); ++r) out.push_back(all.substr(offsets[r], lengths[r]));
    return out;
  }
#endif
  return {mine};
}

int ProcessGroup::max(int value) {
#ifdef HIPT_HAVE_MPI
  if (mpi_) {
    int out = value;
    check_mpi(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
    return out;
  }
#endif
  return value;
}

ShardSpec effective_shard(const ShardSpec& flag, int rank, int size) {
  HIPT_CHECK(size > 0 && rank >= 0 && rank < size, "effective_shard: rank {} of {} processes", rank, size);
  HIPT_CHECK(flag.count <= INT_MAX / size, "--shard {}/{} over {} processes: too many shards", flag.index, flag.count,
             size);
  return {flag.index * size + rank, flag.count * size};
}

ShardSpec effective_shard(const ShardSpec& flag, const ProcessGroup& group) {
  return effective_shard(flag, group.rank(), group.size());
}

std::vector<size_t> shard_indices(size_t n, const ShardSpec& s) {
  HIPT_CHECK(s.count > 0 && s.index >= 0 && s.index < s.count, "shard {}/{}: the index must be in [0, {})", s.index,
             s.count, s.count);
  std::vector<size_t> out;
  for (size_t k = static_cast<size_t>(s.index); k < n; k += static_cast<size_t>(s.count)) out.push_back(k);
  return out;
}

}  // namespace hipt
