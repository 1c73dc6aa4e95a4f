// Aperio JPEG 2000 tiles (compression 33003 and 33005): the tile bytes are a bare J2K codestream
// that libtiff cannot decode, so they are read raw and handed to OpenJPEG from memory.
#include <openjpeg.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>

#include "io/tile_decode.h"
#include "tensor/error.h"

namespace hipt::io {
namespace {

struct MemoryStream {
  const uint8_t* data;
  OPJ_SIZE_T size, pos;
};

OPJ_SIZE_T stream_read(void* buffer, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);
  OPJ_SIZE_T take = std::min(n, s->size - s->pos);
  std::memcpy(buffer, s->data + s->pos, take);
  s->pos += take;
  return take;
}
OPJ_OFF_T stream_skip(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  OPJ_OFF_T target = std::clamp<OPJ_OFF_T>(static_cast<OPJ_OFF_T>(s->pos) + n, 0, static_cast<OPJ_OFF_T>(s->size));
  OPJ_OFF_T moved = target - static_cast<OPJ_OFF_T>(s->pos);
  s->pos = static_cast<OPJ_SIZE_T>(target);
  return moved;
}
OPJ_BOOL stream_seek(OPJ_OFF_T to, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (to < 0 || static_cast<OPJ_SIZE_T>(to) > s->size) return OPJ_FALSE;
  s->pos = static_cast<OPJ_SIZE_T>(to);
  return OPJ_TRUE;
}

void on_opj_error(const char* msg, void* user) {
  auto* error = static_cast<std::string*>(user);
  if (error->empty()) {
    *error = msg;
    while (!error->empty() && (error->back() == '\n' || error->back() == ' ')) error->pop_back();
  }
}
void on_opj_quiet(const char*, void*) {}

// OpenSlide's BT.601 YCbCr -> RGB tables: R and B offsets rounded per value; G in 16.16 fixed point
// with the rounding half folded into the Cb term, summed and shifted right once.
struct YCbCrTables {
  std::array<int, 256> r_cr, g_cb, g_cr, b_cb;
  YCbCrTables() {
    for (int i = 0; i < 256; ++i) {
      r_cr[i] = static_cast<int>(std::lround(1.402 * (i - 128)));
      g_cb[i] = static_cast<int>(std::lround(65536.0 * (0.5 - 0.34414 * (i - 128))));
      g_cr[i] = static_cast<int>(std::lround(65536.0 * -0.71414 * (i - 128)));
      b_cb[i] = static_cast<int>(std::lround(1.772 * (i - 128)));
    }
  }
};

inline uint8_t clamp_u8(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

struct CodecDeleter {
  void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
  void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};

}  // namespace

void decode_j2k(const std::string& path, const std::string& data, int compression, int64_t width, int64_t height,
                uint8_t* rgba) {
  MemoryStream ms{reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0};
  std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(1 << 16, OPJ_TRUE));
  HIPT_CHECK(stream, "{}: OpenJPEG could not make a stream", path);
  opj_stream_set_user_data(stream.get(), &ms, nullptr);
  opj_stream_set_user_data_length(stream.get(), data.size());
  opj_stream_set_read_function(stream.get(), stream_read);
  opj_stream_set_skip_function(stream.get(), stream_skip);
  opj_stream_set_seek_function(stream.get(), stream_seek);

  std::unique_ptr<opj_codec_t, CodecDeleter> codec(opj_create_decompress(OPJ_CODEC_J2K));
  std::string error;
  opj_set_error_handler(codec.get(), on_opj_error, &error);
  opj_set_warning_handler(codec.get(), on_opj_quiet, nullptr);
  opj_set_info_handler(codec.get(), on_opj_quiet, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  opj_image_t* raw_image = nullptr;
  bool ok = opj_setup_decoder(codec.get(), &params) && opj_read_header(stream.get(), codec.get(), &raw_image);
  std::unique_ptr<opj_image_t, ImageDeleter> image(raw_image);
  ok = ok && opj_decode(codec.get(), stream.get(), image.get()) && opj_end_decompress(codec.get(), stream.get());
  HIPT_CHECK(ok, "{}: corrupt JPEG 2000 tile: {}", path, error.empty() ? "OpenJPEG failed" : error);
  HIPT_CHECK(image->numcomps >= 3, "{}: JPEG 2000 tile has {} components, expected 3", path, image->numcomps);
  const opj_image_comp_t* c = image->comps;
  HIPT_CHECK(c[0].w == width && c[0].h == height, "{}: dimensional mismatch: the JPEG 2000 tile is {}x{}, expected {}x{}",
             path, c[0].w, c[0].h, width, height);
  for (int k = 0; k < 3; ++k)
    HIPT_CHECK(c[k].data && c[k].dx > 0 && c[k].dy > 0 && int64_t{c[k].w} * c[k].dx >= width &&
                   int64_t{c[k].h} * c[k].dy >= height,
               "{}: JPEG 2000 component {} does not cover the tile", path, k);
  static const YCbCrTables tables;
  for (int64_t y = 0; y < height; ++y) {
    const OPJ_INT32* row0 = c[0].data + (y / c[0].dy) * c[0].w;
    const OPJ_INT32* row1 = c[1].data + (y / c[1].dy) * c[1].w;
    const OPJ_INT32* row2 = c[2].data + (y / c[2].dy) * c[2].w;
    uint8_t* out = rgba + y * width * 4;
    for (int64_t x = 0; x < width; ++x, out += 4) {
      int v0 = row0[x / c[0].dx], v1 = row1[x / c[1].dx], v2 = row2[x / c[2].dx];
      if (compression == 33003) {
        int cb = clamp_u8(v1), cr = clamp_u8(v2);
        out[0] = clamp_u8(v0 + tables.r_cr[cr]);
        out[1] = clamp_u8(v0 + ((tables.g_cb[cb] + tables.g_cr[cr]) >> 16));
        out[2] = clamp_u8(v0 + tables.b_cb[cb]);
      } else {
        out[0] = clamp_u8(v0);
        out[1] = clamp_u8(v1);
        out[2] = clamp_u8(v2);
      }
      out[3] = 255;
    }
  }
}

}  // namespace hipt::io
