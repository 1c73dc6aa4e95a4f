// Regression tests for what the slide-reader fuzzing work found: seeds mutated by hand and replayed
// through fuzz/fuzz_slide.cpp, and code read alongside (docs/reliability.md says which). Each
// input is rebuilt from scratch with tests/tiny_tiff.h plus patched tag values, so no fuzzer output
// (nor any mutation of a third-party sample) is committed. Each must give one hipt::Error naming
// the file, never a crash or a huge allocation.
#include <dirent.h>

#include "slide_testing.h"
#include "tiny_tiff.h"

using hipt::io::Slide;
using hipt::testing::expect_error;
using hipt::testing::temp_path;
using hipt::testing::TinyDir;
using hipt::testing::tiny_rgb_tile;
using hipt::testing::tiny_tiff;
using hipt::testing::write_bytes;

namespace {

// Sets the inline value of `tag` in IFD number `only_ifd` (-1: every IFD) of a little-endian
// classic TIFF; the tag must be SHORT or LONG with count 1.
std::string patch_tag(std::string tiff, uint16_t tag, uint32_t value, int only_ifd = -1) {
  auto u16 = [&](size_t at) { return static_cast<uint16_t>(uint8_t(tiff[at]) | uint8_t(tiff[at + 1]) << 8); };
  auto u32 = [&](size_t at) { return uint32_t(u16(at)) | uint32_t(u16(at + 2)) << 16; };
  bool found = false;
  for (uint32_t ifd = u32(4), k = 0; ifd != 0; ++k) {
    const uint16_t n = u16(ifd);
    for (uint16_t i = 0; i < n && (only_ifd < 0 || k == static_cast<uint32_t>(only_ifd)); ++i) {
      const size_t e = ifd + 2 + size_t{12} * i;
      if (u16(e) != tag) continue;
      const int bytes = u16(e + 2) == 3 ? 2 : 4;
      for (int b = 0; b < bytes; ++b) tiff[e + 8 + b] = static_cast<char>(value >> (8 * b));
      found = true;
    }
    ifd = u32(ifd + 2 + size_t{12} * n);
  }
  EXPECT_TRUE(found) << "tag " << tag;
  return tiff;
}

TinyDir one_tile_dir() {
  TinyDir d;
  d.tiles = {tiny_rgb_tile()};
  return d;
}

}  // namespace

// A hand-mutated seed replayed through fuzz_slide: a tile byte count of ~4 GB in a 300-byte file
// was allocated before the raw read (the JPEG and JPEG 2000 paths) found the file too short
// (libFuzzer: out-of-memory, malloc(4000000001)).
TEST(SlideFuzzRegression, HugeTileByteCountIsAnErrorNotAnAllocation) {
  TinyDir d = one_tile_dir();
  d.compression = 7;
  d.photometric = 6;
  std::string path = temp_path("fuzz_huge_count.tif");
  write_bytes(path, patch_tag(tiny_tiff({d}), 325, 4000000000u));
  auto s = Slide::open(path);
  expect_error([&] { s->read_region(0, 0, 0, 16, 16); }, {path, "cannot read 4000000000 bytes", "truncated"});
}

// A hand-mutated seed replayed through fuzz_slide: a 1Mi x 1Mi tile size made the first
// read_region allocate 4 TiB for the decoded tile (ASan: requested allocation size exceeds maximum
// supported size).
TEST(SlideFuzzRegression, HugeTileSizeIsRefusedAtOpen) {
  std::string path = temp_path("fuzz_huge_tile.tif");
  write_bytes(path, patch_tag(patch_tag(tiny_tiff({one_tile_dir()}), 322, 1u << 20), 323, 1u << 20));
  expect_error([&] { Slide::open(path); }, {path, "tile size 1048576x1048576 is invalid"});
}

// An associated image of 4e9 x 4e9 pixels: refused (by libtiff or by the pixel limit, whose
// check must not overflow int64), never allocated.
TEST(SlideFuzzRegression, HugeAssociatedImageSizeIsAnError) {
  TinyDir level = one_tile_dir(), thumb;
  level.description = "Aperio Image Library fuzz";
  thumb.tile = 0;
  thumb.tiles = {std::string(16 * 16 * 3, '\x80')};
  std::string bytes = tiny_tiff({level, thumb});
  for (uint16_t tag : {uint16_t{256}, uint16_t{257}, uint16_t{278}}) bytes = patch_tag(bytes, tag, 4000000000u, 1);
  std::string path = temp_path("fuzz_huge_thumb.svs");
  write_bytes(path, bytes);
  expect_error(
      [&] {
        auto s = Slide::open(path);
        for (const std::string& name : s->associated_image_names()) s->read_associated_image(name);
      },
      {path});
}

// Found by reading the missing-tile painter: an Aperio level 512x smaller than level 0 with a tile
// that has no bytes; painting it from the level above would read a (16 * 512)² region there (and
// far more for a wider level 0). Refused by the pixel limit instead.
TEST(SlideFuzzRegression, MissingTileUnderAFarLargerLevelIsAnError) {
  TinyDir top, low = one_tile_dir();
  top.width = top.height = 8192;
  top.tile = 2048;
  top.tiles.assign(16, "");  // all missing: never decoded here
  top.description = "Aperio Image Library fuzz";
  low.tiles = {""};
  std::string path = temp_path("fuzz_far_levels.svs");
  write_bytes(path, tiny_tiff({top, low}));
  hipt::io::SlideOptions opts;
  opts.max_region_pixels = int64_t{1} << 24;
  auto s = Slide::open(path, opts);
  ASSERT_EQ(s->level_count(), 2);
  expect_error([&] { s->read_region(0, 0, 1, 16, 16); }, {path, "level 1: painting missing tile 0", "pixel limit"});
}

// Found by fuzz_slide (libFuzzer, run 5): after ~25k inputs the harness could not create its input
// file (EMFILE): every file refused inside TiffFile's constructor leaked its descriptor.
TEST(SlideFuzzRegression, RefusedFilesDoNotLeakDescriptors) {
  auto open_fds = [] {
    int n = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d)) ++n;
      closedir(d);
    }
    return n;
  };
  // Refused at each stage of the constructor: the size check, libtiff's open, a directory's tags.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"fuzz_fd_empty.tif", ""},
      {"fuzz_fd_not_tiff.tif", "not a TIFF file at all"},
      {"fuzz_fd_huge_tile.tif", patch_tag(patch_tag(tiny_tiff({one_tile_dir()}), 322, 1u << 20), 323, 1u << 20)}};
  for (const auto& [name, bytes] : bad) write_bytes(temp_path(name), bytes);
  const int before = open_fds();
  for (int i = 0; i < 20; ++i)
    for (const auto& [name, bytes] : bad) EXPECT_THROW(Slide::open(temp_path(name)), hipt::Error) << name;
  EXPECT_EQ(open_fds(), before);
}
