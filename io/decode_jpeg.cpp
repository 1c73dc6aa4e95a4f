// JPEG tiles the way OpenSlide decodes them: JPEGTables loaded first, the colour space forced from
// the TIFF Photometric tag (Aperio's RGB tiles carry no JFIF/Adobe marker, so libjpeg would guess
// YCbCr and shift colours by up to 136 levels), libjpeg's default ISLOW DCT and fancy upsampling.
#include <cstdio>
// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "io/tile_decode.h"
#include "tensor/error.h"

namespace hipt::io {
namespace {

struct JpegErrorSink {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* sink = reinterpret_cast<JpegErrorSink*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, sink->message);
  std::longjmp(sink->jump, 1);
}
void on_jpeg_message(j_common_ptr, int) {}  // warnings (e.g. corrupt data recovered) stay quiet

struct JpegJob {
  const unsigned char* tables;
  size_t tables_size;
  const unsigned char* data;
  size_t data_size;
  int photometric;
  JDIMENSION width, height;
  unsigned char** rows;  // height row pointers, owned by the caller
};

// Plain C objects only between setjmp and the last libjpeg call, so the longjmp skips no
// destructor. Returns false with sink->message set on failure.
bool run_jpeg(const JpegJob& job, JpegErrorSink* sink) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&sink->mgr);
  sink->mgr.error_exit = on_jpeg_error;
  sink->mgr.emit_message = on_jpeg_message;
  if (setjmp(sink->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  if (job.tables_size > 0) {
    jpeg_mem_src(&cinfo, job.tables, static_cast<unsigned long>(job.tables_size));
    jpeg_read_header(&cinfo, FALSE);
  }
  jpeg_mem_src(&cinfo, job.data, static_cast<unsigned long>(job.data_size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.num_components == 3) {
    if (job.photometric == 2) cinfo.jpeg_color_space = JCS_RGB;
    if (job.photometric == 6) cinfo.jpeg_color_space = JCS_YCbCr;
  }
  cinfo.out_color_space = JCS_EXT_RGBA;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_width != job.width || cinfo.output_height != job.height) {
    std::snprintf(sink->message, sizeof(sink->message), "dimensional mismatch: the JPEG is %ux%u, the tile %ux%u",
                  cinfo.output_width, cinfo.output_height, job.width, job.height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height)
    jpeg_read_scanlines(&cinfo, job.rows + cinfo.output_scanline, cinfo.output_height - cinfo.output_scanline);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

void decode_jpeg(const std::string& path, const std::string& tables, const std::string& data, int photometric,
                 int64_t width, int64_t height, uint8_t* rgba) {
  std::vector<unsigned char*> rows(static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y) rows[static_cast<size_t>(y)] = rgba + y * width * 4;
  JpegJob job{reinterpret_cast<const unsigned char*>(tables.data()),
              tables.size(),
              reinterpret_cast<const unsigned char*>(data.data()),
              data.size(),
              photometric,
              static_cast<JDIMENSION>(width),
              static_cast<JDIMENSION>(height),

              rows.data()};
  JpegErrorSink sink;
  std::snprintf(sink.message, sizeof(sink.message), "unknown libjpeg error");
  HIPT_CHECK(run_jpeg(job, &sink), "{}: corrupt JPEG tile: {}", path, sink.message);
}

}  // namespace hipt::io
