// Tests parameterised over devices: the same test body runs on the CPU and on the first GPU; the
// GPU case skips, saying why, where there is none (no driver, no device, or built without CUDA).
//
//   class MyOps : public hipt::testing::OnDevice {};
//   TEST_P(MyOps, Something) { Tensor x = random_tensor({3, 4}).to(device()); ... }
//   HIPT_INSTANTIATE_ON_DEVICES(MyOps);
#pragma once
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "cuda/runtime.h"
#include "tensor/tensor.h"

namespace hipt::testing {

inline const Device kCpu{DeviceType::CPU, 0};
inline const Device kCuda0{DeviceType::CUDA, 0};

// Empty when `d` can run ops here, otherwise why not.
inline std::string why_device_unusable(const Device& d) {
  if (d.type == DeviceType::CPU) return "";
  return cuda::device_count() > d.index ? "" : "no usable GPU: " + cuda::why_no_gpu();
}

class OnDevice : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    const std::string why = why_device_unusable(GetParam());
    if (!why.empty()) GTEST_SKIP() << why;
  }
  Device device() const { return GetParam(); }
  bool on_gpu() const { return GetParam().type == DeviceType::CUDA; }
};

inline std::string device_param_name(const ::testing::TestParamInfo<Device>& info) {
  return info.param.type == DeviceType::CPU ? "cpu" : "cuda";
}

}  // namespace hipt::testing

namespace hipt {
// gtest prints a parameter with this (found by argument-dependent lookup): "cuda:0", not its bytes.
inline void PrintTo(const Device& d, std::ostream* os) { *os << d.str(); }
}  // namespace hipt

#define HIPT_INSTANTIATE_ON_DEVICES(suite)                                                          \
  INSTANTIATE_TEST_SUITE_P(Devices, suite, ::testing::Values(::hipt::testing::kCpu, ::hipt::testing::kCuda0), \
                           ::hipt::testing::device_param_name)
