#include "io/magnification.h"

#include <cmath>
#include <cstdlib>

#include "io/slide.h"
#include "tensor/ops.h"

namespace hipt::io {

double slide_magnification(const std::map<std::string, std::string>& properties, std::optional<double> override_mag,
                           const std::string& what) {
  if (override_mag) {
    HIPT_CHECK(std::isfinite(*override_mag) && *override_mag > 0, "{}: magnification {} must be a positive number",
               what, *override_mag);
    return *override_mag;
  }
  auto number = [&](const char* key, double* v) {
    auto it = properties.find(key);
    if (it == properties.end()) return false;
    char* end = nullptr;
    *v = std::strtod(it->second.c_str(), &end);
    HIPT_CHECK(end != it->second.c_str() && *end == '\0' && std::isfinite(*v) && *v > 0,
               "{}: property {} = '{}' is not a positive number", what, key, it->second);
    return true;
  };
  double v;
  if (number("openslide.mpp-x", &v)) return v < 0.375 ? 40 : v < 0.75 ? 20 : v < 1.5 ? 10 : 5;
  if (number("openslide.objective-power", &v)) return v;
  HIPT_CHECK(false, "{}: unknown magnification (no openslide.mpp-x or openslide.objective-power); give it with "
             "--magnification", what);
  return 0;
}

int64_t level0_region_size(double magnification, int64_t size, double target_mag) {
  HIPT_CHECK(magnification > 0 && target_mag > 0 && size > 0,
             "level0_region_size: magnification {}, target {} and size {} must be positive", magnification, target_mag,
             size);
  const double ratio = magnification / target_mag;
  const double f = std::round(ratio);
  HIPT_CHECK(f >= 1 && std::abs(ratio - f) < 1e-6,
             "level0_region_size: magnification {} is not a whole multiple of the target {}", magnification,
             target_mag);
  // Checked in double: a huge --magnification would overflow the int64 conversion and product.
  HIPT_CHECK(f * static_cast<double>(size) <= static_cast<double>(int64_t{1} << 32),
             "level0_region_size: a {}-px region at magnification {} (target {}) is larger than any slide", size,
             magnification, target_mag);
  return size * static_cast<int64_t>(f);
}

Tensor read_region_at_target_mag(const RegionReader& read, int64_t x, int64_t y, double magnification, int64_t size,
                                 bool white_background, double target_mag) {
  const int64_t side = level0_region_size(magnification, size, target_mag);
  const int64_t f = side / size;
  Tensor rgba = read(x, y, side, side);
  HIPT_CHECK(rgba.defined() && rgba.dtype() == DType::U8 && rgba.dim() == 3 && rgba.size(0) == side &&
                 rgba.size(1) == side && rgba.size(2) == 4,
             "read_region_at_target_mag: the reader returned {}, expected u8 [{}, {}, 4]",
             rgba.defined() ? rgba.str() : "nothing", side, side);
  rgba = ops::contiguous(rgba);
  const uint8_t* src = rgba.data<uint8_t>();
  Tensor out = ops::empty({size, size, 3}, DType::U8);
  uint8_t* dst = out.data<uint8_t>();
  const int64_t n = f * f;
  for (int64_t oy = 0; oy < size; ++oy)
    for (int64_t ox = 0; ox < size; ++ox)
      for (int c = 0; c < 3; ++c) {
        int64_t sum = 0;
        for (int64_t dy = 0; dy < f; ++dy)
          for (int64_t dx = 0; dx < f; ++dx) {
            const uint8_t* p = src + ((oy * f + dy) * side + ox * f + dx) * 4;
            // Non-premultiplied: dropping alpha keeps the colour; over white blends it in.
            sum += white_background ? (p[c] * p[3] + 255 * (255 - p[3]) + 127) / 255 : p[c];
          }
        dst[(oy * size + ox) * 3 + c] = static_cast<uint8_t>((sum + n / 2) / n);
      }
  return out;
}

Tensor read_region_at_target_mag(const Slide& slide, int64_t x, int64_t y, double magnification, int64_t size,
                                 bool white_background, double target_mag) {
  RegionReader read = [&slide](int64_t rx, int64_t ry, int64_t w, int64_t h) {
    return slide.read_region(rx, ry, 0, w, h);
  };
  return read_region_at_target_mag(read, x, y, magnification, size, white_background, target_mag);
}

}  // namespace hipt::io
