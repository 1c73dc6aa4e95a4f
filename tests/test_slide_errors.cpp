// Bad input to the slide reader: every case is one hipt::Error naming the file and what is wrong,
// never a crash or a hang. Small files are built byte by byte (tests/tiny_tiff.h).
#include <sys/stat.h>

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

std::string write_tiny(const std::string& name, const std::vector<TinyDir>& dirs) {
  std::string path = temp_path(name);
  write_bytes(path, tiny_tiff(dirs));
  return path;
}

TinyDir rgb_dir(uint32_t size = 16) {
  TinyDir d;
  d.width = d.height = size;
  d.tile = 16;
  uint32_t n = (size + 15) / 16;
  d.tiles.assign(n * n, tiny_rgb_tile());
  return d;
}

}  // namespace

TEST(SlideTiny, UncompressedTiledTiffReadsExactly) {
  std::string path = write_tiny("tiny_ok.tif", {rgb_dir()});
  auto s = Slide::open(path);
  EXPECT_EQ(s->vendor(), "generic-tiff");
  auto r = s->read_region(-2, 3, 0, 20, 4);  // two transparent columns, then pixels (0..15, 3..6)
  const uint8_t* p = r.data<uint8_t>();
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 20; ++x) {
      const uint8_t* px = p + (y * 20 + x) * 4;
      int64_t ix = x - 2, iy = y + 3;
      bool inside = ix >= 0 && ix < 16;
      EXPECT_EQ(px[3], inside ? 255 : 0);
      if (inside) {
        EXPECT_EQ(px[0], ix * 16);
        EXPECT_EQ(px[1], iy * 16);
        EXPECT_EQ(px[2], 200);
      } else {
        EXPECT_EQ(px[0] | px[1] | px[2], 0);
      }
    }
  auto rgb = hipt::io::rgba_to_rgb(r, true);
  EXPECT_EQ(rgb.shape(), hipt::Shape({4, 20, 3}));
  EXPECT_EQ(rgb.data<uint8_t>()[0], 255);              // transparent -> white
  EXPECT_EQ(rgb.data<uint8_t>()[2 * 3 + 2], 200);      // opaque pixel unchanged
  EXPECT_EQ(hipt::io::rgba_to_rgb(r).data<uint8_t>()[0], 0);  // transparent -> black
  EXPECT_EQ(s->read_region(100, 100, 0, 3, 2).shape(), hipt::Shape({2, 3, 4}));
  EXPECT_EQ(s->read_region(0, 0, 0, 0, 5).shape(), hipt::Shape({5, 0, 4}));
  // Positions at the ends of int64 are transparent, with no overflow on the way (UBSan build).
  for (int64_t far : {INT64_MAX, INT64_MIN, int64_t{1} << 62})
    for (int level : {0, s->level_count() - 1}) {
      hipt::Tensor t = s->read_region(far, -(far / 2), level, 3, 2);
      std::vector<uint8_t> v = hipt::ops::to_vector<uint8_t>(t);
      EXPECT_EQ(std::count(v.begin(), v.end(), 0), 24) << far;
    }
}

TEST(SlideTiny, MissingTileIsTransparent) {
  TinyDir d = rgb_dir(32);
  d.tiles[1] = "";  // byte count 0: top-right tile missing
  auto s = Slide::open(write_tiny("tiny_missing.tif", {d}));
  auto r = s->read_region(0, 0, 0, 32, 32);
  const uint8_t* p = r.data<uint8_t>();
  EXPECT_EQ(p[(0 * 32 + 20) * 4 + 3], 0);
  EXPECT_EQ(p[(0 * 32 + 5) * 4 + 3], 255);
  EXPECT_EQ(p[(20 * 32 + 20) * 4 + 3], 255);
}

TEST(SlideErrors, EmptyNonTiffMissingAndDirectory) {
  std::string empty = temp_path("empty.svs");
  write_bytes(empty, "");
  expect_error([&] { Slide::open(empty); }, {empty, "empty"});
  std::string text = temp_path("text.tif");
  write_bytes(text, "this is not a TIFF file at all\n");
  expect_error([&] { Slide::open(text); }, {text, "not a readable TIFF"});
  std::string png = temp_path("image.png");
  hipt::io::write_png(png, hipt::ops::zeros({4, 4, 3}, hipt::DType::U8));
  expect_error([&] { Slide::open(png); }, {png, "not a readable TIFF"});
  expect_error([&] { Slide::open("/nonexistent/slide.svs"); }, {"/nonexistent/slide.svs", "cannot open"});
  std::string dir = temp_path("plain_folder");
  mkdir(dir.c_str(), 0755);
  expect_error([&] { Slide::open(dir); }, {dir, "directory"});
}

TEST(SlideErrors, OtherFormatsNamedAsUnsupported) {
  std::string mrxs = temp_path("fake.mrxs");
  write_bytes(mrxs, "not really mirax");
  expect_error([&] { Slide::open(mrxs); }, {mrxs, "MIRAX", "not supported"});
  std::string ndpi = temp_path("fake.ndpi");
  write_bytes(ndpi, tiny_tiff({rgb_dir()}));
  expect_error([&] { Slide::open(ndpi); }, {ndpi, "NDPI", "not supported"});
  std::string dicom = temp_path("dicom_slide");
  mkdir(dicom.c_str(), 0755);
  write_bytes(dicom + "/level0.dcm", "DICM");
  expect_error([&] { Slide::open(dicom); }, {dicom, "DICOM", "not supported"});
  TinyDir philips = rgb_dir();
  philips.software = "Philips DP v1.0";
  std::string p = write_tiny("philips.tiff", {philips});
  expect_error([&] { Slide::open(p); }, {p, "Philips", "not supported"});
  TinyDir ventana = rgb_dir();
  ventana.xmp = "<iScan Magnification=\"40\"/>";
  std::string v = write_tiny("ventana.tif", {ventana});
  expect_error([&] { Slide::open(v); }, {v, "Ventana", "not supported"});
}

TEST(SlideErrors, StrippedImageIsNotAPyramid) {
  TinyDir d = rgb_dir();
  d.tile = 0;
  d.tiles = {tiny_rgb_tile()};
  std::string path = write_tiny("stripped.tif", {d});
  expect_error([&] { Slide::open(path); }, {path, "not a tiled slide"});
}

TEST(SlideErrors, UnsupportedCompressionIsNamed) {
  TinyDir d = rgb_dir();
  d.compression = 33004;  // JPEG 2000 as vips writes it: libtiff has no codec, OpenSlide refuses it too
  std::string path = write_tiny("jp2k33004.tif", {d});
  expect_error([&] { Slide::open(path); }, {path, "unsupported TIFF compression: 33004"});
  d.compression = 52479;
  path = write_tiny("unknown_compression.tif", {d});
  expect_error([&] { Slide::open(path); }, {path, "unsupported TIFF compression: 52479"});
}

TEST(SlideErrors, AperioImageDepthAndLevelOrder) {
  TinyDir deep = rgb_dir();
  deep.description = "Aperio Image Library test";
  deep.image_depth = 2;
  std::string path = write_tiny("deep.svs", {deep});
  expect_error([&] { Slide::open(path); }, {path, "ImageDepth=2"});
  TinyDir small = rgb_dir(16), big = rgb_dir(32);
  small.description = "Aperio Image Library test";
  path = write_tiny("growing.svs", {small, big});  // Aperio levels are taken in file order
  expect_error([&] { Slide::open(path); }, {path, "decreasing size order"});
}

TEST(SlideErrors, CorruptTilesFailOnRead) {
  TinyDir jpeg = rgb_dir();
  jpeg.compression = 7;
  jpeg.tiles = {std::string("\xFF\xD8\xFF\xDB garbage, not a JPEG stream", 32)};
  std::string path = write_tiny("corrupt_jpeg.tif", {jpeg});
  auto s = Slide::open(path);
  expect_error([&] { s->read_region(0, 0, 0, 16, 16); }, {path, "corrupt JPEG tile"});
  TinyDir j2k = rgb_dir();
  j2k.compression = 33005;
  j2k.description = "Aperio Image Library test";
  j2k.tiles = {std::string("\xFF\x4F\xFF\x51 not a codestream", 22)};
  path = write_tiny("corrupt_j2k.svs", {j2k});
  auto s2 = Slide::open(path);
  expect_error([&] { s2->read_region(0, 0, 0, 16, 16); }, {path, "corrupt JPEG 2000 tile"});
  TinyDir deflate = rgb_dir();
  deflate.compression = 8;
  deflate.tiles = {std::string(40, 'x')};
  path = write_tiny("corrupt_deflate.tif", {deflate});
  auto s3 = Slide::open(path);
  expect_error([&] { s3->read_region(0, 0, 0, 16, 16); }, {path, "cannot decode tile 0"});
}

TEST(SlideErrors, TileBeyondTheEndOfTheFile) {
  std::string bytes = tiny_tiff({rgb_dir()});
  // Point the tile past the end: rewrite the TileOffsets value (a LONG inline in its entry).
  std::string path = temp_path("tile_past_end.tif");
  size_t ifd = static_cast<uint8_t>(bytes[4]) | static_cast<uint8_t>(bytes[5]) << 8 | static_cast<uint8_t>(bytes[6]) << 16;
  uint16_t n = static_cast<uint8_t>(bytes[ifd]) | static_cast<uint8_t>(bytes[ifd + 1]) << 8;
  for (uint16_t i = 0; i < n; ++i) {
    size_t e = ifd + 2 + 12 * i;
    uint16_t tag = static_cast<uint8_t>(bytes[e]) | static_cast<uint8_t>(bytes[e + 1]) << 8;
    if (tag == 324) bytes[e + 10] = 0x10;  // offset += 1 MiB
  }
  write_bytes(path, bytes);
  // The quickhash reads the smallest level's bytes, so open already finds the tile missing.
  expect_error([&] { Slide::open(path)->read_region(0, 0, 0, 16, 16); }, {path, "truncated"});
}

TEST(SlideErrors, TruncatedRealSlide) {
  HIPT_REQUIRE_SAMPLES();
  std::string whole = hipt::testing::read_bytes(hipt::testing::sample("CMU-1-Small-Region.svs"));
  for (size_t keep : {size_t{100}, size_t{5000}, whole.size() / 2, whole.size() - 1000}) {
    std::string path = temp_path("truncated_" + std::to_string(keep) + ".svs");
    write_bytes(path, whole.substr(0, keep));
    // Whether the IFDs survive decides if open or read fails; either way one error naming the file.
    try {
      auto s = Slide::open(path);
      s->read_region(0, 0, 0, s->level(0).width, s->level(0).height);
      for (const auto& name : s->associated_image_names()) s->read_associated_image(name);
    } catch (const hipt::Error& e) {
      std::printf("  %zu bytes: %s\n", keep, e.what());
    }
    expect_error(
        [&] {
          auto s = Slide::open(path);
          s->read_region(0, 0, 0, s->level(0).width, s->level(0).height);
          for (const auto& name : s->associated_image_names()) s->read_associated_image(name);
        },
        {path});
  }
}

TEST(SlideErrors, BadRegionArguments) {
  hipt::io::SlideOptions opts;
  opts.max_region_pixels = 1000;
  std::string path = write_tiny("tiny_args.tif", {rgb_dir()});
  auto s = Slide::open(path, opts);
  expect_error([&] { s->read_region(0, 0, 1, 4, 4); }, {path, "level 1 is out of range"});
  expect_error([&] { s->read_region(0, 0, -1, 4, 4); }, {path, "level -1 is out of range"});
  expect_error([&] { s->read_region(0, 0, 0, -1, 4); }, {path, "negative size"});
  expect_error([&] { s->read_region(0, 0, 0, 4, -4); }, {path, "negative size"});
  expect_error([&] { s->read_region(0, 0, 0, 100, 11); }, {path, "over the 1000 pixel limit"});
  expect_error([&] { s->read_region(0, 0, 0, int64_t{1} << 40, int64_t{1} << 40); }, {path, "pixel limit"});
  expect_error([&] { s->level(3); }, {path, "level 3 is out of range"});
  expect_error([&] { s->read_associated_image("label"); }, {path, "no associated image named 'label'"});
  EXPECT_EQ(s->read_region(0, 0, 0, 100, 10).shape(), hipt::Shape({10, 100, 4}));
  hipt::io::SlideOptions bad;
  bad.max_region_pixels = 0;
  expect_error([&] { Slide::open(path, bad); }, {path, "bad SlideOptions"});
  bad = {};
  bad.threads = -1;
  expect_error([&] { Slide::open(path, bad); }, {path, "bad SlideOptions"});
}

TEST(SlideErrors, AssociatedImageOverThePixelLimit) {
  HIPT_REQUIRE_SAMPLES();
  hipt::io::SlideOptions opts;
  opts.max_region_pixels = 200000;
  std::string path = hipt::testing::sample("CMU-1-Small-Region.svs");
  auto s = Slide::open(path, opts);
  expect_error([&] { s->read_associated_image("macro"); }, {path, "'macro' is 1280x431, over the 200000 pixel limit"});
  EXPECT_EQ(s->read_associated_image("label").shape(), hipt::Shape({463, 387, 4}));
}

TEST(SlideTiny, AperioMissingTileIsPaintedFromTheLevelAbove) {
  TinyDir top = rgb_dir(32), low = rgb_dir(16);
  top.description = "Aperio Image Library test";
  low.tiles = {""};
  auto s = Slide::open(write_tiny("aperio_missing.svs", {top, low}));
  ASSERT_EQ(s->level_count(), 2);
  auto r = s->read_region(0, 0, 1, 16, 16);
  const uint8_t* p = r.data<uint8_t>();
  for (int64_t y = 0; y < 16; ++y)
    for (int64_t x = 0; x < 16; ++x) {
      // Level 0 pixel (X, Y) is ((X % 16) * 16, (Y % 16) * 16, 200): the 2x2 box mean, in double.
      double want_r = 0, want_g = 0;
      for (int64_t dy = 0; dy < 2; ++dy)
        for (int64_t dx = 0; dx < 2; ++dx) {
          want_r += ((2 * x + dx) % 16) * 16 / 4.0;
          want_g += ((2 * y + dy) % 16) * 16 / 4.0;
        }
      const uint8_t* px = p + (y * 16 + x) * 4;
      EXPECT_NEAR(px[0], want_r, 0.5);
      EXPECT_NEAR(px[1], want_g, 0.5);
      EXPECT_EQ(px[2], 200);
      EXPECT_EQ(px[3], 255);
    }
}

TEST(SlideErrors, AbsurdTileSizeIsRefusedAtOpen) {
  TinyDir d = rgb_dir();
  d.tile = 16 * 4096;  // 64Ki x 64Ki tile: 16 GiB decoded
  std::string path = write_tiny("huge_tile.tif", {d});
  expect_error([&] { Slide::open(path); }, {path, "tile size 65536x65536 is invalid"});
}

// Black background is PIL's convert('RGB'): alpha dropped, colour kept; white is a composite.
TEST(SlideRgbaToRgb, DropsAlphaOnBlackAndCompositesOverWhiteLikeADoubleReference) {
  std::vector<uint8_t> px;
  for (int a : {0, 1, 64, 128, 200, 254, 255})
    for (int c : {0, 17, 128, 255}) px.insert(px.end(), {uint8_t(c), uint8_t(255 - c), uint8_t(c / 2), uint8_t(a)});
  int64_t n = static_cast<int64_t>(px.size() / 4);
  hipt::Tensor rgba = hipt::ops::from_vector(px, {1, n, 4});
  for (bool white : {false, true}) {
    hipt::Tensor rgb = hipt::io::rgba_to_rgb(rgba, white);
    ASSERT_EQ(rgb.shape(), hipt::Shape({1, n, 3}));
    const uint8_t* o = rgb.data<uint8_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int c = 0; c < 3; ++c) {
        double a = px[4 * i + 3] / 255.0;
        double want = white ? px[4 * i + c] * a + 255.0 * (1 - a) : px[4 * i + c];
        EXPECT_NEAR(o[3 * i + c], want, 0.5 + 1e-9) << i << " " << c;
      }
  }
  expect_error([&] { hipt::io::rgba_to_rgb(hipt::ops::zeros({2, 2, 3}, hipt::DType::U8)); }, {"rgba_to_rgb", "[2, 2, 3]"});
}

// RGBA TIFFs: read_region promises straight (non-premultiplied) RGBA with transparent = (0,0,0,0),
// whichever decoder runs. Pixel 0 is (200,100,50) at alpha 128 (premultiplied: (100,50,25)),
// pixel 1 is transparent with colour bytes left in it. Contiguous 8-bit goes through the direct
// sample path, planar through libtiff's premultiplying RGBA reader.
TEST(SlideAlpha, RgbaTiffsComeBackStraightWithTransparentBlackFromEveryDecoder) {
  auto make = [](uint16_t planar, int extra, bool premultiplied) {
    const uint8_t colour[3] = {200, 100, 50};
    TinyDir d;
    d.samples = 4, d.planar = planar, d.extra_samples = extra;
    std::string planes[4], contig;
    for (int i = 0; i < 256; ++i)
      for (int c = 0; c < 4; ++c) {
        uint8_t alpha = i == 1 ? 0 : 128;
        uint8_t v = c == 3 ? alpha : premultiplied ? static_cast<uint8_t>(colour[c] * alpha / 255) : colour[c];
        if (i == 1 && c < 3) v = 77;  // colour bytes under a transparent pixel
        planes[c] += static_cast<char>(v);
        contig += static_cast<char>(v);
      }
    if (planar == 2) {
      // PackBits (literal runs of 128): libtiff refuses uncompressed separate-plane tiles
      // without memory mapping, which the reader turns off.
      d.compression = 32773;
      for (const std::string& plane : planes)
        d.tiles.push_back(std::string(1, '\x7f') + plane.substr(0, 128) + std::string(1, '\x7f') + plane.substr(128));
    } else {
      d.tiles = {contig};
    }
    return d;
  };
  struct Case {
    const char* name;
    TinyDir dir;
  };
  const Case cases[] = {{"contig_unassociated.tif", make(1, 2, false)},
                        {"planar_unassociated.tif", make(2, 2, false)},
                        {"contig_associated.tif", make(1, 1, true)},
                        {"planar_associated.tif", make(2, 1, true)},
                        {"contig_unspecified.tif", make(1, 0, true)}};
  for (const Case& c : cases) {
    auto s = Slide::open(write_tiny(c.name, {c.dir}));
    hipt::Tensor r = s->read_region(0, 0, 0, 2, 1);
    const uint8_t* p = r.data<uint8_t>();
    // Premultiplied 8-bit data cannot hold more than the straight value to within 255/128 = 2 levels.
    EXPECT_NEAR(p[0], 200, 2) << c.name;
    EXPECT_NEAR(p[1], 100, 2) << c.name;
    EXPECT_NEAR(p[2], 50, 2) << c.name;
    EXPECT_EQ(p[3], 128) << c.name;
    for (int k = 4; k < 8; ++k) EXPECT_EQ(p[k], 0) << c.name << " byte " << k;
  }
}

// An Aperio missing tile is painted from the level above; a 16x16 level under a 2^20-wide one
// would need a ~500k x 500k source box (a terabyte): refused with the file named, not bad_alloc.
TEST(SlideErrors, MissingTileUnderAHugeDownsampleIsRefused) {
  TinyDir top;
  top.description = "Aperio Image Library v1\n1048576x16 [0,0 1048576x16] (65536x16) JPEG/RGB Q=70";
  top.width = 1u << 20, top.height = 16, top.tile = 1u << 16, top.tile_height = 16;
  top.tiles.assign(16, "");  // missing at level 0: transparent, no bytes needed
  TinyDir small = rgb_dir();
  small.tiles = {""};
  std::string path = write_tiny("aperio_huge_ratio.svs", {top, small});
  auto s = Slide::open(path);
  ASSERT_EQ(s->level_count(), 2);
  expect_error([&] { s->read_region(0, 0, 1, 16, 16); }, {path, "painting missing tile 0", "pixel limit"});
}
