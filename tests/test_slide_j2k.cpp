// Aperio JPEG 2000 33003 (YCbCr, chroma subsampled 2x horizontally): no public sample exists, so
// a lossless codestream is made here with OpenJPEG's encoder and the decoded RGB is compared with
// the BT.601 formula in double (±1: OpenSlide's integer tables round each term once).
#include <openjpeg.h>

#include <cmath>

#include "io/tile_decode.h"
#include "slide_testing.h"
#include "tiny_tiff.h"

namespace {

// A lossless J2K codestream of a 32x16 image with planes Y [16][32], Cb and Cr [16][16] (dx = 2).
std::string encode_ycbcr_422(const std::vector<int>& y, const std::vector<int>& cb, const std::vector<int>& cr) {
  opj_image_cmptparm_t comp[3] = {};
  for (int k = 0; k < 3; ++k) {
    comp[k].dx = k == 0 ? 1 : 2;
    comp[k].dy = 1;
    comp[k].w = k == 0 ? 32 : 16;
    comp[k].h = 16;
    comp[k].prec = 8;
    comp[k].sgnd = 0;
  }
  opj_image_t* image = opj_image_create(3, comp, OPJ_CLRSPC_SYCC);
  image->x1 = 32;
  image->y1 = 16;
  for (size_t i = 0; i < y.size(); ++i) image->comps[0].data[i] = y[i];
  for (size_t i = 0; i < cb.size(); ++i) {
    image->comps[1].data[i] = cb[i];
    image->comps[2].data[i] = cr[i];
  }
  opj_cparameters_t params;
  opj_set_default_encoder_parameters(&params);
  params.tcp_numlayers = 1;
  params.tcp_rates[0] = 0;  // lossless
  params.cp_disto_alloc = 1;
  params.numresolution = 3;
  params.tcp_mct = 0;
  opj_codec_t* codec = opj_create_compress(OPJ_CODEC_J2K);
  std::string path = hipt::testing::temp_path("ycbcr33003.j2k");
  opj_stream_t* stream = opj_stream_create_default_file_stream(path.c_str(), OPJ_FALSE);
  bool ok = opj_setup_encoder(codec, &params, image) && opj_start_compress(codec, image, stream) &&
            opj_encode(codec, stream) && opj_end_compress(codec, stream);
  opj_stream_destroy(stream);
  opj_destroy_codec(codec);
  opj_image_destroy(image);
  return ok ? hipt::testing::read_bytes(path) : std::string();
}

}  // namespace

TEST(SlideJ2k, Aperio33003YCbCrMatchesBt601) {
  std::vector<int> y(32 * 16), cb(16 * 16), cr(16 * 16);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 32; ++c) y[r * 32 + c] = (r * 37 + c * 11) % 256;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) {
      cb[r * 16 + c] = (r * 16 + c * 7) % 256;
      cr[r * 16 + c] = 255 - (r * 13 + c * 16) % 256;
    }
  std::string codestream = encode_ycbcr_422(y, cb, cr);
  ASSERT_FALSE(codestream.empty()) << "OpenJPEG could not encode the test tile";

  auto check = [&](const uint8_t* rgba, const char* what) {
    int worst = 0;
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 32; ++c) {
        double Y = y[r * 32 + c], Cb = cb[r * 16 + c / 2] - 128.0, Cr = cr[r * 16 + c / 2] - 128.0;
        double want[3] = {Y + 1.402 * Cr, Y - 0.34414 * Cb - 0.71414 * Cr, Y + 1.772 * Cb};
        const uint8_t* px = rgba + (r * 32 + c) * 4;
        for (int k = 0; k < 3; ++k) {
          int w = static_cast<int>(std::lround(std::min(255.0, std::max(0.0, want[k]))));
          worst = std::max(worst, std::abs(int(px[k]) - w));
        }
        EXPECT_EQ(px[3], 255);
      }
    EXPECT_LE(worst, 1) << what;
  };
  std::vector<uint8_t> rgba(32 * 16 * 4);
  hipt::io::decode_j2k("tile", codestream, 33003, 32, 16, rgba.data());
  check(rgba.data(), "decode_j2k");

  // The same tile inside an Aperio file, through Slide's dispatch (raw read, 33003 path).
  hipt::testing::TinyDir d;
  d.width = 32;
  d.height = 16;
  d.tile = 32;
  d.tile_height = 16;
  d.compression = 33003;
  d.photometric = 6;
  d.description = "Aperio Image Library test";
  d.tiles = {codestream};
  std::string path = hipt::testing::temp_path("ycbcr33003.svs");
  hipt::testing::write_bytes(path, hipt::testing::tiny_tiff({d}));
  auto s = hipt::io::Slide::open(path);
  hipt::Tensor region = s->read_region(0, 0, 0, 32, 16);
  check(region.data<uint8_t>(), "Slide::read_region");

  hipt::testing::expect_error([&] { hipt::io::decode_j2k("tile.j2k", codestream, 33003, 64, 16, rgba.data()); },
                              {"tile.j2k", "dimensional mismatch"});
}
