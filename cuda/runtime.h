// What the rest of the project asks the CUDA layer, answered the same way with or without CUDA.
#pragma once
#include <string>

namespace hipt::cuda {

bool compiled();          // was this build made with the CUDA backend?
int device_count();       // 0 when there is no usable GPU
std::string why_no_gpu(); // "" when a GPU is usable, otherwise the reason in words
std::string device_name(int index);
std::string runtime_version();  // "13.0", or "" without CUDA

// Fills the CUDA kernel table of tensor/backend.h (empty in a build without CUDA, which then says
// so in every op's error). Call it once, early, from main(): the CLI, the tests and any program
// embedding the engine. An explicit call rather than a static initialiser, which a linker may drop
// from a static library.
void register_backend();

}  // namespace hipt::cuda
