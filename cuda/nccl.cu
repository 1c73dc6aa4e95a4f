// The NCCL communicator (cuda/nccl.h). Tensors: contiguous f32, f64 or bf16 on the communicator's
// device; every NCCL call is checked and a failure names the call, the file and the line.
#include <nccl.h>

#include <cstring>

#include "cuda/common.cuh"
#include "cuda/nccl.h"

#define HIPT_NCCL_CHECK(call)                                                                              \
  do {                                                                                                     \
    ncclResult_t hipt_nccl_ = (call);                                                                      \
    if (hipt_nccl_ != ncclSuccess)                                                                         \
      throw ::hipt::Error(fmt::format("NCCL: {} failed at {}:{}: {}", #call, __FILE__, __LINE__,           \
                                      ncclGetErrorString(hipt_nccl_)));                                    \
  } while (0)

static_assert(sizeof(ncclUniqueId) == hipt::cuda::kNcclIdBytes, "NcclId must hold an ncclUniqueId");

namespace hipt::cuda {
namespace {

ncclDataType_t nccl_dtype(const char* op, const Tensor& t) {
  switch (t.dtype()) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::BF16: return ncclBfloat16;
    default: throw Error(fmt::format("{}: NCCL takes f32, f64 or bf16, got {}", op, t.str()));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  // rank < 0: the world of one on `device` (ncclCommInitAll), otherwise rank of size with `id`.
  NcclCommunicator(Device device, int rank, int size, const ncclUniqueId* id)
      : device_(device), rank_(rank < 0 ? 0 : rank), size_(size) {
    HIPT_CHECK(device.type == DeviceType::CUDA, "make_nccl_communicator: {} is not a CUDA device", device.str());
    HIPT_CHECK(size >= 1 && rank_ < size, "make_nccl_communicator: rank {} is not a rank of a group of {}", rank,
               size);
    HIPT_CUDA_CHECK(cudaSetDevice(device.index));
    if (rank < 0) {
      const int devices[1] = {device.index};
      HIPT_NCCL_CHECK(ncclCommInitAll(&comm_, 1, devices));
    } else {
      HIPT_NCCL_CHECK(ncclCommInitRank(&comm_, size, *id, rank));
    }
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);  // a destructor cannot report: the error is dropped
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(const Tensor& t) override {
    const ncclDataType_t dt = check("all_reduce_sum", t);
    if (t.numel() == 0) return;
    HIPT_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), dt, ncclSum, comm_,
                                  stream_for(device_)));
  }

  void broadcast(const Tensor& t, int root) override {
    const ncclDataType_t dt = check("broadcast", t);
    check_root("broadcast", root);
    if (t.numel() == 0) return;
    HIPT_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), dt, root, comm_,
                                  stream_for(device_)));
  }

 private:
  ncclDataType_t check(const char* op, const Tensor& t) const {
    check_tensor(op, t);
    HIPT_CHECK(t.device() == device_, "{}: tensor {} is not on the communicator's device {}", op, t.str(),
               device_.str());
    return nccl_dtype(op, t);
  }

  Device device_;
  int rank_, size_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

bool nccl_compiled() { return true; }

NcclId nccl_unique_id() {
  ncclUniqueId id;
  HIPT_NCCL_CHECK(ncclGetUniqueId(&id));
  NcclId bytes;
  std::memcpy(bytes.data(), &id, sizeof id);
  return bytes;
}

std::unique_ptr<Communicator> make_nccl_communicator(Device device) {
  return std::make_unique<NcclCommunicator>(device, -1, 1, nullptr);
}

std::unique_ptr<Communicator> make_nccl_communicator(Device device, int rank, int size, const NcclId& id) {
  HIPT_CHECK(rank >= 0, "make_nccl_communicator: rank {} is negative", rank);
  ncclUniqueId nid;
  std::memcpy(&nid, id.data(), sizeof nid);
  return std::make_unique<NcclCommunicator>(device, rank, size, &nid);
}

}  // namespace hipt::cuda
