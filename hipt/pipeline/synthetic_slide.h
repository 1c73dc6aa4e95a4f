// A synthetic H&E-like whole-slide image for `hipt demo`, tests and benchmarks: deterministic per
// seed, made in a few seconds, no third-party data.
//
// Layout (fractions of the image, so smaller images keep it): a white glass background
// (241-247 grey), one large elongated tissue piece with an irregular smooth border across the
// middle, a small fragment near the top-left corner, a few near-white lumen holes inside the
// piece. Tissue is eosin-pink stroma with wavy fibres, and hematoxylin-purple nuclei (ellipses of
// varying size and orientation, most in clusters).
//
// At the default 12288 x 6144 written at 20x (mpp 0.5), CLAM's default segmentation
// (TilingOptions{}) keeps the large piece only (the fragment is below a_t = 100 reference
// patches; the holes below a_h = 16) and the 4096 grid gives kSyntheticSlideRegions regions, one
// row of three along the piece.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace hipt {

struct SyntheticSlideOptions {
  int64_t width = 12288, height = 6144;  // level 0, pixels at 20x
  uint64_t seed = 0;
  int jpeg_quality = 80;
};

// Regions of 4096² at 20x that plan_regions with default TilingOptions finds on the default-sized
// slide written by write_synthetic_slide (any seed: the seed
// changes the textures and the nuclei, not the tissue's outline).
constexpr int kSyntheticSlideRegions = 3;

// rgb: u8 [height, width, 3]. Same options -> same bytes (independent of the thread count).
// Throws hipt::Error when a side is below 256 or the image would exceed 2^31 pixels.
Tensor synthetic_slide(const SyntheticSlideOptions& opts = {});

// Writes synthetic_slide(opts) as an Aperio-style JPEG pyramid (AppMag 20, MPP 0.5, 256² tiles)
// with io::write_tiff_pyramid (atomic), and returns the image. Throws hipt::Error naming `path`.
Tensor write_synthetic_slide(const std::string& path, const SyntheticSlideOptions& opts = {});

}  // namespace hipt
