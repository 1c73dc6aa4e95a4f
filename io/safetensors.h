// safetensors files (Hugging Face's format): an 8-byte little-endian header length N, N bytes of
// JSON naming each tensor's dtype, shape and byte span, then the packed row-major tensor bytes.
// The one format this project writes for weights; `.pth` files are read by io/pth.h.
#pragma once
#include <map>
#include <string>

#include "tensor/tensor.h"

namespace hipt::io {

// Tensors by name; the same alias as nn::TensorMap (nn/ must not include io/).
using TensorMap = std::map<std::string, Tensor>;

// Reads every tensor (dtypes F32, F64, F16, BF16, I32, I64, U8, BOOL) into its own contiguous CPU
// storage. The file is validated as the reference reader does (header length within bounds and
// the file, JSON object, no duplicate names, shape × dtype size == byte span, spans tile the
// buffer exactly with nothing after it); any failure is one hipt::Error naming the file.
TensorMap read_safetensors(const std::string& path);

// Writes the tensors (any layout, CPU) packed, largest dtype first then by name, header padded
// with spaces to a multiple of 8 so every tensor is 8-byte aligned; `metadata` becomes
// "__metadata__". Atomic (temp file + rename).
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The "__metadata__" map alone (empty if the file has none); the header is validated in full.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

}  // namespace hipt::io
