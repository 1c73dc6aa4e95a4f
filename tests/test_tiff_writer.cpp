// The pyramidal TIFF writer (io/tiff_writer.h): what libtiff, our Slide reader and OpenSlide (when
// linked) read back: levels, sizes, tags, vendor, properties and pixels (deflate exactly, JPEG
// within a stated error of the source).
#include <tiffio.h>

#include <cmath>

#include "io/slide.h"
#include "io/tiff_writer.h"
#include "slide_testing.h"
#ifdef HIPT_HAVE_OPENSLIDE
#include <openslide.h>
#endif

namespace {
using namespace hipt;
namespace ht = hipt::testing;

// A smooth colour image with some edges: u8 [h, w, 3] from a formula.
Tensor test_image(int64_t h, int64_t w) {
  std::vector<uint8_t> v(static_cast<size_t>(h * w * 3));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      uint8_t* p = &v[static_cast<size_t>((y * w + x) * 3)];
      p[0] = static_cast<uint8_t>(128 + 100 * std::sin(x / 37.0) * std::cos(y / 53.0));
      p[1] = static_cast<uint8_t>(((x / 96 + y / 96) % 2) ? 200 : 60);
      p[2] = static_cast<uint8_t>(128 + 80 * std::cos((x + 2 * y) / 41.0));
    }
  return ops::from_vector(v, {h, w, 3});
}

// Plain reference of the pyramid's filter, in double: mean of each 2x2 block, rounded half up.
Tensor box_reference(const Tensor& img) {
  const int64_t h = img.size(0) / 2, w = img.size(1) / 2, sw = img.size(1);
  std::vector<uint8_t> src = ops::to_vector<uint8_t>(img), out(static_cast<size_t>(h * w * 3));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) s += src[static_cast<size_t>(((2 * y + dy) * sw + 2 * x + dx) * 3 + c)];
        out[static_cast<size_t>((y * w + x) * 3 + c)] = static_cast<uint8_t>(std::floor(s / 4 + 0.5));
      }
  return ops::from_vector(out, {h, w, 3});
}

// max and mean |a - b| over u8 tensors of one shape.
std::pair<int, double> abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<uint8_t> x = ops::to_vector<uint8_t>(a), y = ops::to_vector<uint8_t>(b);
  int worst = 0;
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    int d = std::abs(int(x[i]) - int(y[i]));
    worst = std::max(worst, d);
    sum += d;
  }
  return {worst, sum / static_cast<double>(x.size())};
}

struct DirInfo {
  uint32_t width, height, tile, subfile;
  uint16_t compression, photometric;
};

std::vector<DirInfo> libtiff_dirs(const std::string& path, bool* bigtiff) {
  std::vector<DirInfo> out;
  TIFF* tif = TIFFOpen(path.c_str(), "r");
  if (!tif) return out;
  *bigtiff = TIFFIsBigTIFF(tif);
  do {
    DirInfo d{};
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &d.width);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &d.height);
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &d.tile);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SUBFILETYPE, &d.subfile);
    TIFFGetField(tif, TIFFTAG_COMPRESSION, &d.compression);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &d.photometric);
    out.push_back(d);
  } while (TIFFReadDirectory(tif));
  TIFFClose(tif);
  return out;
}

TEST(TiffWriter, DeflatePyramidRoundTripsExactly) {
  Tensor src = test_image(768, 1024);
  std::string path = ht::temp_path("hipt_writer_deflate.tif");
  io::TiffWriteOptions o;
  o.compression = io::TiffCompression::Deflate;
  o.mpp = 0.5;
  io::write_tiff_pyramid(path, src, o);
  bool big = true;
  std::vector<DirInfo> dirs = libtiff_dirs(path, &big);
  ASSERT_EQ(dirs.size(), 3u);  // 1024x768, 512x384, 256x192 (larger side <= 256: last)
  EXPECT_FALSE(big);
  for (size_t i = 0; i < dirs.size(); ++i) {
    EXPECT_EQ(dirs[i].width, 1024u >> i);
    EXPECT_EQ(dirs[i].height, 768u >> i);
    EXPECT_EQ(dirs[i].tile, 256u);
    EXPECT_EQ(dirs[i].subfile, i == 0 ? 0u : uint32_t{FILETYPE_REDUCEDIMAGE});
    EXPECT_EQ(dirs[i].compression, COMPRESSION_ADOBE_DEFLATE);
  }
  auto slide = io::Slide::open(path);
  EXPECT_EQ(slide->vendor(), "generic-tiff");
  ASSERT_EQ(slide->level_count(), 3);
  EXPECT_EQ(slide->level(2).downsample, 4);
  Tensor want = src;
  for (int l = 0; l < 3; ++l) {
    if (l > 0) want = box_reference(want);
    const io::SlideLevel& lv = slide->level(l);
    Tensor got = io::rgba_to_rgb(slide->read_region(0, 0, l, lv.width, lv.height));
    EXPECT_EQ(abs_diff(got, want).first, 0) << "level " << l;
  }
  EXPECT_EQ(ops::to_vector<uint8_t>(io::downsample_2x_box(ops::contiguous(src))),
            ops::to_vector<uint8_t>(box_reference(src)));
  std::remove(path.c_str());
}

TEST(TiffWriter, AperioJpegCarriesMagnificationAndStaysCloseToTheSource) {
  Tensor src = test_image(600, 900);  // odd tile counts: edge tiles on every level
  std::string path = ht::temp_path("hipt_writer_aperio.svs");
  io::TiffWriteOptions o;
  o.aperio = true, o.mpp = 0.25, o.objective_power = 40, o.jpeg_quality = 90;
  io::write_tiff_pyramid(path, src, o);
  auto slide = io::Slide::open(path);
  EXPECT_EQ(slide->vendor(), "aperio");
  EXPECT_EQ(slide->properties().at("openslide.mpp-x"), "0.25");
  EXPECT_EQ(slide->properties().at("openslide.objective-power"), "40");
  ASSERT_EQ(slide->level_count(), 3);  // 900x600, 450x300, 225x150
  EXPECT_EQ(slide->level(1).width, 450);
  EXPECT_EQ(slide->level(2).height, 150);
  Tensor got = io::rgba_to_rgb(slide->read_region(0, 0, 0, 900, 600));
  auto [worst, mean] = abs_diff(got, src);
  // Q90 with 4:2:0 chroma on a test card with hard 96-px checker edges.
  // Measured 2026-11-25: max 34, mean 1.37.
  EXPECT_LT(mean, 2.0);
  EXPECT_LT(worst, 48);
  std::remove(path.c_str());
}

TEST(TiffWriter, RgbJpegBigTiffAndFileTags) {
  Tensor src = test_image(300, 200);
  std::string path = ht::temp_path("hipt_writer_big.tif");
  io::TiffWriteOptions o;
  o.bigtiff = true, o.jpeg_ycbcr = false, o.tile_size = 128, o.min_level_size = 80;
  io::write_tiff_pyramid(path, src, o);
  bool big = false;
  std::vector<DirInfo> dirs = libtiff_dirs(path, &big);
  EXPECT_TRUE(big);
  ASSERT_EQ(dirs.size(), 3u);  // 200x300, 100x150, 50x75
  EXPECT_EQ(dirs[0].photometric, PHOTOMETRIC_RGB);
  EXPECT_EQ(dirs[0].compression, COMPRESSION_JPEG);
  EXPECT_EQ(dirs[2].width, 50u);
  auto slide = io::Slide::open(path);
  EXPECT_EQ(slide->vendor(), "generic-tiff");
  EXPECT_EQ(slide->properties().count("openslide.mpp-x"), 0u);
  EXPECT_LT(abs_diff(io::rgba_to_rgb(slide->read_region(0, 0, 0, 200, 300)), src).second, 3.0);
  std::remove(path.c_str());
}

TEST(TiffWriter, BadInputsAndFailedWritesLeaveNothingBehind) {
  Tensor src = test_image(64, 64);
  std::string path = ht::temp_path("hipt_writer_bad.tif");
  io::TiffWriteOptions o;
  ht::expect_error([&] { io::write_tiff_pyramid(path, ops::zeros({8, 8, 3}), o); }, {path, "u8 [H, W, 3]"});
  ht::expect_error([&] { io::write_tiff_pyramid(path, ops::zeros({8, 8, 4}, DType::U8), o); }, {path, "u8 [H, W, 3]"});
  o.tile_size = 100;
  ht::expect_error([&] { io::write_tiff_pyramid(path, src, o); }, {path, "multiple of 16"});
  o.tile_size = 256, o.jpeg_quality = 0;
  ht::expect_error([&] { io::write_tiff_pyramid(path, src, o); }, {path, "JPEG quality"});
  o.jpeg_quality = 75, o.mpp = -1;
  ht::expect_error([&] { io::write_tiff_pyramid(path, src, o); }, {path, "mpp"});
  o.mpp.reset(), o.objective_power = 0;
  ht::expect_error([&] { io::write_tiff_pyramid(path, src, o); }, {path, "objective power"});
  o.objective_power.reset(), o.min_level_size = 0;
  ht::expect_error([&] { io::write_tiff_pyramid(path, src, o); }, {path, "min_level_size"});
  o.min_level_size = 256;
  EXPECT_FALSE(ht::path_exists(path));
  ht::expect_error([&] { io::downsample_2x_box(ops::zeros({4, 4, 4}, DType::U8)); }, {"downsample_2x_box", "u8 [H, W, 3]"});
  std::string nodir = ht::temp_path("hipt_writer_no_such_dir/x.tif");
  ht::expect_error([&] { io::write_tiff_pyramid(nodir, src, o); }, {nodir, "temporary file"});
  // An existing file is replaced only by a complete one.
  ht::write_bytes(path, "old");
  io::write_tiff_pyramid(path, src, o);
  EXPECT_EQ(io::Slide::open(path)->level(0).width, 64);
  std::remove(path.c_str());
}

#ifdef HIPT_HAVE_OPENSLIDE
// OpenSlide itself (Debian's 3.4.1: its generic-tiff driver sets no mpp, and its non-JPEG edge
// tiles are unreliable, so pixels are compared on whole tiles only).
TEST(TiffWriter, OpenSlideReadsWhatWeWrite) {
  Tensor src = test_image(768, 1024);
  for (bool aperio : {false, true}) {
    SCOPED_TRACE(aperio ? "aperio jpeg" : "generic deflate");
    std::string path = ht::temp_path(aperio ? "hipt_writer_os.svs" : "hipt_writer_os.tif");
    io::TiffWriteOptions o;
    o.aperio = aperio, o.mpp = 0.499, o.objective_power = 20;
    o.compression = aperio ? io::TiffCompression::Jpeg : io::TiffCompression::Deflate;
    io::write_tiff_pyramid(path, src, o);
    openslide_t* os = openslide_open(path.c_str());
    ASSERT_NE(os, nullptr);
    ASSERT_EQ(openslide_get_error(os), nullptr);
    EXPECT_STREQ(openslide_get_property_value(os, "openslide.vendor"), aperio ? "aperio" : "generic-tiff");
    ASSERT_EQ(openslide_get_level_count(os), 3);
    for (int l = 0; l < 3; ++l) {
      int64_t w = 0, h = 0;
      openslide_get_level_dimensions(os, l, &w, &h);
      EXPECT_EQ(w, 1024 >> l);
      EXPECT_EQ(h, 768 >> l);
    }
    if (aperio) {
      EXPECT_STREQ(openslide_get_property_value(os, "openslide.mpp-x"), "0.499");
      EXPECT_STREQ(openslide_get_property_value(os, "openslide.objective-power"), "20");
    }
    std::vector<uint32_t> argb(1024 * 768);
    openslide_read_region(os, argb.data(), 0, 0, 0, 1024, 768);
    ASSERT_EQ(openslide_get_error(os), nullptr);
    openslide_close(os);
    std::vector<uint8_t> rgb(argb.size() * 3);
    for (size_t i = 0; i < argb.size(); ++i)  // opaque everywhere: premultiplied = straight
      rgb[3 * i] = (argb[i] >> 16) & 255, rgb[3 * i + 1] = (argb[i] >> 8) & 255, rgb[3 * i + 2] = argb[i] & 255;
    auto [worst, mean] = abs_diff(ops::from_vector(rgb, {768, 1024, 3}), src);
    if (aperio) {  // Q75 4:2:0; measured 2026-11-25: max 36, mean 1.69
      EXPECT_LT(mean, 2.5);
      EXPECT_LT(worst, 56);
    } else {
      EXPECT_EQ(worst, 0);
    }
    std::remove(path.c_str());
  }
}
#endif

}  // namespace
