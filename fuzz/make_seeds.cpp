// Writes the fuzzers' own seed files, one subfolder per target (tools/fuzz.sh adds the files that
// exist elsewhere in the repository: the .pth and .h5 test fixtures and presets/*.csv):
//   slide/        small TIFFs built byte by byte with the test suite's builder (each a structure the
//                 reader has a branch for), and a test-card PNG that tools/fuzz.sh turns into vips
//                 pyramids
//   safetensors/  files of every dtype, with and without metadata, an empty one, a 0-d tensor
//   png/          RGB and grey images, one of width 1 (our writer makes 8-bit PNGs only)
//   coords_csv/   `hipt tiles` output and hand-written variants
//   slide_labels/ a CLAM labels CSV, an MCAT survival CSV and a splits_K.csv
// Usage: make_seeds <dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/coords.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "tensor/ops.h"
#include "tiny_tiff.h"

using hipt::testing::TinyDir;
using hipt::testing::tiny_rgb_tile;
using hipt::testing::tiny_tiff;

namespace {

TinyDir rgb_dir(uint32_t size, uint32_t tile = 16) {
  TinyDir d;
  d.width = d.height = size;
  d.tile = tile;
  uint32_t n = tile ? (size + tile - 1) / tile : 1;
  d.tiles.assign(tile ? n * n : 1, tile ? tiny_rgb_tile(tile) : std::string(size * size * 3, '\x80'));
  return d;
}

void write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <dir>\n");
    return 2;
  }
  const std::string root = argv[1];
  for (const char* sub : {"slide", "safetensors", "png", "coords_csv", "slide_labels"}) std::filesystem::create_directories(root + "/" + sub);
  std::string dir = root + "/slide";
  // generic-tiff: two levels, the second a reduced image with a partial edge tile.
  TinyDir l0 = rgb_dir(40), l1 = rgb_dir(20);
  l1.subfile_type = 1;
  write(dir, "generic_two_levels.tiff", tiny_tiff({l0, l1}));
  // Aperio: two tiled levels, a stripped thumbnail (dir 1), label (subfile 1) and macro (subfile 9).
  TinyDir a0 = rgb_dir(32), thumb = rgb_dir(8, 0), label = rgb_dir(8, 0), macro = rgb_dir(8, 0), a1 = rgb_dir(16);
  a0.description = "Aperio Image Library v12.0.15 \r\n32x32 [0,0 32x32] (16x16) JPEG/RGB Q=70|AppMag = 20|MPP = 0.5";
  thumb.description = "Aperio Image Library v12.0.15 \r\n32x32 -> 8x8";
  label.description = "Aperio Image Library v12.0.15\r\nlabel 8x8";
  label.subfile_type = 1;
  macro.description = "Aperio Image Library v12.0.15\r\nmacro 8x8";
  macro.subfile_type = 9;
  a1.description = "Aperio Image Library v12.0.15 \r\n32x32 -> 16x16";
  write(dir, "aperio_levels_associated.svs", tiny_tiff({a0, thumb, a1, label, macro}));
  // A missing tile (byte count 0) and a JPEG tile that is not JPEG.
  TinyDir missing = rgb_dir(32);
  missing.tiles[1].clear();
  write(dir, "missing_tile.tiff", tiny_tiff({missing}));
  TinyDir bad_jpeg = rgb_dir(16);
  bad_jpeg.compression = 7;
  bad_jpeg.photometric = 6;
  bad_jpeg.tiles[0] = std::string("\xff\xd8\xff\xdb", 4) + std::string(60, '\x11');
  write(dir, "bad_jpeg_tile.tiff", tiny_tiff({bad_jpeg}));
  // Grey (MinIsBlack, one sample) and a palette-less Photometric the RGBA path handles.
  TinyDir grey = rgb_dir(16);
  grey.samples = 1;
  grey.photometric = 1;
  grey.tiles[0] = std::string(256, '\x40');
  write(dir, "grey.tiff", tiny_tiff({grey}));
  // The test card the script converts to vips pyramids (JPEG, deflate, LZW, JPEG 2000 ...).
  hipt::Tensor card = hipt::ops::empty({150, 200, 3}, hipt::DType::U8);
  uint8_t* p = card.data<uint8_t>();
  for (int64_t y = 0; y < 150; ++y)
    for (int64_t x = 0; x < 200; ++x, p += 3) {
      p[0] = static_cast<uint8_t>(x * 3 + y);
      p[1] = static_cast<uint8_t>(x ^ y);
      p[2] = static_cast<uint8_t>((x * y) / 7);
    }
  hipt::io::write_png(dir + "/card.png", card);

  namespace ops = hipt::ops;
  using hipt::DType;
  dir = root + "/safetensors";
  hipt::io::write_safetensors(dir + "/dtypes.safetensors",
                              {{"f32", ops::cast(ops::arange(0, 6), DType::F32)},
                               {"f64", ops::reshape(ops::cast(ops::arange(0, 6), DType::F64), {2, 3})},
                               {"i64", ops::cast(ops::arange(0, 3), DType::I64)},
                               {"u8", ops::cast(ops::arange(0, 4), DType::U8)},
                               {"bf16", ops::cast(ops::arange(0, 2), DType::BF16)}},
                              {{"format", "pt"}, {"note", "seed"}});
  hipt::io::write_safetensors(dir + "/empty.safetensors", {});
  hipt::io::write_safetensors(dir + "/scalar_and_zero.safetensors",
                              {{"scalar", ops::reshape(ops::cast(ops::arange(0, 1), DType::F32), {})},
                               {"zero", ops::empty({0, 4}, DType::F32)}});

  dir = root + "/png";
  hipt::io::write_png(dir + "/rgb.png", ops::slice(card, 0, 0, 9));
  hipt::io::write_png(dir + "/grey.png", ops::contiguous(ops::slice(ops::slice(card, 2, 0, 1), 0, 0, 7)));
  hipt::io::write_png(dir + "/width1.png", ops::contiguous(ops::slice(ops::slice(card, 1, 0, 1), 0, 0, 5)));

  dir = root + "/coords_csv";
  hipt::io::write_region_coords_csv(dir + "/tiles.csv", {{0, 0}, {4096, 0}, {0, 8192}});
  write(dir, "empty_list.csv", "x,y\n");
  write(dir, "crlf_negative.csv", "x,y\r\n-256,512\r\n1024,2048\r\n");

  dir = root + "/slide_labels";
  write(dir, "clam_labels.csv", "case_id,slide_id,label\ncase_a,slide_1,LUAD\ncase_a,slide_2,LUAD\ncase_b,slide_3,LUSC\n");
  write(dir, "mcat_survival.csv",
        "case_id,slide_id,survival_months,censorship\ncase_a,slide_1,12.5,0\ncase_b,slide_3,40,1\ncase_c,slide_4,7,0\n");
  write(dir, "splits_0.csv", ",train,val,test\n0,case_a,case_b,case_c\n1,case_d,,\n");
  return 0;
}
