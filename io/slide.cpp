// Slide: format detection, levels and associated images (OpenSlide's aperio and generic-tiff
// drivers), and read_region by integer tile placement with tiles decoded in parallel and cached.
#include "io/slide.h"

#include <dirent.h>
#include <sys/stat.h>
#include <tiffio.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "io/slide_properties.h"
#include "io/tile_cache.h"
#include "io/tile_decode.h"
#include "io/tiff_file.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace hipt::io {

class SlideImpl {
 public:
  SlideImpl(const std::string& path, const SlideOptions& opts) : file(path), opts(opts), cache(opts.cache_bytes) {}
  TiffFile file;
  SlideOptions opts;
  std::string vendor;
  std::vector<SlideLevel> levels;
  std::vector<int> level_dirs;
  std::map<std::string, int> associated;  // name -> directory
  std::map<std::string, std::string> properties;
  mutable TileCache cache;

  TileBytes tile(int level, int64_t index) const;
  void read_level_pixels(int level, int64_t lx, int64_t ly, int64_t w, int64_t h, uint8_t* rgba) const;
  void synthesize_missing_tile(int level, int64_t index, uint8_t* rgba) const;
};

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string lower_extension(const std::string& path) {
  size_t slash = path.find_last_of('/'), dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// Formats OpenSlide reads that this reader does not: refused by name, before anything is parsed,
// so that a slide is never misread as a generic TIFF with other geometry.
void refuse_unsupported_formats(const std::string& path) {
  struct stat st;
  HIPT_CHECK(::stat(path.c_str(), &st) == 0, "{}: cannot open: {}", path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    bool has_dicom = false;
    if (DIR* dir = opendir(path.c_str())) {
      while (dirent* e = readdir(dir))
        if (lower_extension(e->d_name) == "dcm") has_dicom = true;
      closedir(dir);
    }
    HIPT_CHECK(!has_dicom, "{}: DICOM whole-slide folders are not supported (only Aperio SVS and tiled TIFF)", path);
    throw Error(path + ": is a directory, not a slide file");
  }
  static const std::pair<const char*, const char*> kUnsupported[] = {
      {"mrxs", "MIRAX (.mrxs)"},     {"ndpi", "Hamamatsu NDPI"},   {"vms", "Hamamatsu VMS"},
      {"vmu", "Hamamatsu VMU"},      {"dcm", "DICOM"},             {"scn", "Leica SCN"},
      {"bif", "Ventana BIF"},        {"czi", "Zeiss CZI"},         {"isyntax", "Philips iSyntax"},
      {"svslide", "Sakura SVSlide"}};
  std::string ext = lower_extension(path);
  for (const auto& [e, name] : kUnsupported)
    HIPT_CHECK(ext != e, "{}: {} slides are not supported (only Aperio SVS and tiled TIFF)", path, name);
}

// TIFF-based vendors OpenSlide has drivers for: refused rather than read as generic-tiff.
void refuse_other_tiff_vendors(const TiffFile& f) {
  const std::string* software = f.dir0_string(TIFFTAG_SOFTWARE);
  const std::string* make = f.dir0_string(TIFFTAG_MAKE);
  const std::string* desc = f.dir0_string(TIFFTAG_IMAGEDESCRIPTION);
  const char* vendor = nullptr;
  if (software && starts_with(*software, "MedScan")) vendor = "Trestle";
  if (software && starts_with(*software, "Philips")) vendor = "Philips TIFF";
  if (make && starts_with(*make, "Huron")) vendor = "Huron";
  if (desc && desc->find("leica-microsystems.com/scn") != std::string::npos) vendor = "Leica SCN";
  if (f.dir0_xmp().find("iScan") != std::string::npos) vendor = "Ventana";
  HIPT_CHECK(!vendor, "{}: {} slides are not supported (only Aperio SVS and tiled TIFF)", f.path(), vendor);
}

void check_level_dir(const TiffFile& f, const TiffDir& d) {
  HIPT_CHECK(!d.has_image_depth || d.image_depth == 1, "{}: directory {}: cannot handle ImageDepth={}", f.path(),
             d.index, d.image_depth);
  if (d.compression == 33003 || d.compression == 33005) return;
  const TIFFCodec* codec = TIFFFindCODEC(d.compression);
  HIPT_CHECK(TIFFIsCODECConfigured(d.compression), "{}: directory {}: unsupported TIFF compression: {}{}", f.path(),
             d.index, d.compression, codec ? std::string(" (") + codec->name + ")" : std::string());
  HIPT_CHECK(d.byte_counts.size() >= static_cast<size_t>(d.tiles_across * d.tiles_down),
             "{}: directory {}: {} tiles listed for a {}x{} grid", f.path(), d.index, d.byte_counts.size(),
             d.tiles_across, d.tiles_down);
}

// "Aperio ...\nlabel 387x463" -> "label": the name OpenSlide <= 4.0.0 took from line 2.
std::string aperio_line2_name(const std::string& description) {
  size_t nl = description.find_first_of("\r\n");
  if (nl == std::string::npos) return {};
  std::string line = description.substr(nl + 1);
  line = line.substr(0, line.find_first_of(" \r\n"));
  return line;
}

}  // namespace

TileBytes SlideImpl::tile(int level, int64_t index) const {
  if (TileBytes hit = cache.get(level, index)) return hit;
  const TiffDir& d = file.dirs()[static_cast<size_t>(level_dirs[static_cast<size_t>(level)])];
  auto bytes = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(d.tile_width * d.tile_height * 4));
  if (vendor == "aperio" && level > 0 && d.byte_counts[static_cast<size_t>(index)] == 0)
    synthesize_missing_tile(level, index, bytes->data());
  else
    decode_tile(file, d, index, bytes->data());
  TileBytes t = std::move(bytes);
  if (opts.cache_bytes > 0) cache.put(level, index, t);
  return t;
}

// Aperio leaves tiles with no bytes where the scanner saw nothing; OpenSlide paints them from
// the level above, scaled down. We average the covering box of the level above (alpha-weighted),
// which is close to, not bit-identical with, OpenSlide's cairo scaling.
void SlideImpl::synthesize_missing_tile(int level, int64_t index, uint8_t* rgba) const {
  const SlideLevel& lv = levels[static_cast<size_t>(level)];
  const SlideLevel& up = levels[static_cast<size_t>(level - 1)];
  const double r = lv.downsample / up.downsample;
  const int64_t tiles_across = (lv.width + lv.tile_width - 1) / lv.tile_width;
  const int64_t ox = (index % tiles_across) * lv.tile_width, oy = (index / tiles_across) * lv.tile_height;
  // A hostile or corrupt pyramid (a tiny level under a huge one) would make the source box
  // absurdly large: checked in double before any int64 conversion or allocation.
  const double source_pixels = (static_cast<double>(lv.tile_width) * r + 2) * (static_cast<double>(lv.tile_height) * r + 2);
  HIPT_CHECK(source_pixels <= static_cast<double>(opts.max_region_pixels),
             "{}: level {}: painting missing tile {} from level {} needs about {:.0f} pixels, over the {} pixel limit",
             file.path(), level, index, level - 1, source_pixels, opts.max_region_pixels);
  const int64_t sx = static_cast<int64_t>(ox * r), sy = static_cast<int64_t>(oy * r);
  const int64_t sw = static_cast<int64_t>(std::ceil((ox + lv.tile_width) * r)) - sx + 1;
  const int64_t sh = static_cast<int64_t>(std::ceil((oy + lv.tile_height) * r)) - sy + 1;
  std::vector<uint8_t> src(static_cast<size_t>(sw * sh * 4));
  read_level_pixels(level - 1, sx, sy, sw, sh, src.data());
  for (int64_t y = 0; y < lv.tile_height; ++y)
    for (int64_t x = 0; x < lv.tile_width; ++x) {
      int64_t bx0 = static_cast<int64_t>((ox + x) * r) - sx, bx1 = std::max(bx0 + 1, static_cast<int64_t>((ox + x + 1) * r) - sx);
      int64_t by0 = static_cast<int64_t>((oy + y) * r) - sy, by1 = std::max(by0 + 1, static_cast<int64_t>((oy + y + 1) * r) - sy);
      double sum[3] = {0, 0, 0}, alpha = 0;
      int64_t count = 0;
      for (int64_t by = by0; by < std::min(by1, sh); ++by)
        for (int64_t bx = bx0; bx < std::min(bx1, sw); ++bx, ++count) {
          const uint8_t* p = src.data() + (by * sw + bx) * 4;
          for (int c = 0; c < 3; ++c) sum[c] += static_cast<double>(p[c]) * p[3];
          alpha += p[3];
        }
      uint8_t* o = rgba + (y * lv.tile_width + x) * 4;
      for (int c = 0; c < 3; ++c) o[c] = alpha > 0 ? static_cast<uint8_t>(std::lround(sum[c] / alpha)) : 0;
      o[3] = count > 0 ? static_cast<uint8_t>(std::lround(alpha / static_cast<double>(count))) : 0;
      if (o[3] == 0) o[0] = o[1] = o[2] = 0;
    }
  // Past the level's edge stays transparent, as for decoded tiles.
  for (int64_t y = 0; y < lv.tile_height; ++y)
    for (int64_t x = 0; x < lv.tile_width; ++x)
      if (ox + x >= lv.width || oy + y >= lv.height) std::memset(rgba + (y * lv.tile_width + x) * 4, 0, 4);
}

// rgba [h, w, 4] <- level pixels [lx, lx + w) x [ly, ly + h), zero outside the level; tiles are
// placed by integer copy, several at once on the engine's threads.
void SlideImpl::read_level_pixels(int level, int64_t lx, int64_t ly, int64_t w, int64_t h, uint8_t* rgba) const {
  if (w == 0 || h == 0) return;  // rgba may be null then
  std::memset(rgba, 0, static_cast<size_t>(w * h * 4));
  const SlideLevel& lv = levels[static_cast<size_t>(level)];
  // The region's part inside the level.
  const int64_t x0 = std::max<int64_t>(lx, 0), y0 = std::max<int64_t>(ly, 0);
  const int64_t x1 = std::min(lx + w, lv.width), y1 = std::min(ly + h, lv.height);
  if (x0 >= x1 || y0 >= y1) return;
  const int64_t tw = lv.tile_width, th = lv.tile_height;
  const int64_t col0 = x0 / tw, col1 = (x1 - 1) / tw, row0 = y0 / th, row1 = (y1 - 1) / th;
  const int64_t cols = col1 - col0 + 1, n = cols * (row1 - row0 + 1);
  const int64_t tiles_across = (lv.width + tw - 1) / tw;
  auto place = [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      int64_t col = col0 + t % cols, row = row0 + t / cols;
      TileBytes tile_bytes = tile(level, row * tiles_across + col);
      int64_t tx0 = std::max(x0, col * tw), tx1 = std::min(x1, (col + 1) * tw);
      int64_t ty0 = std::max(y0, row * th), ty1 = std::min(y1, (row + 1) * th);
      for (int64_t ty = ty0; ty < ty1; ++ty)
        std::memcpy(rgba + ((ty - ly) * w + (tx0 - lx)) * 4,
                    tile_bytes->data() + ((ty - row * th) * tw + (tx0 - col * tw)) * 4,
                    static_cast<size_t>((tx1 - tx0) * 4));
    }
  };
  if (opts.threads == 1 || n == 1)
    place(0, n);
  else
    parallel_for(0, n, 1, place);
}

Slide::Slide(std::unique_ptr<SlideImpl> impl) : impl_(std::move(impl)) {}
Slide::~Slide() = default;

std::unique_ptr<Slide> Slide::open(const std::string& path, const SlideOptions& opts) {
  HIPT_CHECK(opts.max_region_pixels > 0 && opts.threads >= 0, "{}: bad SlideOptions (max_region_pixels {}, threads {})",
             path, opts.max_region_pixels, opts.threads);
  refuse_unsupported_formats(path);
  auto impl = std::make_unique<SlideImpl>(path, opts);
  const TiffFile& f = impl->file;
  const std::vector<TiffDir>& dirs = f.dirs();
  refuse_other_tiff_vendors(f);
  HIPT_CHECK(dirs[0].tiled, "{}: not a tiled slide: directory 0 is stored in strips (a plain TIFF image, not a pyramid)",
             path);
  std::vector<AssociatedInfo> associated;
  if (starts_with(dirs[0].description, "Aperio")) {
    impl->vendor = "aperio";
    for (const TiffDir& d : dirs) {
      if (d.tiled) {
        impl->level_dirs.push_back(d.index);
        continue;
      }
      std::string name;
      if (d.index == 1) name = "thumbnail";
      else if (d.subfile_type == 1) name = "label";
      else if (d.subfile_type == 9) name = "macro";
      else name = aperio_line2_name(d.description);
      if (name == "thumbnail" || name == "label" || name == "macro") impl->associated.emplace(name, d.index);
    }
  } else {
    impl->vendor = "generic-tiff";
    for (const TiffDir& d : dirs)
      if (d.tiled && (d.index == 0 || (d.subfile_type & FILETYPE_REDUCEDIMAGE))) impl->level_dirs.push_back(d.index);
    std::stable_sort(impl->level_dirs.begin(), impl->level_dirs.end(),
                     [&](int a, int b) { return dirs[static_cast<size_t>(a)].width > dirs[static_cast<size_t>(b)].width; });
  }
  const TiffDir& base = dirs[static_cast<size_t>(impl->level_dirs[0])];
  for (int di : impl->level_dirs) {
    const TiffDir& d = dirs[static_cast<size_t>(di)];
    check_level_dir(f, d);
    double ds = (static_cast<double>(base.height) / static_cast<double>(d.height) +
                 static_cast<double>(base.width) / static_cast<double>(d.width)) / 2.0;
    if (impl->levels.empty()) ds = 1.0;
    HIPT_CHECK(impl->levels.empty() || ds >= impl->levels.back().downsample,
               "{}: directory {}: levels are not in decreasing size order (downsample {} after {})", path, di, ds,
               impl->levels.back().downsample);
    impl->levels.push_back({d.width, d.height, ds, d.tile_width, d.tile_height});
  }
  for (const auto& [name, di] : impl->associated) {
    const TiffDir& d = dirs[static_cast<size_t>(di)];
    associated.push_back({name, d.width, d.height, d.icc_profile.size()});
  }
  impl->properties = slide_properties(f, impl->vendor, impl->levels, impl->level_dirs.back(), associated);
  if (!base.icc_profile.empty()) impl->properties["openslide.icc-size"] = std::to_string(base.icc_profile.size());
  return std::unique_ptr<Slide>(new Slide(std::move(impl)));
}

const std::string& Slide::path() const { return impl_->file.path(); }
const std::string& Slide::vendor() const { return impl_->vendor; }
int Slide::level_count() const { return static_cast<int>(impl_->levels.size()); }

const SlideLevel& Slide::level(int i) const {
  HIPT_CHECK(i >= 0 && i < level_count(), "{}: level {} is out of range (the slide has {} levels)", path(), i,
             level_count());
  return impl_->levels[static_cast<size_t>(i)];
}

int Slide::best_level_for_downsample(double downsample) const {
  const auto& lv = impl_->levels;
  if (downsample < lv[0].downsample) return 0;
  for (size_t i = 1; i < lv.size(); ++i)
    if (downsample < lv[i].downsample) return static_cast<int>(i) - 1;
  return level_count() - 1;
}

const std::map<std::string, std::string>& Slide::properties() const { return impl_->properties; }

const std::string& Slide::icc_profile() const {
  return impl_->file.dirs()[static_cast<size_t>(impl_->level_dirs[0])].icc_profile;
}

std::vector<std::string> Slide::associated_image_names() const {
  std::vector<std::string> names;
  for (const auto& [name, dir] : impl_->associated) names.push_back(name);
  return names;
}

Tensor Slide::read_associated_image(const std::string& name) const {
  auto it = impl_->associated.find(name);
  HIPT_CHECK(it != impl_->associated.end(), "{}: no associated image named '{}'", path(), name);
  const TiffDir& d = impl_->file.dirs()[static_cast<size_t>(it->second)];
  HIPT_CHECK(d.width <= impl_->opts.max_region_pixels / d.height,  // no overflow: both are up to 2^32
             "{}: associated image '{}' is {}x{}, over the {} pixel limit",
             path(), name, d.width, d.height, impl_->opts.max_region_pixels);
  Tensor out = ops::empty({d.height, d.width, 4}, DType::U8);
  auto* raster = out.data<uint8_t>();
  impl_->file.with_handle(d.index, "cannot decode associated image '" + name + "'", [&](TIFF* tif) {
    // ABGR words in native order are R, G, B, A bytes on a little-endian machine.
    return TIFFReadRGBAImageOriented(tif, static_cast<uint32_t>(d.width), static_cast<uint32_t>(d.height),
                                     reinterpret_cast<uint32_t*>(raster), ORIENTATION_TOPLEFT, 0) != 0;
  });
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the RGBA byte order assumes little endian");
  return out;
}

namespace {

// The level coordinate of level-0 position p: truncated toward zero, as OpenSlide places negative
// positions (whole level pixels) and as tiffslide/cuCIM place fractional ones.
int64_t level_origin(int64_t p, double ds) {
  double q = static_cast<double>(p) / ds;
  return p >= 0 ? static_cast<int64_t>(q) : -static_cast<int64_t>(-q);
}

}  // namespace

Tensor Slide::read_region(int64_t x, int64_t y, int level, int64_t w, int64_t h) const {
  check_region(level, w, h);
  Tensor out = ops::empty({h, w, 4}, DType::U8);
  read_region_into(out.data<uint8_t>(), x, y, level, w, h);
  return out;
}

void Slide::check_region(int level, int64_t w, int64_t h) const {
  HIPT_CHECK(level >= 0 && level < level_count(), "{}: read_region: level {} is out of range (the slide has {} levels)",
             path(), level, level_count());
  HIPT_CHECK(w >= 0 && h >= 0, "{}: read_region: negative size {}x{}", path(), w, h);
  const int64_t max_px = impl_->opts.max_region_pixels;
  HIPT_CHECK(h == 0 || w <= max_px / h, "{}: read_region: {}x{} is over the {} pixel limit (SlideOptions::max_region_pixels)",
             path(), w, h, max_px);
}

void Slide::read_region_into(uint8_t* rgba, int64_t x, int64_t y, int level, int64_t w, int64_t h) const {
  check_region(level, w, h);
  // Far outside every level (which are < 2^32 pixels) the region is transparent, as in OpenSlide;
  // returning here keeps the double -> int64 conversion and x + w below from overflowing.
  constexpr int64_t kFar = int64_t{1} << 48;
  if (x > kFar || x < -kFar || y > kFar || y < -kFar) {
    if (w > 0 && h > 0) std::memset(rgba, 0, static_cast<size_t>(w * h * 4));
    return;
  }
  const double ds = impl_->levels[static_cast<size_t>(level)].downsample;
  impl_->read_level_pixels(level, level_origin(x, ds), level_origin(y, ds), w, h, rgba);
}

Tensor rgba_to_rgb(const Tensor& rgba, bool white_background) {
  HIPT_CHECK(rgba.dtype() == DType::U8 && rgba.shape().size() == 3 && rgba.shape()[2] == 4,
             "rgba_to_rgb: expected u8 [H, W, 4], got {} {}", dtype_name(rgba.dtype()), rgba.shape().str());
  Tensor src = ops::contiguous(rgba);
  const int64_t h = src.shape()[0], w = src.shape()[1];
  Tensor out = ops::empty({h, w, 3}, DType::U8);
  const uint8_t* s = src.data<uint8_t>();
  uint8_t* o = out.data<uint8_t>();
  // Black background is PIL's convert('RGB') on the reference's non-premultiplied RGBA: alpha is
  // dropped and the colour bytes kept (a partially transparent pixel, e.g. at the edge of a painted
  // missing tile or from an RGBA TIFF, keeps its colour; a transparent one is (0,0,0) already).
  for (int64_t i = 0; i < h * w; ++i, s += 4, o += 3) {
    int a = s[3];
    for (int c = 0; c < 3; ++c)
      o[c] = white_background ? static_cast<uint8_t>((s[c] * a + 255 * (255 - a) + 127) / 255) : s[c];
  }
  return out;
}

}  // namespace hipt::io
