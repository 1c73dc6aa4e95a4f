// A TIFF file opened for slide reading: every directory's tags read once at open (so reading a
// tile never touches libtiff's per-handle state), raw tile bytes through pread (thread-safe with no
// lock), and a pool of libtiff handles for what only libtiff can decode (LZW, deflate, zstd, ...).
// Internal to io/: the slide reader is the only user.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

typedef struct tiff TIFF;

namespace hipt::io {

struct TiffDir {
  int index = 0;
  bool tiled = false;
  int64_t width = 0, height = 0;
  int64_t tile_width = 0, tile_height = 0;  // for stripped dirs: width x rows-per-strip
  int64_t tiles_across = 0, tiles_down = 0;
  uint16_t compression = 1, photometric = 2, samples_per_pixel = 1, bits_per_sample = 1, planar = 1;
  uint16_t sample_format = 1;
  uint32_t subfile_type = 0;
  int extra_sample = -1;  // the first ExtraSamples value (EXTRASAMPLE_*), -1 if the tag is absent
  bool has_image_depth = false;
  uint32_t image_depth = 1;
  std::string description;     // ImageDescription, empty if absent
  std::string jpeg_tables;     // JPEGTables bytes, empty if absent
  std::string icc_profile;     // ICC profile bytes, empty if absent
  std::vector<uint64_t> offsets, byte_counts;  // per tile (or strip), in TIFF index order
};

class TiffFile {
 public:
  // Reads every directory of the main IFD chain. Throws hipt::Error naming the file.
  explicit TiffFile(const std::string& path);
  ~TiffFile();
  TiffFile(const TiffFile&) = delete;
  TiffFile& operator=(const TiffFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TiffDir>& dirs() const { return dirs_; }
  // A string tag of directory 0 (ImageDescription, Make, ...) or nullptr when absent.
  const std::string* dir0_string(uint32_t tag) const;
  bool dir0_float(uint32_t tag, double* value) const;
  uint16_t dir0_resolution_unit() const { return resolution_unit_; }
  const std::string& dir0_xmp() const { return dir0_xmp_; }  // XMLPacket bytes, empty if absent

  // Bytes [offset, offset + n) of the file; throws naming the file when they are not all there.
  void read_bytes(uint64_t offset, uint64_t n, std::string* out) const;

  // Runs f with a libtiff handle set to directory `dir`; handles are pooled, one caller each.
  // f returns false on failure; then this throws "<path>: <what>: <libtiff's message>".
  void with_handle(int dir, const std::string& what, const std::function<bool(TIFF*)>& f) const;

 private:
  struct Handle;
  std::unique_ptr<Handle> open_handle() const;

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  std::vector<TiffDir> dirs_;
  std::vector<std::pair<uint32_t, std::string>> dir0_strings_;
  std::vector<std::pair<uint32_t, double>> dir0_floats_;
  uint16_t resolution_unit_ = 2;
  std::string dir0_xmp_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Handle>> free_handles_;
};

}  // namespace hipt::io
