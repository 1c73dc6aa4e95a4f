// See tiff_file.h. libtiff is used only here and for decoding (tile_decode.cpp, associated images).
#include "io/tiff_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "tensor/error.h"

namespace hipt::io {

// A libtiff handle with its own error text: libtiff reports through a callback, which keeps the
// last message here (per handle, so concurrent handles never mix messages) for the C++ side to throw.
struct TiffFile::Handle {
  TIFF* tif = nullptr;
  int dir = -1;
  std::string error;
  ~Handle() {
    if (tif) TIFFClose(tif);
  }
};

namespace {

int on_tiff_error(TIFF*, void* user_data, const char* module, const char* fmt, va_list ap) {
  char msg[512];
  std::vsnprintf(msg, sizeof(msg), fmt, ap);
  auto* error = static_cast<std::string*>(user_data);
  if (error->empty()) *error = module && *module ? std::string(module) + ": " + msg : msg;
  return 1;
}
int on_tiff_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

std::string get_string(TIFF* tif, uint32_t tag) {
  char* s = nullptr;
  if (TIFFGetField(tif, tag, &s) && s) return s;
  return {};
}

bool has_string(TIFF* tif, uint32_t tag) {
  char* s = nullptr;
  return TIFFGetField(tif, tag, &s) && s;
}

std::string get_bytes(TIFF* tif, uint32_t tag) {
  uint32_t n = 0;
  void* data = nullptr;
  if (TIFFGetField(tif, tag, &n, &data) && data && n > 0) return std::string(static_cast<const char*>(data), n);
  return {};
}

TiffDir read_dir(TIFF* tif, int index, const std::string& path) {
  TiffDir d;
  d.index = index;
  uint32_t w = 0, h = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  d.width = w;
  d.height = h;
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &d.compression);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &d.samples_per_pixel);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &d.bits_per_sample);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &d.planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &d.sample_format);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &d.photometric)) d.photometric = d.samples_per_pixel >= 3 ? 2 : 1;
  TIFFGetFieldDefaulted(tif, TIFFTAG_SUBFILETYPE, &d.subfile_type);
  uint16_t n_extra = 0;
  uint16_t* extra = nullptr;
  if (TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &n_extra, &extra) && n_extra > 0 && extra) d.extra_sample = extra[0];
  d.has_image_depth = TIFFGetField(tif, TIFFTAG_IMAGEDEPTH, &d.image_depth) != 0;
  d.description = get_string(tif, TIFFTAG_IMAGEDESCRIPTION);
  d.icc_profile = get_bytes(tif, TIFFTAG_ICCPROFILE);
  if (d.compression == COMPRESSION_JPEG && TIFFIsCODECConfigured(COMPRESSION_JPEG))
    d.jpeg_tables = get_bytes(tif, TIFFTAG_JPEGTABLES);
  d.tiled = TIFFIsTiled(tif) != 0;
  uint64_t* offsets = nullptr;
  uint64_t* counts = nullptr;
  uint32_t n = 0;
  bool ok;
  if (d.tiled) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    // Real tiles are at most a few thousand pixels wide; a decoded tile is tw*th*4 bytes.
    HIPT_CHECK(tw > 0 && th > 0 && uint64_t{tw} * th <= (uint64_t{1} << 26), "{}: directory {}: tile size {}x{} is invalid",
               path, index, tw, th);
    d.tile_width = tw;
    d.tile_height = th;
    n = TIFFNumberOfTiles(tif);
    ok = TIFFGetField(tif, TIFFTAG_TILEOFFSETS, &offsets) && TIFFGetField(tif, TIFFTAG_TILEBYTECOUNTS, &counts);
  } else {
    uint32_t rows = 0;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows);
    d.tile_width = d.width;
    d.tile_height = std::min<int64_t>(rows ? rows : d.height, d.height);
    n = TIFFNumberOfStrips(tif);
    ok = TIFFGetField(tif, TIFFTAG_STRIPOFFSETS, &offsets) && TIFFGetField(tif, TIFFTAG_STRIPBYTECOUNTS, &counts);
  }
  HIPT_CHECK(d.width > 0 && d.height > 0, "{}: directory {}: image size {}x{} is empty", path, index, w, h);
  HIPT_CHECK(ok && offsets && counts, "{}: directory {}: the tile or strip offsets are missing", path, index);
  d.tiles_across = (d.width + d.tile_width - 1) / d.tile_width;
  d.tiles_down = (d.height + d.tile_height - 1) / d.tile_height;
  d.offsets.assign(offsets, offsets + n);
  d.byte_counts.assign(counts, counts + n);
  return d;
}

}  // namespace

std::unique_ptr<TiffFile::Handle> TiffFile::open_handle() const {
  auto handle = std::make_unique<Handle>();
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options, on_tiff_error, &handle->error);
  TIFFOpenOptionsSetWarningHandlerExtR(options, on_tiff_warning, nullptr);
  TIFFOpenOptionsSetMaxSingleMemAlloc(options, tmsize_t{1} << 31);
  // "m": no memory mapping, so a file truncated under us is an error, never a SIGBUS.
  handle->tif = TIFFOpenExt(path_.c_str(), "rm", options);
  TIFFOpenOptionsFree(options);
  HIPT_CHECK(handle->tif, "{}: not a readable TIFF file ({})", path_,
             handle->error.empty() ? "libtiff could not open it" : handle->error);
  handle->dir = 0;
  return handle;
}

TiffFile::TiffFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  HIPT_CHECK(fd_ >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  // The destructor does not run when the constructor throws: close the descriptor here, or every
  // refused file would leak one (found by fuzzing: fopen failed with EMFILE after ~25k inputs).
  try {
    struct stat st;
    HIPT_CHECK(fstat(fd_, &st) == 0 && S_ISREG(st.st_mode), "{}: not a regular file", path);
    HIPT_CHECK(st.st_size > 0, "{}: the file is empty", path);
    file_size_ = static_cast<uint64_t>(st.st_size);
    std::unique_ptr<Handle> h = open_handle();
    TIFF* tif = h->tif;
    constexpr int kMaxDirs = 4096;
    for (int i = 0;; ++i) {
      HIPT_CHECK(i < kMaxDirs, "{}: more than {} directories", path, kMaxDirs);
      dirs_.push_back(read_dir(tif, i, path));
      if (i == 0) {
        for (uint32_t tag : {TIFFTAG_IMAGEDESCRIPTION, TIFFTAG_MAKE, TIFFTAG_MODEL, TIFFTAG_SOFTWARE, TIFFTAG_DATETIME,
                             TIFFTAG_ARTIST, TIFFTAG_HOSTCOMPUTER, TIFFTAG_COPYRIGHT, TIFFTAG_DOCUMENTNAME})
          if (has_string(tif, tag)) dir0_strings_.emplace_back(tag, get_string(tif, tag));
        for (uint32_t tag : {TIFFTAG_XRESOLUTION, TIFFTAG_YRESOLUTION, TIFFTAG_XPOSITION, TIFFTAG_YPOSITION}) {
          float f = 0;
          if (TIFFGetField(tif, tag, &f)) dir0_floats_.emplace_back(tag, static_cast<double>(f));
        }
        TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &resolution_unit_);
        dir0_xmp_ = get_bytes(tif, TIFFTAG_XMLPACKET);
      }
      h->error.clear();
      if (!TIFFReadDirectory(tif)) {
        // The end of the chain reads as 0 with no error; a broken next IFD leaves a message.
        HIPT_CHECK(h->error.empty(), "{}: directory {} is corrupt ({})", path, i + 1, h->error);
        break;
      }
    }
    h->dir = static_cast<int>(dirs_.size()) - 1;
    free_handles_.push_back(std::move(h));
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

TiffFile::~TiffFile() {
  if (fd_ >= 0) ::close(fd_);
}

const std::string* TiffFile::dir0_string(uint32_t tag) const {
  for (const auto& [t, s] : dir0_strings_)
    if (t == tag) return &s;
  return nullptr;
}

bool TiffFile::dir0_float(uint32_t tag, double* value) const {
  for (const auto& [t, v] : dir0_floats_)
    if (t == tag) {
      *value = v;
      return true;
    }
  return false;
}

void TiffFile::read_bytes(uint64_t offset, uint64_t n, std::string* out) const {
  // Checked before allocating: a corrupt byte count must not become a huge allocation.
  HIPT_CHECK(offset <= file_size_ && n <= file_size_ - offset,
             "{}: cannot read {} bytes at offset {}: the file is truncated ({} bytes)", path_, n, offset, file_size_);
  out->resize(n);
  uint64_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd_, out->data() + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    HIPT_CHECK(got > 0, "{}: cannot read {} bytes at offset {}: {}", path_, n, offset,
               got < 0 ? std::strerror(errno) : "the file is truncated");
    done += static_cast<uint64_t>(got);
  }
}

void TiffFile::with_handle(int dir, const std::string& what, const std::function<bool(TIFF*)>& f) const {
  std::unique_ptr<Handle> h;
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    // Prefer a handle already on this directory: switching re-reads the IFD.
    for (size_t i = 0; i < free_handles_.size(); ++i)
      if (free_handles_[i]->dir == dir || i + 1 == free_handles_.size()) {
        h = std::move(free_handles_[i]);
        free_handles_.erase(free_handles_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
  }
  if (!h) h = open_handle();
  h->error.clear();
  if (h->dir != dir) {
    h->dir = -1;
    HIPT_CHECK(TIFFSetDirectory(h->tif, static_cast<tdir_t>(dir)), "{}: cannot read directory {} ({})", path_, dir,
               h->error);
    h->dir = dir;
  }
  bool ok = f(h->tif);
  std::string error = h->error;
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (free_handles_.size() < 64) free_handles_.push_back(std::move(h));
  }
  HIPT_CHECK(ok, "{}: {}: {}", path_, what, error.empty() ? "libtiff failed" : error);
}

}  // namespace hipt::io
