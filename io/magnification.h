// The scan's objective magnification (from the slide's properties) and reads of level-0 regions
// brought to a target magnification (HIPT's 4096² at 20x: 8192² box-averaged 2 × 2 on a 40x scan).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "tensor/tensor.h"

namespace hipt::io {

// The scan's objective magnification: `override_mag` if given, else from openslide.mpp-x
// (40 when mpp < 0.375, 20 when < 0.75, 10 when < 1.5, else 5 — scanners report 0.2–0.27 for
// 40x, 0.45–0.55 for 20x), else openslide.objective-power. Throws naming `what` when none is
// known or the value is not a positive number.
double slide_magnification(const std::map<std::string, std::string>& properties,
                           std::optional<double> override_mag, const std::string& what);

// Level-0 side of a region that becomes `size` pixels at `target_mag` (4096 at 20x -> 8192 on a
// 40x scan). Throws unless the ratio mag/target_mag gives a whole number of pixels.
int64_t level0_region_size(double magnification, int64_t size = 4096, double target_mag = 20);

// Reads RGBA u8 [h, w, 4] (non-premultiplied) from level 0 of a slide at level-0 (x, y).
using RegionReader = std::function<Tensor(int64_t x, int64_t y, int64_t w, int64_t h)>;

// rgb: u8 [size, size, 3]. Reads the level-0 square of level0_region_size(magnification, size)
// at (x, y) and brings it to `size` by an exact box average of each f × f block (f = integer ratio,
// rounded half up), which for the 2x case of a 40x scan is the 2 × 2 mean. Alpha: dropped
// (transparent pixels past the slide edge are black, as PIL's convert('RGB') gives CLAM), or
// with white_background composited over white.
Tensor read_region_at_target_mag(const RegionReader& read, int64_t x, int64_t y, double magnification,
                                 int64_t size = 4096, bool white_background = false, double target_mag = 20);

class Slide;

// read_region_at_target_mag on level 0 of `slide`.
Tensor read_region_at_target_mag(const Slide& slide, int64_t x, int64_t y, double magnification,
                                 int64_t size = 4096, bool white_background = false, double target_mag = 20);

}  // namespace hipt::io
