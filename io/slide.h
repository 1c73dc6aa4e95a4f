// Whole-slide images (Aperio SVS, generic tiled TIFF pyramids, BigTIFF) read through libtiff with
// OpenSlide's semantics: the same levels, downsamples, property names and formats, associated
// images, and read_region pixels identical to OpenSlide where x/downsample and y/downsample are
// whole numbers. Fractional level positions are truncated (as tiffslide and cuCIM do), not
// resampled. Errors are loud: a bad level, a negative size or an oversized region throws
// hipt::Error (OpenSlide would return a transparent image). See README "Reading slides".
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hipt::io {

struct SlideLevel {
  int64_t width, height;
  double downsample;  // (W0/W + H0/H) / 2, OpenSlide's formula; 1 for level 0
  int64_t tile_width, tile_height;
};

struct SlideOptions {
  int64_t max_region_pixels = int64_t{1} << 28;  // read_region refuses w*h above this
  size_t cache_bytes = 256 << 20;                // decoded-tile LRU cache budget (0: no cache)
  int threads = 0;                               // tile decoding: 1 = serial, otherwise the engine's pool (HIPT_NUM_THREADS)
};

class SlideImpl;

class Slide {
 public:
  // Throws hipt::Error naming the file when it cannot be read or is not a supported slide.
  static std::unique_ptr<Slide> open(const std::string& path, const SlideOptions& opts = {});
  ~Slide();
  Slide(const Slide&) = delete;
  Slide& operator=(const Slide&) = delete;

  const std::string& path() const;
  const std::string& vendor() const;  // "aperio" | "generic-tiff"
  int level_count() const;
  const SlideLevel& level(int i) const;
  int best_level_for_downsample(double downsample) const;  // OpenSlide's rule
  const std::map<std::string, std::string>& properties() const;  // OpenSlide names
  const std::string& icc_profile() const;                         // bytes of level 0's profile, empty if none
  std::vector<std::string> associated_image_names() const;        // sorted
  Tensor read_associated_image(const std::string& name) const;    // u8 RGBA [H, W, 4]
  // u8 RGBA [h, w, 4], non-premultiplied, transparent (0,0,0,0) outside the image; x, y level-0
  // coordinates. Safe to call from several threads at once.
  Tensor read_region(int64_t x, int64_t y, int level, int64_t w, int64_t h) const;
  // read_region into a caller's buffer of h*w*4 bytes (rows of w*4 bytes), for callers that reuse memory.
  void read_region_into(uint8_t* rgba, int64_t x, int64_t y, int level, int64_t w, int64_t h) const;

 private:
  explicit Slide(std::unique_ptr<SlideImpl> impl);
  void check_region(int level, int64_t w, int64_t h) const;  // throws for a bad level, size or pixel count
  std::unique_ptr<SlideImpl> impl_;
};

// [H, W, 4] -> [H, W, 3]. Black background: alpha dropped, colour bytes kept, exactly PIL's
// convert('RGB') as the reference applies it to OpenSlide's non-premultiplied RGBA (transparent
// (0,0,0,0) -> black; partial alpha keeps its colour). White background: composited over white.
Tensor rgba_to_rgb(const Tensor& rgba, bool white_background = false);

}  // namespace hipt::io
