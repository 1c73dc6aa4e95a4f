#include "tensor/collectives.h"

namespace hipt {

Communicator::~Communicator() = default;

void Communicator::check_tensor(const char* op, const Tensor& t) {
  HIPT_CHECK(t.defined(), "{}: got an undefined tensor", op);
  HIPT_CHECK(t.is_contiguous(), "{}: tensor of shape {} must be contiguous", op, t.shape().str());
}

void Communicator::check_root(const char* op, int root) const {
  HIPT_CHECK(root >= 0 && root < size(), "{}: root {} is not a rank of a group of {}", op, root, size());
}

void LocalCommunicator::all_reduce_sum(const Tensor& t) { check_tensor("all_reduce_sum", t); }

void LocalCommunicator::broadcast(const Tensor& t, int root) {
  check_tensor("broadcast", t);
  check_root("broadcast", root);
}

}  // namespace hipt
