// Writing tiled pyramidal TIFFs that OpenSlide (and io/slide.h) open: generic-tiff (reduced levels
// tagged NewSubfileType = 1 in the main IFD chain, as vips writes them) or Aperio (an "Aperio ..."
// ImageDescription carrying AppMag and MPP). For demos and tests: the whole image is in memory.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "tensor/tensor.h"

namespace hipt::io {

enum class TiffCompression { Jpeg, Deflate };

struct TiffWriteOptions {
  int64_t tile_size = 256;  // square tiles; a multiple of 16 (TIFF requires it for tiles)
  TiffCompression compression = TiffCompression::Jpeg;
  int jpeg_quality = 75;     // 1..100
  bool jpeg_ycbcr = true;    // YCbCr 4:2:0 (what vips writes below Q 90); false: Photometric RGB, 4:4:4
  int64_t min_level_size = 256;  // halve while the level's larger side exceeds this
  bool bigtiff = false;
  std::optional<double> mpp;               // microns per level-0 pixel: resolution tags (and MPP for Aperio)
  std::optional<double> objective_power;   // Aperio AppMag
  bool aperio = false;                     // Aperio ImageDescription; else generic
  std::string description;                 // generic: dir 0's ImageDescription (none if empty)
};

// Writes rgb: u8 [H, W, 3] (any layout) as a pyramid: level 0, then successive 2x downsamples
// (each output pixel the rounded mean of a 2x2 block; an odd last row/column is dropped, as
// vips' pyramid does), atomically (temp file in the same folder + rename). Throws hipt::Error
// naming `path` on bad options or a failed write; a failed write leaves no file behind.
void write_tiff_pyramid(const std::string& path, const Tensor& rgb, const TiffWriteOptions& opts = {});

// half: u8 [H/2, W/2, 3] <- img: u8 [H, W, 3], contiguous. The box filter of the pyramid.
Tensor downsample_2x_box(const Tensor& img);

}  // namespace hipt::io
