// Collective communication over a group of processes, each holding tensors of the same shapes:
// the interface data-parallel training calls to sum gradients and to share parameters. The
// implementations: LocalCommunicator (a group of one, here), the NCCL communicator for CUDA tensors
// (cuda/nccl.h) and the MPI process group for CPU tensors (hipt/pipeline/shard.h).
#pragma once
#include "tensor/tensor.h"

namespace hipt {

class Communicator {
 public:
  virtual ~Communicator();
  virtual int rank() const = 0;  // 0 .. size()-1
  virtual int size() const = 0;
  // t (contiguous) becomes the elementwise sum of every rank's t, in place.
  virtual void all_reduce_sum(const Tensor& t) = 0;
  // t (contiguous) becomes root's t on every rank, in place.
  virtual void broadcast(const Tensor& t, int root) = 0;

 protected:
  // Throws hipt::Error naming `op` unless t is defined and contiguous.
  static void check_tensor(const char* op, const Tensor& t);
  // Throws hipt::Error naming `op` unless 0 <= root < size().
  void check_root(const char* op, int root) const;
};

// The group of one process: after the argument checks both collectives leave t as it is.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(const Tensor& t) override;
  void broadcast(const Tensor& t, int root) override;
};

}  // namespace hipt
