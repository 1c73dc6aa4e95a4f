// libFuzzer target for the slide reader: the input bytes are written to a file (Slide::open takes
// a path; libtiff reads through the fd as it would for a real slide), then everything a caller can
// ask of an opened slide is exercised: levels, properties, ICC profile, associated images, and
// read_region at the origin, across a tile corner, over the right/bottom edge, at a negative
// position and on the smallest level, with and without the tile cache.
//
// hipt::Error is the expected outcome for a bad file; anything else (a sanitizer report, another
// exception, an allocation over -malloc_limit_mb, a timeout) is a bug. Built by tools/fuzz.sh.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/slide.h"
#include "tensor/error.h"

namespace {

// One file per fuzzing process, in $TMPDIR (tools/fuzz.sh points it at a tmpfs when there is one).
const std::string& input_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/hipt_fuzz_slide_" + std::to_string(::getpid()) + ".tiff";
  }();
  return path;
}

// A failure here is a harness problem or a leak in the reader (EMFILE once descriptors run out):
// say which before aborting.
void write_input(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(input_path().c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(("fuzz_slide: cannot write " + input_path()).c_str());
    std::abort();
  }
}

// Touches every byte of a region so that reads of uninitialised or freed memory show up.
uint32_t checksum(const hipt::Tensor& t) {
  const auto* p = t.data<uint8_t>();
  uint32_t s = 0;
  for (int64_t i = 0; i < t.shape().numel(); ++i) s = s * 31 + p[i];
  return s;
}

volatile uint32_t g_sink;

void exercise(const hipt::io::Slide& slide) {
  using hipt::io::SlideLevel;
  uint32_t s = 0;
  for (const auto& [k, v] : slide.properties()) s += static_cast<uint32_t>(k.size() + v.size());
  s += static_cast<uint32_t>(slide.icc_profile().size());
  s += static_cast<uint32_t>(slide.best_level_for_downsample(3.0));
  for (const std::string& name : slide.associated_image_names()) {
    try {
      s += checksum(slide.read_associated_image(name));
    } catch (const hipt::Error&) {
    }
  }
  const int last = slide.level_count() - 1;
  const SlideLevel& l0 = slide.level(0);
  const int64_t tw = l0.tile_width, th = l0.tile_height;
  struct Read {
    int64_t x, y;
    int level;
    int64_t w, h;
  };
  const Read reads[] = {
      {0, 0, 0, 64, 64},                            // origin: one tile
      {tw - 7, th - 5, 0, 20, 12},                  // across a tile corner: up to four tiles
      {l0.width - 10, l0.height - 10, 0, 30, 30},   // over the right and bottom edges
      {-9, -9, 0, 20, 20},                          // negative position
      {0, 0, last, 96, 96},                         // the smallest level
  };
  for (const Read& r : reads) {
    try {
      s += checksum(slide.read_region(r.x, r.y, r.level, r.w, r.h));
    } catch (const hipt::Error&) {
    }
  }
  g_sink = s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_input(data, size);
  hipt::io::SlideOptions opts;
  opts.max_region_pixels = int64_t{1} << 22;  // associated images up to 4 Mpx
  opts.threads = 1;                           // deterministic: no pool threads
  for (size_t cache_bytes : {size_t{0}, size_t{4} << 20}) {
    opts.cache_bytes = cache_bytes;
    try {
      auto slide = hipt::io::Slide::open(input_path(), opts);
      exercise(*slide);
    } catch (const hipt::Error&) {
      break;  // refused at open: the second pass would refuse it the same way
    }
  }
  return 0;
}
