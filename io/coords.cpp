// Region coordinates from our CSV or CLAM's patching HDF5 (libhdf5's C API).
#include "io/coords.h"

#include <hdf5.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace hipt::io {
namespace {

// More rows than any slide has patches (a 200k x 200k slide at 256 px has 610k): a larger count is
// a corrupt header, refused before it becomes a huge allocation.
constexpr hsize_t kMaxCoordRows = 100'000'000;

std::string lower_extension(const std::string& path) {
  size_t slash = path.find_last_of('/'), dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// One integer filling all of [begin, end).
bool parse_int(const char* begin, const char* end, int64_t& out) {
  if (begin < end && *begin == '+') ++begin;  // from_chars takes '-' but not '+'
  auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end && begin != end;
}

RegionCoords read_csv(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HIPT_CHECK(f.good(), "{}: cannot open coordinates file", path);
  RegionCoords r;
  std::string line;
  int64_t line_number = 0;
  bool header_seen = false;
  while (std::getline(f, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // written on Windows
    if (!header_seen) {
      if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // spreadsheet programs add a BOM
      HIPT_CHECK(line == "x,y", "{}:1: the header must be 'x,y', got '{}'", path, line);
      header_seen = true;
      continue;
    }
    if (line.empty()) continue;
    size_t comma = line.find(',');
    Point p;
    HIPT_CHECK(comma != std::string::npos && parse_int(line.data(), line.data() + comma, p.x) &&
                   parse_int(line.data() + comma + 1, line.data() + line.size(), p.y),
               "{}:{}: expected two integers 'x,y', got '{}'", path, line_number, line);
    r.coords.push_back(p);
  }
  HIPT_CHECK(header_seen, "{}: empty file, expected the header 'x,y'", path);
  return r;
}

// Closes an HDF5 identifier when it goes out of scope, so that no error path leaks one.
class H5Id {
 public:
  H5Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  ~H5Id() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

std::string join_numbers(const std::vector<std::string>& items, bool array) {
  if (!array) return items.at(0);
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s + "]";
}

// An attribute as text: numbers (scalar, or a 1-D array as "[a, b]") and scalar strings. Other
// kinds (compound, enum, multi-dimensional) return nothing: the attributes only describe.
std::optional<std::string> attribute_text(hid_t dataset, const std::string& name) {
  H5Id attr(H5Aopen(dataset, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return std::nullopt;
  H5Id type(H5Aget_type(attr.get()), H5Tclose);
  H5Id space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.ok() || !space.ok()) return std::nullopt;
  int rank = H5Sget_simple_extent_ndims(space.get());
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (rank < 0 || rank > 1 || n < 1 || n > 64) return std::nullopt;
  bool array = rank == 1;
  std::vector<std::string> items;
  switch (H5Tget_class(type.get())) {
    case H5T_INTEGER: {
      std::vector<int64_t> v(static_cast<size_t>(n));
      if (H5Aread(attr.get(), H5T_NATIVE_INT64, v.data()) < 0) return std::nullopt;
      for (int64_t x : v) items.push_back(std::to_string(x));
      return join_numbers(items, array);
    }
    case H5T_FLOAT: {
      std::vector<double> v(static_cast<size_t>(n));
      if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, v.data()) < 0) return std::nullopt;
      for (double x : v) items.push_back(fmt::format("{}", x));
      return join_numbers(items, array);
    }
    case H5T_STRING: {
      if (array) return std::nullopt;
      H5Id mem(H5Tcopy(type.get()), H5Tclose);  // the file's charset and padding, in memory
      if (!mem.ok()) return std::nullopt;
      if (H5Tis_variable_str(type.get()) > 0) {  // h5py writes Python str like this
        char* s = nullptr;
        if (H5Aread(attr.get(), mem.get(), &s) < 0) return std::nullopt;
        std::string text = s ? s : "";
        H5free_memory(s);
        return text;
      }
      size_t size = H5Tget_size(type.get());
      if (size == 0 || size > (1u << 20)) return std::nullopt;
      std::string text(size, '\0');
      if (H5Aread(attr.get(), mem.get(), text.data()) < 0) return std::nullopt;
      text.erase(std::find(text.begin(), text.end(), '\0'), text.end());
      if (H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD) text.erase(text.find_last_not_of(' ') + 1);
      return text;
    }
    default:
      return std::nullopt;
  }
}

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* names) noexcept {
  try {
    static_cast<std::vector<std::string>*>(names)->push_back(name);
    return 0;
  } catch (...) {
    return -1;  // stops the iteration; no exception may cross the C library
  }
}

RegionCoords read_hdf5(const std::string& path) {
  HIPT_CHECK(std::ifstream(path).good(), "{}: cannot open coordinates file", path);
  // libhdf5 (Debian's serial build) is not thread-safe, and its error printing is process state.
  static std::mutex hdf5_mutex;
  std::lock_guard<std::mutex> lock(hdf5_mutex);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become our exceptions, not stderr dumps

  HIPT_CHECK(H5Fis_hdf5(path.c_str()) > 0, "{}: not an HDF5 file", path);
  H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  HIPT_CHECK(file.ok(), "{}: cannot open the HDF5 file", path);
  HIPT_CHECK(H5Lexists(file.get(), "coords", H5P_DEFAULT) > 0, "{}: no dataset 'coords' (CLAM's patch coordinates)",
             path);
  H5Id dataset(H5Dopen2(file.get(), "coords", H5P_DEFAULT), H5Dclose);
  HIPT_CHECK(dataset.ok(), "{}: 'coords' is not a dataset", path);

  H5Id space(H5Dget_space(dataset.get()), H5Sclose);
  HIPT_CHECK(space.ok(), "{}: cannot read the shape of 'coords'", path);
  int rank = H5Sget_simple_extent_ndims(space.get());
  hsize_t dims[2] = {0, 0};
  HIPT_CHECK(rank == 2 && H5Sget_simple_extent_dims(space.get(), dims, nullptr) == 2 && dims[1] == 2,
             "{}: 'coords' must have shape [M, 2], got rank {}{}", path, rank,
             rank == 2 ? fmt::format(" with shape [{}, {}]", dims[0], dims[1]) : "");
  HIPT_CHECK(dims[0] <= kMaxCoordRows, "{}: 'coords' claims {} rows, more than {}: the file is corrupt", path,
             dims[0], kMaxCoordRows);
  // Deflate expands at most 1032-fold: more rows than the file can hold is refused before the
  // buffer for them is allocated.
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  HIPT_CHECK(!ec && dims[0] * 16 <= 1032 * file_size + 65536,
             "{}: 'coords' claims {} rows, more than the {}-byte file can hold: the file is corrupt", path, dims[0],
             file_size);
  H5Id type(H5Dget_type(dataset.get()), H5Tclose);
  HIPT_CHECK(type.ok() && H5Tget_class(type.get()) == H5T_INTEGER,
             "{}: 'coords' must hold integers (CLAM writes int64), not another type", path);

  RegionCoords r;
  std::vector<int64_t> xy(static_cast<size_t>(dims[0] * 2));
  if (!xy.empty())
    HIPT_CHECK(H5Dread(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, xy.data()) >= 0,
               "{}: cannot read 'coords' (truncated or corrupt file)", path);
  r.coords.reserve(static_cast<size_t>(dims[0]));
  for (size_t i = 0; i < xy.size(); i += 2) r.coords.push_back({xy[i], xy[i + 1]});

  std::vector<std::string> names;
  hsize_t index = 0;
  HIPT_CHECK(H5Aiterate2(dataset.get(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute_name, &names) >= 0,
             "{}: cannot list the attributes of 'coords'", path);
  for (const std::string& name : names)
    if (auto text = attribute_text(dataset.get(), name)) r.attributes[name] = *text;
  return r;
}

}  // namespace

RegionCoords read_region_coords(const std::string& path) {
  std::string ext = lower_extension(path);
  if (ext == ".csv") return read_csv(path);
  if (ext == ".h5" || ext == ".hdf5") return read_hdf5(path);
  throw Error(fmt::format("{}: unknown coordinates format '{}': expected .csv (x,y) or CLAM's .h5", path, ext));
}

void write_region_coords_csv(const std::string& path, const std::vector<Point>& coords) {
  std::string csv = "x,y\n";
  for (const Point& p : coords) csv += fmt::format("{},{}\n", p.x, p.y);
  write_file_atomic(path, csv);
}

}  // namespace hipt::io
