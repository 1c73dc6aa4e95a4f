// Devices: the CUDA layer answers without a driver, and CUDA tensors are refused with a clear
// message until the CUDA kernels exist.
#include "cuda/runtime.h"
#include "testing.h"

using namespace hipt;

TEST(Device, CudaRuntimeReportsDeviceOrReason) {
  if (!cuda::compiled()) GTEST_SKIP() << "CUDA not compiled in: " << cuda::why_no_gpu();
  if (cuda::device_count() == 0) GTEST_SKIP() << "no GPU: " << cuda::why_no_gpu();
  EXPECT_FALSE(cuda::device_name(0).empty());
  EXPECT_TRUE(cuda::why_no_gpu().empty());
}

TEST(Device, NoCudaWorkWithoutABackend) {
  EXPECT_FALSE(cuda::why_no_gpu().empty() && cuda::device_count() == 0);
  hipt::testing::expect_error([] { ops::empty({2}, DType::F32, Device{DeviceType::CUDA, 0}); },
                        {"empty: no kernel for cuda:0"});
}
