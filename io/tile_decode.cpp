// One tile to RGBA: picks the decoder the way OpenSlide does (JPEG fast path, JPEG 2000 raw path,
// libtiff for the rest), then clears the pixels past the image edge.
#include <tiffio.h>

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

// rgba <- interleaved samples (RGB, RGBA, grey, grey + alpha).
void expand_samples(const uint8_t* src, int64_t pixels, int spp, bool grey, uint8_t* rgba) {
  for (int64_t i = 0; i < pixels; ++i, src += spp, rgba += 4) {
    if (grey) {
      rgba[0] = rgba[1] = rgba[2] = src[0];
      rgba[3] = spp == 2 ? src[1] : 255;
    } else {
      rgba[0] = src[0];
      rgba[1] = src[1];
      rgba[2] = src[2];
      rgba[3] = spp == 4 ? src[3] : 255;
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
    expand_samples(samples.data(), pixels, d.samples_per_pixel, d.photometric == PHOTOMETRIC_MINISBLACK, rgba);
  } else {
    // Anything else (palette, 16-bit, planar, grey JPEG, old JPEG...): libtiff's RGBA reader,
    // which places an edge tile's valid part correctly (TIFFRGBAImageGet on a raster wider than
    // the image does not). Its raster is bottom-up.
    std::vector<uint32_t> raster(static_cast<size_t>(d.tile_width * d.tile_height));
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
      }
  }
  clear_past_edge(d, index, rgba);
}

}  // namespace hipt::io
