// PNG images as u8 tensors [H, W, C], through libpng. Used for region images (input), and for
// masks, thumbnails and heatmaps (output).
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace hipt::io {

// Reads any PNG as 8-bit: palette and low-bit grey are expanded, 16-bit samples are reduced to
// 8 bits, transparency chunks become alpha. Returns u8 [H, W, C] with C = 1 (grey), 2 (grey +
// alpha), 3 (RGB) or 4 (RGBA). Throws hipt::Error naming the file on any failure.
Tensor read_png(const std::string& path);

// read_png, then grey is replicated to RGB and alpha is dropped: u8 [H, W, 3].
Tensor read_png_rgb(const std::string& path);

// Writes u8 [H, W, C], C in {1, 3, 4}, any layout, atomically (temp file + rename).
void write_png(const std::string& path, const Tensor& image);

// The PNG file's bytes for `image` (as write_png, without touching the disk).
std::string encode_png(const Tensor& image);

}  // namespace hipt::io
