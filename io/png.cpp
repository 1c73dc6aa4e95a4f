#include "io/png.h"

#include <png.h>
#include <sys/stat.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "io/atomic_file.h"
#include "tensor/ops.h"

namespace hipt::io {
namespace {

// libpng reports errors by longjmp; its message is kept here and thrown once back in C++ land,
// so no exception ever crosses libpng's C frames.
struct PngErrorSink {
  char message[256] = "unknown libpng error";
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* sink = static_cast<PngErrorSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof(sink->message), "%s", msg);
  png_longjmp(png, 1);
}
void on_png_warning(png_structp, png_const_charp) {}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

// Everything between setjmp and the last libpng call lives in plain C objects, so the longjmp
// skips no destructor. Returns false (with sink->message set) on a libpng error.
bool decode(FILE* f, uint64_t file_size, PngErrorSink* sink, png_uint_32* width, png_uint_32* height,
            int* channels, std::vector<unsigned char>* pixels) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, sink, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  // Decoded pixels go to a malloc'd buffer owned by this frame until success.
  unsigned char* volatile buffer = nullptr;
  png_bytep* volatile rows = nullptr;
  if (!info || setjmp(png_jmpbuf(png))) {
    std::free(buffer);
    std::free(rows);
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  png_init_io(png, f);
  // Guard against decompression bombs: a 2^28-pixel image is already 1 GiB of RGBA.
  png_set_user_limits(png, 1u << 17, 1u << 17);
  png_read_info(png, info);
  png_set_expand(png);  // palette -> RGB, grey < 8 bit -> 8 bit, tRNS -> alpha
  png_set_strip_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *width = png_get_image_width(png, info);
  *height = png_get_image_height(png, info);
  *channels = png_get_channels(png, info);
  size_t stride = png_get_rowbytes(png, info);
  if (static_cast<uint64_t>(*width) * *height > (uint64_t{1} << 28)) png_error(png, "image larger than 2^28 pixels");
  // Deflate expands at most 1032-fold, and the expansions above (palette to RGBA, 1-bit to 8-bit
  // samples) at most 32-fold more: an image claiming more than its file can hold is refused before
  // its buffer is allocated, so a small hostile file cannot cost a gigabyte.
  if (static_cast<uint64_t>(stride) * *height > 1032 * 32 * file_size + (uint64_t{1} << 16))
    png_error(png, "the image size in the header is more than the file's compressed data can hold");
  buffer = static_cast<unsigned char*>(std::malloc(stride * *height));
  rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * *height));
  if (!buffer || !rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < *height; ++y) rows[y] = buffer + y * stride;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  pixels->assign(buffer, buffer + stride * *height);
  std::free(buffer);
  std::free(rows);
  return true;
}

void append_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), n);
}
void flush_nothing(png_structp) {}

bool encode(const unsigned char* pixels, png_uint_32 width, png_uint_32 height, int channels, PngErrorSink* sink,
            std::string* out) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, sink, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  int color = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
  png_set_write_fn(png, out, append_bytes, flush_nothing);
  // Level 6 is zlib's default; masks and heatmaps are small, region images are written rarely.
  png_set_compression_level(png, 6);
  png_set_IHDR(png, info, width, height, 8, color, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (png_uint_32 y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(pixels + static_cast<size_t>(y) * width * channels));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

Tensor read_png(const std::string& path) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  HIPT_CHECK(f != nullptr, "{}: cannot open: {}", path, std::strerror(errno));
  unsigned char signature[8] = {};
  bool is_png = std::fread(signature, 1, 8, f.get()) == 8 && png_sig_cmp(signature, 0, 8) == 0;
  HIPT_CHECK(is_png, "{}: not a PNG file", path);
  std::rewind(f.get());
  struct stat st {};
  HIPT_CHECK(::fstat(::fileno(f.get()), &st) == 0, "{}: cannot stat: {}", path, std::strerror(errno));
  PngErrorSink sink;
  png_uint_32 width = 0, height = 0;
  int channels = 0;
  std::vector<unsigned char> pixels;
  HIPT_CHECK(decode(f.get(), static_cast<uint64_t>(st.st_size), &sink, &width, &height, &channels, &pixels), "{}: corrupt PNG: {}", path, sink.message);
  return ops::from_vector(pixels, Shape{static_cast<int64_t>(height), static_cast<int64_t>(width), channels});
}

Tensor read_png_rgb(const std::string& path) {
  Tensor img = read_png(path);
  int64_t c = img.shape()[2];
  if (c == 3) return img;
  if (c == 4) return ops::contiguous(ops::slice(img, 2, 0, 3));
  Tensor grey = ops::slice(img, 2, 0, 1);  // C = 1 or 2: replicate grey, drop alpha
  return ops::contiguous(ops::expand(grey, Shape{img.shape()[0], img.shape()[1], 3}));
}

std::string encode_png(const Tensor& image) {
  HIPT_CHECK(image.dtype() == DType::U8 && image.dim() == 3, "write_png: need a u8 [H, W, C] image, got {} {}",
             dtype_name(image.dtype()), image.shape().str());
  int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
  HIPT_CHECK(c == 1 || c == 3 || c == 4, "write_png: need 1, 3 or 4 channels, got {}", c);
  HIPT_CHECK(h > 0 && w > 0 && h < (1 << 20) && w < (1 << 20), "write_png: image size {}x{} out of range", w, h);
  Tensor pixels = ops::contiguous(image);
  PngErrorSink sink;
  std::string out;
  HIPT_CHECK(encode(pixels.data<uint8_t>(), static_cast<png_uint_32>(w), static_cast<png_uint_32>(h),
                    static_cast<int>(c), &sink, &out),
             "write_png: {}", sink.message);
  return out;
}

void write_png(const std::string& path, const Tensor& image) {
  std::string bytes;
  try {
    bytes = encode_png(image);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path, e.what()));
  }
  write_file_atomic(path, bytes);
}

}  // namespace hipt::io
