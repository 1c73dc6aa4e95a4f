// PLACEHOLDER (implemented on the infra branch): a group of one, no MPI.
#include "hipt/shard.h"

#include <cstdio>

#include "tensor/error.h"

namespace hipt {

ShardSpec parse_shard(const std::string& spec) {
  ShardSpec s;
  char slash = 0;
  HIPT_CHECK(std::sscanf(spec.c_str(), "%d%c%d", &s.index, &slash, &s.count) == 3 && slash == '/' && s.count > 0 &&
                 s.index >= 0 && s.index < s.count,
             "--shard: '{}' is not i/N with 0 <= i < N", spec);
  return s;
}

ProcessGroup& ProcessGroup::world() {
  static ProcessGroup g;
  return g;
}
std::vector<std::string> ProcessGroup::gather(const std::string& mine) { return {mine}; }
int ProcessGroup::max(int value) { return value; }

ShardSpec effective_shard(const ShardSpec& flag, const ProcessGroup& group) {
  return {flag.index * group.size() + group.rank(), flag.count * group.size()};
}

std::vector<size_t> shard_indices(size_t n, const ShardSpec& s) {
  std::vector<size_t> out;
  for (size_t k = static_cast<size_t>(s.index); k < n; k += static_cast<size_t>(s.count)) out.push_back(k);
  return out;
}

}  // namespace hipt
