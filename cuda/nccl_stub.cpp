// cuda/nccl.h in a build without NCCL: nothing to run, and every entry says so.
#include "cuda/nccl.h"

namespace hipt::cuda {
namespace {
[[noreturn]] void no_nccl(const char* what) {
  throw Error(fmt::format("{}: this build has no NCCL (built without CUDA, or nccl.h and libnccl not found)", what));
}
}  // namespace

bool nccl_compiled() { return false; }
NcclId nccl_unique_id() { no_nccl("nccl_unique_id"); }
std::unique_ptr<Communicator> make_nccl_communicator(Device) { no_nccl("make_nccl_communicator"); }
std::unique_ptr<Communicator> make_nccl_communicator(Device, int, int, const NcclId&) {
  no_nccl("make_nccl_communicator");
}

}  // namespace hipt::cuda
