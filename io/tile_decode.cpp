// One tile to RGBA: picks the decoder the way OpenSlide does (JPEG fast path, JPEG 2000 raw path,
// libtiff for the rest), then clears the pixels past the image edge.
#include <tiffio.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "io/tile_decode.h"
#include "tensor/error.h"

namespace hipt::io {
namespace {

bool is_jpeg_fast_path(const TiffDir& d) {
  return d.compression == COMPRESSION_JPEG && d.planar == PLANARCONFIG_CONTIG && d.bits_per_sample == 8 &&
         d.samples_per_pixel == 3 && (d.photometric == PHOTOMETRIC_RGB || d.photometric == PHOTOMETRIC_YCBCR);
}

// Layouts TIFFReadEncodedTile hands back as plain 8-bit interleaved samples we can expand directly.
bool is_plain_8bit(const TiffDir& d) {
  if (d.bits_per_sample != 8 || d.sample_format != SAMPLEFORMAT_UINT || d.compression == COMPRESSION_JPEG ||
      (d.planar != PLANARCONFIG_CONTIG && d.samples_per_pixel > 1))
    return false;
  if (d.photometric == PHOTOMETRIC_RGB) return d.samples_per_pixel == 3 || d.samples_per_pixel == 4;
  if (d.photometric == PHOTOMETRIC_MINISBLACK) return d.samples_per_pixel == 1 || d.samples_per_pixel == 2;
  return false;
}

// Straight colour from premultiplied (255 * c / a, truncated, as openslide-python un-premultiplies
// OpenSlide's output); (0,0,0,0) where a = 0.
inline void unpremultiply(uint8_t* px) {
  const int a = px[3];
  if (a == 255) return;
  for (int c = 0; c < 3; ++c) px[c] = a == 0 ? 0 : static_cast<uint8_t>(std::min(255, 255 * px[c] / a));
}

// rgba <- interleaved samples (RGB, RGBA, grey, grey + alpha). RGBA comes out straight
// (non-premultiplied) whatever the file holds: associated alpha (ExtraSamples 1, or 0/absent,
// which libtiff reads the same way) is un-premultiplied, and a transparent pixel is (0,0,0,0),
// as libtiff's premultiplying RGBA path (the fallback below, and OpenSlide) gives it.
void expand_samples(const uint8_t* src, int64_t pixels, int spp, bool grey, bool associated_alpha, uint8_t* rgba) {
  for (int64_t i = 0; i < pixels; ++i, src += spp, rgba += 4) {
    if (grey) {
      rgba[0] = rgba[1] = rgba[2] = src[0];
      rgba[3] = spp == 2 ? src[1] : 255;
    } else {
      rgba[0] = src[0];
      rgba[1] = src[1];
      rgba[2] = src[2];
      rgba[3] = spp == 4 ? src[3] : 255;
      if (associated_alpha) unpremultiply(rgba);
      else if (rgba[3] == 0) rgba[0] = rgba[1] = rgba[2] = 0;
    }
  }
}

void clear_past_edge(const TiffDir& d, int64_t index, uint8_t* rgba) {
  int64_t col = index % d.tiles_across, row = index / d.tiles_across;
  int64_t valid_w = std::min(d.tile_width, d.width - col * d.tile_width);
  int64_t valid_h = std::min(d.tile_height, d.height - row * d.tile_height);
  if (valid_w < d.tile_width)
    for (int64_t y = 0; y < valid_h; ++y)
      std::memset(rgba + (y * d.tile_width + valid_w) * 4, 0, static_cast<size_t>((d.tile_width - valid_w) * 4));
  if (valid_h < d.tile_height)
    std::memset(rgba + valid_h * d.tile_width * 4, 0, static_cast<size_t>((d.tile_height - valid_h) * d.tile_width * 4));
}

}  // namespace

void decode_tile(const TiffFile& file, const TiffDir& d, int64_t index, uint8_t* rgba) {
  const int64_t tile_bytes = d.tile_width * d.tile_height * 4;
  HIPT_CHECK(index >= 0 && index < d.tiles_across * d.tiles_down &&
                 static_cast<size_t>(index) < d.byte_counts.size(),
             "{}: directory {}: tile {} is not in the tile table", file.path(), d.index, index);
  if (d.byte_counts[static_cast<size_t>(index)] == 0) {
    std::memset(rgba, 0, static_cast<size_t>(tile_bytes));  // missing tile: transparent
    return;
  }
  if (is_jpeg_fast_path(d) || d.compression == 33003 || d.compression == 33005) {
    std::string raw;
    file.read_bytes(d.offsets[static_cast<size_t>(index)], d.byte_counts[static_cast<size_t>(index)], &raw);
    if (d.compression == COMPRESSION_JPEG)
      decode_jpeg(file.path(), d.jpeg_tables, raw, d.photometric, d.tile_width, d.tile_height, rgba);
    else
      decode_j2k(file.path(), raw, d.compression, d.tile_width, d.tile_height, rgba);
  } else if (is_plain_8bit(d)) {
    const int64_t pixels = d.tile_width * d.tile_height;
    std::vector<uint8_t> samples(static_cast<size_t>(pixels * d.samples_per_pixel));
    file.with_handle(d.index, "cannot decode tile " + std::to_string(index), [&](TIFF* tif) {
      tmsize_t got = TIFFReadEncodedTile(tif, static_cast<uint32_t>(index), samples.data(),
                                         static_cast<tmsize_t>(samples.size()));
      return got == static_cast<tmsize_t>(samples.size());
    });
    expand_samples(samples.data(), pixels, d.samples_per_pixel, d.photometric == PHOTOMETRIC_MINISBLACK,
                   d.extra_sample != EXTRASAMPLE_UNASSALPHA, rgba);
  } else {
    // Anything else (palette, 16-bit, planar, grey JPEG, old JPEG...): libtiff's RGBA reader,
    // which places an edge tile's valid part correctly (TIFFRGBAImageGet on a raster wider than
    // the image does not). Its raster is bottom-up, and for colour images premultiplied
    // (libtiff premultiplies unassociated alpha and passes associated alpha through), so it is
    // un-premultiplied to the straight RGBA we promise; grey + alpha comes back straight.
    std::vector<uint32_t> raster(static_cast<size_t>(d.tile_width * d.tile_height));
    const bool grey = d.photometric == PHOTOMETRIC_MINISBLACK || d.photometric == PHOTOMETRIC_MINISWHITE;
    int64_t col = index % d.tiles_across, row = index / d.tiles_across;
    file.with_handle(d.index, "cannot decode tile " + std::to_string(index), [&](TIFF* tif) {
      return TIFFReadRGBATile(tif, static_cast<uint32_t>(col * d.tile_width), static_cast<uint32_t>(row * d.tile_height),
                              raster.data()) != 0;
    });
    for (int64_t y = 0; y < d.tile_height; ++y)
      for (int64_t x = 0; x < d.tile_width; ++x) {
        uint32_t p = raster[static_cast<size_t>((d.tile_height - 1 - y) * d.tile_width + x)];
        uint8_t* o = rgba + (y * d.tile_width + x) * 4;
        o[0] = static_cast<uint8_t>(TIFFGetR(p));
        o[1] = static_cast<uint8_t>(TIFFGetG(p));
        o[2] = static_cast<uint8_t>(TIFFGetB(p));
        o[3] = static_cast<uint8_t>(TIFFGetA(p));
        if (!grey) unpremultiply(o);
      }
  }
  clear_past_edge(d, index, rgba);
}

}  // namespace hipt::io
