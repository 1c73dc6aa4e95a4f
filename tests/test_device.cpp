// Devices: the CUDA layer answers without a driver, and CUDA tensors are refused with a clear
// message where no GPU can hold them.
#include "cuda/runtime.h"
#include "testing.h"

using namespace hipt;

TEST(Device, CudaRuntimeReportsDeviceOrReason) {
  if (!cuda::compiled()) GTEST_SKIP() << "CUDA not compiled in: " << cuda::why_no_gpu();
  if (cuda::device_count() == 0) GTEST_SKIP() << "no GPU: " << cuda::why_no_gpu();
  EXPECT_FALSE(cuda::device_name(0).empty());
  EXPECT_THAT(cuda::compute_capability(0), ::testing::MatchesRegex("[0-9]+\\.[0-9]+"));
  EXPECT_EQ(cuda::compute_capability(cuda::device_count()), "");  // no such device
  EXPECT_TRUE(cuda::why_no_gpu().empty());
}

TEST(Device, NoCudaTensorsWithoutAGpu) {
  EXPECT_FALSE(cuda::why_no_gpu().empty() && cuda::device_count() == 0);
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is usable here";
  if (cuda::compiled())
    hipt::testing::expect_error([] { ops::empty({2}, DType::F32, Device{DeviceType::CUDA, 0}); },
                                {"cuda:0: no usable GPU", cuda::why_no_gpu()});
  else
    hipt::testing::expect_error([] { ops::empty({2}, DType::F32, Device{DeviceType::CUDA, 0}); },
                                {"empty: no kernel for cuda:0", "built without CUDA"});
}
