// Decoding one TIFF tile to RGBA, as OpenSlide does: JPEG tiles through libjpeg-turbo with the
// colour space forced from the Photometric tag, Aperio JPEG 2000 (33003/33005) through OpenJPEG,
// everything else through libtiff. Internal to io/.
#pragma once
#include <cstdint>
#include <string>

#include "io/tiff_file.h"

namespace hipt::io {

// rgba [tile_height, tile_width, 4] <- tile `index` of `dir`. Pixels past the image's right and
// bottom edges are cleared to (0,0,0,0); a zero-byte (missing) tile is all transparent.
void decode_tile(const TiffFile& file, const TiffDir& dir, int64_t index, uint8_t* rgba);

// rgba [height, width, 4] <- a JPEG stream (abbreviated, with `tables` holding the JPEGTables, or
// complete). photometric 2 forces JCS_RGB (Aperio's marker-less RGB tiles), 6 JCS_YCbCr. Throws
// naming `path` when the stream is corrupt or its size is not width x height.
void decode_jpeg(const std::string& path, const std::string& tables, const std::string& data, int photometric,
                 int64_t width, int64_t height, uint8_t* rgba);

// rgba [height, width, 4] <- a bare J2K codestream. compression 33003: YCbCr components converted
// with OpenSlide's BT.601 integer tables; 33005: RGB components as decoded.
void decode_j2k(const std::string& path, const std::string& data, int compression, int64_t width, int64_t height,
                uint8_t* rgba);

}  // namespace hipt::io
