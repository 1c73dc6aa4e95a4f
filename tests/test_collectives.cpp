// The Communicator interface: the group of one (LocalCommunicator) here, and NCCL's world of one
// GPU where a GPU and NCCL are there.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "cuda/nccl.h"
#include "tensor/collectives.h"
#include "tests/devices.h"
#include "tests/testing.h"

using namespace hipt;
using hipt::testing::expect_error;
using hipt::testing::kCpu;
using hipt::testing::kCuda0;

namespace {

TEST(LocalCommunicator, IsAGroupOfOneThatLeavesTensorsAsTheyAre) {
  std::unique_ptr<Communicator> comm = std::make_unique<LocalCommunicator>();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  const Tensor t = ops::from_vector<float>({1.5f, -2.0f, 3.0f}, {3});
  comm->all_reduce_sum(t);
  comm->broadcast(t, 0);
  EXPECT_EQ(ops::to_vector<float>(t), (std::vector<float>{1.5f, -2.0f, 3.0f}));
  comm->all_reduce_sum(ops::zeros({0}));  // empty tensors are fine
}

TEST(LocalCommunicator, RejectsBadArguments) {
  LocalCommunicator comm;
  const Tensor t = ops::zeros({2, 3});
  expect_error([&] { comm.broadcast(t, 1); }, {"broadcast", "root 1", "group of 1"});
  expect_error([&] { comm.broadcast(t, -1); }, {"broadcast", "root -1"});
  const Tensor strided = ops::transpose(t, 0, 1);
  expect_error([&] { comm.all_reduce_sum(strided); }, {"all_reduce_sum", "[3, 2]", "contiguous"});
  expect_error([&] { comm.broadcast(strided, 0); }, {"broadcast", "contiguous"});
  expect_error([&] { comm.all_reduce_sum(Tensor()); }, {"all_reduce_sum", "undefined"});
}

TEST(NcclCommunicator, CompiledAsTheBuildSays) {
#if defined(HIPT_HAVE_NCCL)
  EXPECT_TRUE(cuda::nccl_compiled());
#else
  EXPECT_FALSE(cuda::nccl_compiled());
  expect_error([] { cuda::make_nccl_communicator(kCuda0); }, {"make_nccl_communicator", "no NCCL"});
  expect_error([] { cuda::nccl_unique_id(); }, {"nccl_unique_id", "no NCCL"});
#endif
}

class NcclWorldOfOne : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda::nccl_compiled()) GTEST_SKIP() << "built without NCCL";
    const std::string why = hipt::testing::why_device_unusable(kCuda0);
    if (!why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(NcclWorldOfOne, AllReduceAndBroadcastKeepTheOnlyRanksValues) {
  std::unique_ptr<Communicator> comm = cuda::make_nccl_communicator(kCuda0);
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  for (DType dt : {DType::F32, DType::F64, DType::BF16}) {
    const Tensor host = hipt::testing::random_tensor({1000, 3}, dt, 11);
    const Tensor t = host.to(kCuda0);
    comm->all_reduce_sum(t);
    comm->broadcast(t, 0);
    EXPECT_EQ(ops::to_vector<double>(t), ops::to_vector<double>(host)) << dtype_name(dt);
  }
  expect_error([&] { comm->all_reduce_sum(ops::zeros({4})); }, {"all_reduce_sum", "not on the communicator's device"});
  expect_error([&] { comm->all_reduce_sum(ops::zeros({4}, DType::I64, kCuda0)); }, {"all_reduce_sum", "f32, f64 or bf16"});
  expect_error([&] { comm->broadcast(ops::zeros({4}, DType::F32, kCuda0), 1); }, {"broadcast", "root 1"});
}

TEST_F(NcclWorldOfOne, RankOfOneFromAUniqueId) {
  const cuda::NcclId id = cuda::nccl_unique_id();
  std::unique_ptr<Communicator> comm = cuda::make_nccl_communicator(kCuda0, 0, 1, id);
  EXPECT_EQ(comm->size(), 1);
  const Tensor t = ops::ones({7}, DType::F32, kCuda0);
  comm->all_reduce_sum(t);
  EXPECT_EQ(ops::to_vector<float>(t), std::vector<float>(7, 1.0f));
  expect_error([&] { cuda::make_nccl_communicator(kCuda0, 2, 1, id); }, {"make_nccl_communicator", "rank 2"});
  expect_error([&] { cuda::make_nccl_communicator(kCpu); }, {"make_nccl_communicator", "not a CUDA device"});
}

}  // namespace
