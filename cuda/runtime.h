// What the rest of the project asks the CUDA layer, answered the same way with or without CUDA.
#pragma once
#include <string>

namespace hipt::cuda {

bool compiled();          // was this build made with the CUDA backend?
int device_count();       // 0 when there is no usable GPU
std::string why_no_gpu(); // "" when a GPU is usable, otherwise the reason in words
std::string device_name(int index);
std::string runtime_version();  // "13.0", or "" without CUDA

}  // namespace hipt::cuda
