#include "io/tiff_writer.h"

#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "io/atomic_file.h"
#include "tensor/ops.h"

namespace hipt::io {
namespace {

// libtiff reports through a per-handle callback; the first message is kept for our error.
int keep_error(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  auto* msg = static_cast<std::string*>(user);
  if (msg->empty()) {
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    *msg = std::string(module ? module : "libtiff") + ": " + buf;
  }
  return 1;
}
int ignore_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

std::string level_description(const TiffWriteOptions& o, int64_t w0, int64_t h0, int64_t w, int64_t h, int level) {
  if (!o.aperio) return level == 0 ? o.description : std::string();
  // OpenSlide's Aperio driver needs the "Aperio" prefix on dir 0 and reads the |key = value| pairs
  // after the first '|'; the second line mimics what Aperio's library writes.
  const char* codec = o.compression == TiffCompression::Deflate ? "Deflate" : o.jpeg_ycbcr ? "JPEG/YCC" : "JPEG/RGB";
  std::string d = fmt::format("Aperio Image Library v12.0.15 \r\n{}x{} [0,0 {}x{}] ({}x{}) {}", w0, h0, w0, h0,
                              o.tile_size, o.tile_size, codec);
  if (o.compression == TiffCompression::Jpeg) d += fmt::format(" Q={}", o.jpeg_quality);
  if (level > 0) return fmt::format("Aperio Image Library v12.0.15 \r\n{}x{} -> {}x{}", w0, h0, w, h);
  if (o.objective_power) d += fmt::format("|AppMag = {}", *o.objective_power);
  if (o.mpp) d += fmt::format("|MPP = {}", *o.mpp);
  d += "|Filename = hipt";
  return d;
}

// Writes one level as the current directory.
void write_level(TIFF* tif, const Tensor& img, const TiffWriteOptions& o, int level, double downsample,
                 const std::string& description, const std::string& path, const std::string& tiff_error) {
  const int64_t h = img.size(0), w = img.size(1), t = o.tile_size;
  bool ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(w)) &&
            TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(h)) &&
            TIFFSetField(tif, TIFFTAG_TILEWIDTH, static_cast<uint32_t>(t)) &&
            TIFFSetField(tif, TIFFTAG_TILELENGTH, static_cast<uint32_t>(t)) &&
            TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 3) && TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8) &&
            TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
            TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
  if (ok && level > 0 && !o.aperio) ok = TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
  if (ok && !description.empty()) ok = TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description.c_str());
  if (ok && o.mpp) {
    const float per_cm = static_cast<float>(10000.0 / (*o.mpp * downsample));
    ok = TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER) && TIFFSetField(tif, TIFFTAG_XRESOLUTION, per_cm) &&
         TIFFSetField(tif, TIFFTAG_YRESOLUTION, per_cm);
  }
  if (ok && o.compression == TiffCompression::Deflate) {
    ok = TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE) &&
         TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  } else if (ok) {
    ok = TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_JPEG) &&
         TIFFSetField(tif, TIFFTAG_JPEGQUALITY, o.jpeg_quality);
    if (ok && o.jpeg_ycbcr)  // libtiff converts our RGB to subsampled YCbCr (JPEGCOLORMODE_RGB)
      ok = TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR) &&
           TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, 2, 2) &&
           TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    else if (ok)
      ok = TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  }
  HIPT_CHECK(ok, "{}: cannot set the TIFF tags of level {}{}", path, level, tiff_error.empty() ? "" : ": " + tiff_error);

  // Edge tiles are padded by repeating the last row/column: no hard edge for JPEG to ring on.
  const uint8_t* src = img.data<uint8_t>();
  std::vector<uint8_t> tile(static_cast<size_t>(t * t * 3));
  for (int64_t ty = 0; ty < h; ty += t)
    for (int64_t tx = 0; tx < w; tx += t) {
      for (int64_t y = 0; y < t; ++y) {
        const int64_t sy = std::min(ty + y, h - 1);
        for (int64_t x = 0; x < t; ++x) {
          const int64_t sx = std::min(tx + x, w - 1);
          std::memcpy(&tile[static_cast<size_t>((y * t + x) * 3)], src + (sy * w + sx) * 3, 3);
        }
      }
      const uint32_t index = TIFFComputeTile(tif, static_cast<uint32_t>(tx), static_cast<uint32_t>(ty), 0, 0);
      HIPT_CHECK(TIFFWriteEncodedTile(tif, index, tile.data(), static_cast<tmsize_t>(tile.size())) >= 0,
                 "{}: writing tile {} of level {} failed{}", path, index, level,
                 tiff_error.empty() ? "" : ": " + tiff_error);
    }
  HIPT_CHECK(TIFFWriteDirectory(tif), "{}: writing the directory of level {} failed{}", path, level,
             tiff_error.empty() ? "" : ": " + tiff_error);
}

}  // namespace

Tensor downsample_2x_box(const Tensor& img) {
  HIPT_CHECK(img.dtype() == DType::U8 && img.dim() == 3 && img.size(2) == 3 && img.is_contiguous(),
             "downsample_2x_box: expected a contiguous u8 [H, W, 3], got {}", img.str());
  const int64_t h = img.size(0) / 2, w = img.size(1) / 2, sw = img.size(1);
  Tensor out = ops::empty({h, w, 3}, DType::U8);
  const uint8_t* s = img.data<uint8_t>();
  uint8_t* d = out.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const uint8_t* p = s + ((2 * y) * sw + 2 * x) * 3 + c;
        d[(y * w + x) * 3 + c] = static_cast<uint8_t>((p[0] + p[3] + p[sw * 3] + p[sw * 3 + 3] + 2) / 4);
      }
  return out;
}

void write_tiff_pyramid(const std::string& path, const Tensor& rgb, const TiffWriteOptions& o) {
  HIPT_CHECK(rgb.defined() && rgb.dtype() == DType::U8 && rgb.dim() == 3 && rgb.size(2) == 3 && rgb.size(0) > 0 &&
                 rgb.size(1) > 0,
             "{}: the image to write must be u8 [H, W, 3], got {}", path, rgb.defined() ? rgb.str() : "nothing");
  HIPT_CHECK(o.tile_size >= 16 && o.tile_size % 16 == 0, "{}: tile size {} must be a positive multiple of 16", path,
             o.tile_size);
  HIPT_CHECK(o.jpeg_quality >= 1 && o.jpeg_quality <= 100, "{}: JPEG quality {} is not in [1, 100]", path,
             o.jpeg_quality);
  HIPT_CHECK(o.min_level_size >= 1, "{}: min_level_size {} must be positive", path, o.min_level_size);
  HIPT_CHECK(!o.mpp || (std::isfinite(*o.mpp) && *o.mpp > 0), "{}: mpp must be a positive number", path);
  HIPT_CHECK(!o.objective_power || (std::isfinite(*o.objective_power) && *o.objective_power > 0),
             "{}: objective power must be a positive number", path);
  HIPT_CHECK(rgb.size(0) < (int64_t{1} << 31) && rgb.size(1) < (int64_t{1} << 31), "{}: image {} is too large for TIFF",
             path, rgb.str());

  // Temp file next to the target, renamed over it only once complete.
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = mkstemp(tmp.data());
  HIPT_CHECK(fd >= 0, "{}: cannot create a temporary file next to it: {}", path, std::strerror(errno));
  ::fchmod(fd, 0644);  // mkstemp's 0600 would make the slide private to its writer
  std::string tiff_error;
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options, keep_error, &tiff_error);
  TIFFOpenOptionsSetWarningHandlerExtR(options, ignore_warning, nullptr);
  TIFF* tif = TIFFFdOpenExt(fd, tmp.c_str(), o.bigtiff ? "w8" : "w", options);
  TIFFOpenOptionsFree(options);
  if (!tif) {
    ::close(fd);
    std::remove(tmp.c_str());
    HIPT_CHECK(false, "{}: libtiff cannot open the temporary file: {}", path, tiff_error);
  }
  try {
    Tensor level = ops::contiguous(rgb);
    const int64_t w0 = rgb.size(1), h0 = rgb.size(0);
    for (int i = 0;; ++i) {
      const int64_t w = level.size(1), h = level.size(0);
      const double downsample = static_cast<double>(w0) / static_cast<double>(w);
      write_level(tif, level, o, i, downsample, level_description(o, w0, h0, w, h, i), path, tiff_error);
      if (std::max(w, h) <= o.min_level_size || w < 2 || h < 2) break;
      level = downsample_2x_box(level);
    }
  } catch (...) {
    TIFFClose(tif);
    std::remove(tmp.c_str());
    throw;
  }
  // Flushed and synced before the rename, as write_file_atomic does: after a crash the path holds
  // the old file or the whole new one, never an empty one.
  const int injected = injected_write_error();
  const bool synced = !injected && TIFFFlush(tif) == 1 && ::fsync(fd) == 0;
  const int sync_err = injected ? injected : errno;
  TIFFClose(tif);  // closes fd
  if (!synced) {
    std::remove(tmp.c_str());
    HIPT_CHECK(false, "{}: cannot write the file to disk: {}", path,
               tiff_error.empty() ? std::strerror(sync_err) : tiff_error);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    HIPT_CHECK(false, "{}: cannot move the written file into place: {}", path, std::strerror(err));
  }
}

}  // namespace hipt::io
