// NCCL collectives for CUDA tensors, behind the Communicator interface of tensor/collectives.h.
// Each collective runs on the device's stream (the one every op on that device uses), so it is
// ordered after the kernels that produced its tensor and before those that read it.
//
// A world of one GPU needs nothing more than make_nccl_communicator(device). A world of several
// processes, one GPU each: rank 0 calls nccl_unique_id(), the caller sends those bytes to every
// other rank (over MPI, a file, a socket), and each rank calls
// make_nccl_communicator(device, rank, size, id).
//
// Built without NCCL (or without CUDA), nccl_compiled() is false and every other function throws.
#pragma once
#include <array>
#include <memory>

#include "tensor/collectives.h"

namespace hipt::cuda {

bool nccl_compiled();

constexpr int kNcclIdBytes = 128;  // NCCL_UNIQUE_ID_BYTES
using NcclId = std::array<char, kNcclIdBytes>;

// A new group's id, made once (by rank 0) and handed to every rank.
NcclId nccl_unique_id();

// The world of one rank on `device` (a CUDA device).
std::unique_ptr<Communicator> make_nccl_communicator(Device device);
// Rank `rank` of `size` on `device`; blocks until every rank has joined with the same id.
std::unique_ptr<Communicator> make_nccl_communicator(Device device, int rank, int size, const NcclId& id);

}  // namespace hipt::cuda
