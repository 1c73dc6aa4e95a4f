// libFuzzer targets for the readers of outside files other than slides, one binary per reader,
// chosen at compile time by HIPT_FUZZ_READER (fuzz/CMakeLists.txt):
//   pth          io::read_pth: a zip archive and its pickle program (checkpoints from strangers)
//   safetensors  io::read_safetensors and read_safetensors_metadata
//   png          io::read_png and read_png_rgb
//   coords_csv   io::read_region_coords on a .csv (`hipt tiles` / --coords)
//   coords_h5    io::read_region_coords on a .h5 (CLAM's patch files, through libhdf5)
//   preset       apply_clam_preset (CLAM's preset CSVs, --preset)
// The input bytes go to a file with the reader's extension (every reader takes a path), the reader
// runs, and every byte of what it returns is read so that uninitialised or freed memory shows up.
// hipt::Error is the expected answer to a bad file; anything else (a sanitizer report, another
// exception, an allocation over -malloc_limit_mb, a timeout) is a bug. Built by tools/fuzz.sh.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "tensor/error.h"
#include "tensor/ops.h"

#define HIPT_READER_IS(name) (std::strcmp(HIPT_FUZZ_READER, name) == 0)

#include "hipt/pipeline/presets.h"
#include "io/coords.h"
#include "io/png.h"
#include "io/pth.h"
#include "io/safetensors.h"

namespace {

const char* extension() {
  if (HIPT_READER_IS("pth")) return ".pth";
  if (HIPT_READER_IS("safetensors")) return ".safetensors";
  if (HIPT_READER_IS("png")) return ".png";
  if (HIPT_READER_IS("coords_h5")) return ".h5";
  return ".csv";  // coords_csv, preset
}

// One file per fuzzing process, in $TMPDIR (tools/fuzz.sh points it at a tmpfs when there is one).
const std::string& input_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/hipt_fuzz_" + HIPT_FUZZ_READER + "_" +
           std::to_string(::getpid()) + extension();
  }();
  return path;
}

void write_input(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(input_path().c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(("fuzz_" + std::string(HIPT_FUZZ_READER) + ": cannot write " + input_path()).c_str());
    std::abort();
  }
}

volatile uint32_t g_sink;

uint32_t checksum(const hipt::Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  uint32_t s = 0;
  for (int64_t i = 0; i < t.numel() * static_cast<int64_t>(hipt::dtype_size(t.dtype())); ++i) s = s * 31 + p[i];
  return s;
}

uint32_t checksum(const std::map<std::string, hipt::Tensor>& tensors) {
  uint32_t s = 0;
  for (const auto& [name, t] : tensors) s += static_cast<uint32_t>(name.size()) + checksum(hipt::ops::contiguous(t));
  return s;
}

uint32_t run(const std::string& path) {
  uint32_t s = 0;
  if (HIPT_READER_IS("pth")) {
    s += checksum(hipt::io::read_pth(path));
  } else if (HIPT_READER_IS("safetensors")) {
    for (const auto& [k, v] : hipt::io::read_safetensors_metadata(path)) s += static_cast<uint32_t>(k.size() + v.size());
    s += checksum(hipt::io::read_safetensors(path));
  } else if (HIPT_READER_IS("png")) {
    s += checksum(hipt::io::read_png(path));
    s += checksum(hipt::io::read_png_rgb(path));
  } else if (HIPT_READER_IS("coords_csv") || HIPT_READER_IS("coords_h5")) {
    const hipt::io::RegionCoords c = hipt::io::read_region_coords(path);
    for (const auto& p : c.coords) s += static_cast<uint32_t>(p.x) * 31u + static_cast<uint32_t>(p.y);
    for (const auto& [k, v] : c.attributes) s += static_cast<uint32_t>(k.size() + v.size());
  } else {
    hipt::TilingOptions t;
    hipt::apply_clam_preset(path, t);
    s += static_cast<uint32_t>(t.seg_level + t.sthresh + t.mthresh + t.close + t.max_n_holes);
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_input(data, size);
  try {
    g_sink = run(input_path());
  } catch (const hipt::Error&) {
  }
  return 0;
}
