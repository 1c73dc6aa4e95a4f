// Properties exactly as OpenSlide names and prints them (see the reference note §1.3, §1.4, §1.6):
// tiff.* from directory 0, aperio.* from the ImageDescription, openslide.* derived, and
// quickhash-1 over the smallest level's raw bytes plus dir 0's string tags.
#include "io/slide_properties.h"

#include <fmt/format.h>
#include <tiffio.h>

#include <cmath>
#include <cstdlib>

#include "io/sha256.h"

namespace hipt::io {
namespace {

// The nine string tags OpenSlide stores as tiff.* and folds into quickhash-1, in its order.
const std::pair<uint32_t, const char*> kStringTags[] = {
    {TIFFTAG_IMAGEDESCRIPTION, "tiff.ImageDescription"}, {TIFFTAG_MAKE, "tiff.Make"},
    {TIFFTAG_MODEL, "tiff.Model"},                       {TIFFTAG_SOFTWARE, "tiff.Software"},
    {TIFFTAG_DATETIME, "tiff.DateTime"},                 {TIFFTAG_ARTIST, "tiff.Artist"},
    {TIFFTAG_HOSTCOMPUTER, "tiff.HostComputer"},         {TIFFTAG_COPYRIGHT, "tiff.Copyright"},
    {TIFFTAG_DOCUMENTNAME, "tiff.DocumentName"}};

constexpr uint64_t kQuickhashMaxBytes = 5 << 20;

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// OpenSlide's _openslide_parse_double: the whole string, ',' accepted as the decimal mark, finite.
bool parse_double(std::string s, double* out) {
  for (char& c : s)
    if (c == ',') c = '.';
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

void copy_double(std::map<std::string, std::string>* props, const std::string& from, const std::string& to) {
  auto it = props->find(from);
  double v;
  if (it != props->end() && parse_double(it->second, &v)) (*props)[to] = format_double(v);
}

// "header|key = value|key = value": each pair becomes aperio.<key>, the header is dropped.
void add_aperio_properties(const std::string& description, std::map<std::string, std::string>* props) {
  size_t start = description.find('|');
  while (start != std::string::npos) {
    size_t end = description.find('|', start + 1);
    std::string piece = description.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    size_t eq = piece.find('=');
    if (eq != std::string::npos) (*props)["aperio." + trim(piece.substr(0, eq))] = trim(piece.substr(eq + 1));
    start = end;
  }
  copy_double(props, "aperio.AppMag", "openslide.objective-power");
  copy_double(props, "aperio.MPP", "openslide.mpp-x");
  copy_double(props, "aperio.MPP", "openslide.mpp-y");
}

// OpenSlide >= 4.0 for generic TIFF: micrometres per pixel from the resolution tags.
void add_resolution_mpp(const TiffFile& file, std::map<std::string, std::string>* props) {
  uint16_t unit = file.dir0_resolution_unit();
  double per_unit = unit == RESUNIT_CENTIMETER ? 10000.0 : unit == RESUNIT_INCH ? 25400.0 : 0.0;
  double res;
  if (per_unit == 0) return;
  if (file.dir0_float(TIFFTAG_XRESOLUTION, &res) && res > 0) (*props)["openslide.mpp-x"] = format_double(per_unit / res);
  if (file.dir0_float(TIFFTAG_YRESOLUTION, &res) && res > 0) (*props)["openslide.mpp-y"] = format_double(per_unit / res);
}

// Returns "" when the level is too large to hash (OpenSlide then omits the property).
std::string quickhash1(const TiffFile& file, int hash_dir) {
  const TiffDir& d = file.dirs()[static_cast<size_t>(hash_dir)];
  uint64_t total = 0;
  for (uint64_t n : d.byte_counts) total += n;
  if (total > kQuickhashMaxBytes) return {};
  Sha256 hash;
  std::string bytes;
  for (size_t i = 0; i < d.offsets.size(); ++i) {
    file.read_bytes(d.offsets[i], d.byte_counts[i], &bytes);
    hash.update(bytes.data(), bytes.size());
  }
  for (const auto& [tag, name] : kStringTags) {
    const std::string* value = file.dir0_string(tag);
    hash.update(name, std::strlen(name) + 1);
    std::string v = value ? value->c_str() : "";  // up to the first NUL, as a C string
    hash.update(v.c_str(), v.size() + 1);
  }
  return hash.hex_digest();
}

}  // namespace

std::string format_double(double d) { return fmt::format("{:.17g}", d); }

std::map<std::string, std::string> slide_properties(const TiffFile& file, const std::string& vendor,
                                                    const std::vector<SlideLevel>& levels, int hash_dir,
                                                    const std::vector<AssociatedInfo>& associated) {
  std::map<std::string, std::string> props;
  props["openslide.vendor"] = vendor;
  for (const auto& [tag, name] : kStringTags)
    if (const std::string* v = file.dir0_string(tag)) props[name] = v->c_str();
  if (const std::string* d = file.dir0_string(TIFFTAG_IMAGEDESCRIPTION)) props["openslide.comment"] = d->c_str();
  const std::pair<uint32_t, const char*> float_tags[] = {{TIFFTAG_XRESOLUTION, "tiff.XResolution"},
                                                         {TIFFTAG_YRESOLUTION, "tiff.YResolution"},
                                                         {TIFFTAG_XPOSITION, "tiff.XPosition"},
                                                         {TIFFTAG_YPOSITION, "tiff.YPosition"}};
  for (const auto& [tag, name] : float_tags) {
    double v;
    if (file.dir0_float(tag, &v)) props[name] = format_double(v);
  }
  uint16_t unit = file.dir0_resolution_unit();
  props["tiff.ResolutionUnit"] = unit == RESUNIT_NONE ? "none"
                                 : unit == RESUNIT_INCH ? "inch"
                                 : unit == RESUNIT_CENTIMETER ? "centimeter"
                                                              : "unknown";
  if (vendor == "aperio")
    add_aperio_properties(props.count("tiff.ImageDescription") ? props["tiff.ImageDescription"] : "", &props);
  else
    add_resolution_mpp(file, &props);

  std::string hash = quickhash1(file, hash_dir);
  if (!hash.empty()) props["openslide.quickhash-1"] = hash;
  props["openslide.level-count"] = std::to_string(levels.size());
  for (size_t i = 0; i < levels.size(); ++i) {
    std::string p = "openslide.level[" + std::to_string(i) + "].";
    props[p + "width"] = std::to_string(levels[i].width);
    props[p + "height"] = std::to_string(levels[i].height);
    props[p + "downsample"] = format_double(levels[i].downsample);
    props[p + "tile-width"] = std::to_string(levels[i].tile_width);
    props[p + "tile-height"] = std::to_string(levels[i].tile_height);
  }
  for (const AssociatedInfo& a : associated) {
    std::string p = "openslide.associated." + a.name + ".";
    props[p + "width"] = std::to_string(a.width);
    props[p + "height"] = std::to_string(a.height);
    if (a.icc_size > 0) props[p + "icc-size"] = std::to_string(a.icc_size);
  }
  return props;
}

}  // namespace hipt::io
