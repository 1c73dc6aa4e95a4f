// The per-slide pipeline of `hipt embed` as a library: a slide and the two loaded ViTs become one
// .safetensors of HIPT-4K features.
//
//   slide -> regions (tissue segmentation + grid, or a coordinates file)
//         -> reader thread: read_region_at_target_mag -> bounded queue (capacity `prefetch`, 2 by default)
//            of u8 regions in host memory
//         -> main thread: RegionEncoder (normalise on the CPU, copy each batch to the models' device,
//            ViT-256, ViT-4K there; features back as f32 on the CPU)
//         -> coords [M, 2], patch_features [M, N, 384], region_features [M, 192]
//         -> DIR/<stem>.safetensors (atomic), with DIR/<stem>.safetensors.partial every `save_every` regions
//
// The reader decodes region i+1.. while the encoder works on region i, so decode overlaps compute and
// at most `prefetch` decoded regions wait in memory, whatever the slide size. The host-to-device copy
// is the encoder's, not the reader's: the reader never touches the GPU, and with two regions queued
// the GPU has its next region ready the moment it finishes one.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hipt/models/vit.h"
#include "hipt/pipeline/tiling.h"

namespace hipt {

// Both ViTs of a run, loaded once, and what the output files record about their checkpoints.
struct EmbedModels {
  std::shared_ptr<VisionTransformer> vit256;
  std::shared_ptr<VisionTransformer4K> vit4k;
  std::string vit256_path, vit4k_path;
  std::string vit256_sha256, vit4k_sha256;  // of the checkpoint files
  std::string weights;                      // "teacher" or "student" (the part asked for)
  std::string device = "cpu";               // where they run ("cpu", "cuda:0")
  std::string precision = "f32";            // "f32", "tf32" or "bf16" (the CLI's --precision)
};

// Loads both backbones (hipt/models/checkpoint.h rules), bf16 when `precision` is "bf16", moves them
// to `device`, and hashes each file once. Throws hipt::Error naming the file that is missing or does
// not fit its model. (The matmul precision of "tf32" is the process's: ops::set_matmul_precision.)
EmbedModels load_embed_models(const std::string& vit256_path, const std::string& vit4k_path, bool student,
                              const Device& device = {}, const std::string& precision = "f32");

// SHA-256 of a file's bytes, read in blocks (checkpoints are hundreds of MB). Throws naming the file.
std::string file_sha256(const std::string& path);

struct SlideEmbedOptions {
  TilingOptions tiling;
  std::string coords_file;   // "": segment the slide; else a CSV / CLAM .h5 of level-0 corners
  int64_t batch = 64;        // ViT-256 patches per forward
  int64_t prefetch = 2;      // decoded regions waiting for the encoder, at most
  int64_t save_every = 8;    // regions between partial saves
  bool white_background = false;
  std::string progress_label = "embed";  // e.g. "slide 2/5 a.svs"
};

// Throws hipt::Error for options no slide can run with (--size under 256, a batch, prefetch or
// save interval under 1); run_embed calls it before the first slide.
void check_slide_embed_options(const SlideEmbedOptions& opts);

// Seconds spent per stage, summed over regions (and over slides in the run summary).
struct EmbedTiming {
  double decode_wait = 0;  // the encoder waiting for the reader (decode not hidden by compute)
  double decode = 0;       // the reader thread reading and resampling regions
  double vit256 = 0, vit4k = 0;
  double write = 0;        // partial and final files
  EmbedTiming& operator+=(const EmbedTiming& o);
};

struct SlideEmbedResult {
  std::string status;            // "done", or "resumed" when a partial file was continued
  int64_t regions = 0;           // M
  int64_t regions_resumed = 0;   // taken from the partial file
  std::vector<std::string> warnings;
  EmbedTiming timing;
};

// Embeds one slide into `out_path` (written atomically; its partial file is removed once it is).
// A partial file whose fingerprint matches is resumed; one that does not is ignored (a warning).
// Throws hipt::Error naming the slide (bad slide, unknown magnification, bad coordinates, a
// region that cannot be read); the reader thread is joined on every path.
SlideEmbedResult embed_slide(const std::string& slide_path, const std::string& out_path, const EmbedModels& models,
                             const SlideEmbedOptions& opts);

// The hash that guards resuming: the slide's file name and size, the metadata keys that determine
// the features (magnifications, region sizes, checkpoint digests, weights, version, background,
// precision), the kind of device ("cpu" or "cuda", not its index) and the region coordinates.
// `metadata` holds those keys and "device" as set_up writes them into every output.
std::string resume_fingerprint(const std::string& slide_path, const std::map<std::string, std::string>& metadata,
                               const std::vector<io::Point>& regions);

// File name without its folder and its last extension ("/a/b.ome.tif" -> "b.ome").
std::string slide_stem(const std::string& path);

// "DIR/<stem>.safetensors" -> "DIR/<stem>.safetensors.partial". No output name ends in ".partial",
// so a partial file can never be another slide's output (slides "a.svs" and "a.partial.svs"), and
// a glob of DIR/*.safetensors finds finished slides only.
std::string partial_path_for(const std::string& out_path);

// True when `path` exists and its safetensors header parses (a rerun then skips the slide), with
// its __metadata__ in `metadata`; false otherwise, never throws.
bool read_finished_metadata(const std::string& path, std::map<std::string, std::string>* metadata);

}  // namespace hipt
