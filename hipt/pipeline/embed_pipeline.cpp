#include "hipt/pipeline/embed_pipeline.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "hipt/models/checkpoint.h"
#include "hipt/models/region_encoder.h"
#include "hipt/pipeline/progress.h"
#include "io/coords.h"
#include "io/magnification.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "io/slide.h"
#include "tensor/ops.h"

namespace hipt {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct DecodedRegion {
  size_t index = 0;
  Tensor rgb;  // u8 [size, size, 3]
};

// The bounded hand-over from the reader thread to the encoder. The reader blocks while `capacity`
// regions wait; the encoder blocks while none does. Either side can end it: the reader with
// finish() (its error, if any, is rethrown to the encoder by pop), the encoder with cancel() (the
// reader's next push returns false and it stops).
class RegionQueue {
 public:
  explicit RegionQueue(size_t capacity) : capacity_(capacity) {}

  bool push(DecodedRegion r) {
    std::unique_lock<std::mutex> lk(m_);
    not_full_.wait(lk, [&] { return cancelled_ || items_.size() < capacity_; });
    if (cancelled_) return false;
    items_.push_back(std::move(r));
    not_empty_.notify_one();
    return true;
  }
  void finish(std::exception_ptr error = nullptr) {
    std::lock_guard<std::mutex> lk(m_);
    finished_ = true;
    error_ = error;
    not_empty_.notify_all();
  }
  // The next region, or nothing once the reader has finished and the queue is drained.
  std::optional<DecodedRegion> pop() {
    std::unique_lock<std::mutex> lk(m_);
    not_empty_.wait(lk, [&] { return finished_ || !items_.empty(); });
    if (!items_.empty()) {
      DecodedRegion r = std::move(items_.front());
      items_.pop_front();
      not_full_.notify_one();
      return r;
    }
    if (error_) std::rethrow_exception(error_);
    return std::nullopt;
  }
  void cancel() {
    std::lock_guard<std::mutex> lk(m_);
    cancelled_ = true;
    items_.clear();
    not_full_.notify_all();
  }

 private:
  size_t capacity_;
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::deque<DecodedRegion> items_;
  bool finished_ = false, cancelled_ = false;
  std::exception_ptr error_;
};

// Cancels the queue and joins the reader when the encoder leaves, normally or by an exception.
struct ReaderGuard {
  RegionQueue& queue;
  std::thread& thread;
  ~ReaderGuard() {
    queue.cancel();
    if (thread.joinable()) thread.join();
  }
};

std::string tiling_json(const TilingOptions& t) {
  nlohmann::json j = {{"size", t.size},
                      {"step", t.step.value_or(t.size)},
                      {"target_mag", t.target_mag},
                      {"magnification", t.magnification ? nlohmann::json(*t.magnification) : nlohmann::json(nullptr)},
                      {"min_tissue", t.min_tissue},
                      {"seg_level", t.seg_level},
                      {"use_otsu", t.otsu},
                      {"use_padding", !t.no_padding},
                      {"sthresh", t.sthresh},
                      {"mthresh", t.mthresh},
                      {"close", t.close},
                      {"a_t", t.a_t},
                      {"a_h", t.a_h},
                      {"max_n_holes", t.max_n_holes}};
  return j.dump();
}

}  // namespace

std::string resume_fingerprint(const std::string& slide_path, const std::map<std::string, std::string>& metadata,
                               const std::vector<io::Point>& regions) {
  // The slide is named by its file name and size (the same slide moved keeps its partial).
  std::error_code ec;
  const auto bytes = fs::file_size(slide_path, ec);
  std::string id = fmt::format("slide {} {}\n", fs::path(slide_path).filename().string(), ec ? 0 : bytes);
  for (const char* key : {"magnification", "target_magnification", "region_size", "region_size_level0",
                          "vit256_sha256", "vit4k_sha256", "weights", "version", "white_background", "precision"})
    id += fmt::format("{} {}\n", key, metadata.at(key));
  // The kind of device, not its index: features of one precision agree across GPUs, so a partial
  // file resumes on another one, but never on the CPU (nor the reverse).
  id += fmt::format("device {}\n", metadata.at("device").rfind("cuda", 0) == 0 ? "cuda" : "cpu");
  for (const io::Point& p : regions) id += fmt::format("{},{}\n", p.x, p.y);
  return io::sha256_hex(id.data(), id.size());
}

namespace {

// What one slide's regions are and how they are embedded: the file's metadata, and everything
// that determines the output, hashed into the fingerprint that guards resuming.
struct SlideSetup {
  std::unique_ptr<io::Slide> slide;
  RegionPlan plan;  // regions from segmentation or from the coordinates file
  std::map<std::string, std::string> metadata;
  std::vector<std::string> warnings;
};

SlideSetup set_up_slide(const std::string& slide_path, const EmbedModels& models, const SlideEmbedOptions& o) {
  SlideSetup s;
  io::SlideOptions so;
  so.threads = 1;  // the reader thread decodes serially: the engine's pool belongs to the encoder
  s.slide = io::Slide::open(slide_path, so);
  std::string coords_source = "segmentation";
  if (o.coords_file.empty()) {
    s.plan = plan_regions(*s.slide, slide_path, o.tiling);
    if (s.plan.regions.empty()) s.warnings.push_back("no tissue found: 0 regions");
  } else {
    s.plan = region_geometry(*s.slide, slide_path, o.tiling);
    io::RegionCoords c = io::read_region_coords(o.coords_file);
    s.plan.regions = std::move(c.coords);
    coords_source = o.coords_file;
    if (s.plan.regions.empty()) s.warnings.push_back(fmt::format("{}: no regions in the coordinates file", o.coords_file));
    auto size = c.attributes.find("patch_size");
    auto level = c.attributes.find("patch_level");
    if (size != c.attributes.end() && (level == c.attributes.end() || level->second == "0") &&
        size->second != std::to_string(s.plan.region_size0))
      s.warnings.push_back(fmt::format("{}: made with patch_size {}; regions here are {} level-0 pixels",
                                       o.coords_file, size->second, s.plan.region_size0));
  }
  const auto& props = s.slide->properties();
  auto mpp = props.find("openslide.mpp-x");
  s.metadata = {
      {"slide", slide_path},
      {"mpp", mpp == props.end() ? "" : mpp->second},
      {"level", "0"},
      {"magnification", fmt::format("{}", s.plan.magnification)},
      {"target_magnification", fmt::format("{}", o.tiling.target_mag)},
      {"region_size", std::to_string(o.tiling.size)},
      {"region_size_level0", std::to_string(s.plan.region_size0)},
      {"tiling", tiling_json(o.tiling)},
      {"coords_source", coords_source},
      {"vit256", models.vit256_path},
      {"vit4k", models.vit4k_path},
      {"vit256_sha256", models.vit256_sha256},
      {"vit4k_sha256", models.vit4k_sha256},
      {"weights", models.weights},
      {"version", HIPT_VERSION},
      {"white_background", o.white_background ? "true" : "false"},
      {"device", models.device},
      {"precision", models.precision},
  };
  s.metadata["fingerprint"] = resume_fingerprint(slide_path, s.metadata, s.plan.regions);
  return s;
}

// coords [k, 2], patch_features [k, N, 384], region_features [k, 192] of the first k regions.
io::TensorMap features_map(const std::vector<io::Point>& regions, const std::vector<Tensor>& patch,
                           const std::vector<Tensor>& region, int64_t patches_per_region) {
  const int64_t k = static_cast<int64_t>(patch.size());
  Tensor coords = ops::empty({k, 2}, DType::I64);
  Tensor pf = ops::empty({k, patches_per_region, 384});
  Tensor rf = ops::empty({k, 192});
  for (int64_t i = 0; i < k; ++i) {
    coords.data<int64_t>()[2 * i] = regions[static_cast<size_t>(i)].x;
    coords.data<int64_t>()[2 * i + 1] = regions[static_cast<size_t>(i)].y;
    const Tensor p = ops::contiguous(patch[static_cast<size_t>(i)]), r = ops::contiguous(region[static_cast<size_t>(i)]);
    std::memcpy(pf.data<float>() + i * patches_per_region * 384, p.data<float>(), sizeof(float) * p.numel());
    std::memcpy(rf.data<float>() + i * 192, r.data<float>(), sizeof(float) * 192);
  }
  return {{"coords", coords}, {"patch_features", pf}, {"region_features", rf}};
}

// The regions a partial file holds, when its fingerprint and contents fit this run; 0 otherwise.
int64_t load_partial(const std::string& path, const SlideSetup& s, int64_t patches_per_region,
                     std::vector<Tensor>* patch, std::vector<Tensor>* region, std::vector<std::string>* warnings) {
  if (!fs::exists(path)) return 0;
  try {
    auto meta = io::read_safetensors_metadata(path);
    auto fp = meta.find("fingerprint");
    if (fp == meta.end() || fp->second != s.metadata.at("fingerprint")) {
      warnings->push_back(fmt::format("{}: made with other regions, weights or settings; starting over", path));
      return 0;
    }
    io::TensorMap t = io::read_safetensors(path);
    const Tensor &c = t.at("coords"), &pf = t.at("patch_features"), &rf = t.at("region_features");
    const int64_t k = c.size(0);
    HIPT_CHECK(c.shape() == Shape({k, 2}) && pf.shape() == Shape({k, patches_per_region, 384}) &&
                   rf.shape() == Shape({k, 192}) && k <= static_cast<int64_t>(s.plan.regions.size()),
               "shapes do not fit");
    std::vector<int64_t> xy = ops::to_vector<int64_t>(c);
    for (int64_t i = 0; i < k; ++i)
      HIPT_CHECK(xy[2 * i] == s.plan.regions[i].x && xy[2 * i + 1] == s.plan.regions[i].y, "coords differ");
    for (int64_t i = 0; i < k; ++i) {
      patch->push_back(ops::select(pf, 0, i));
      region->push_back(ops::select(rf, 0, i));
    }
    return k;
  } catch (const std::exception& e) {
    warnings->push_back(fmt::format("{}: unusable partial file ({}); starting over", path, e.what()));
    return 0;
  }
}

}  // namespace

EmbedTiming& EmbedTiming::operator+=(const EmbedTiming& o) {
  decode_wait += o.decode_wait, decode += o.decode, vit256 += o.vit256, vit4k += o.vit4k, write += o.write;
  return *this;
}

std::string file_sha256(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HIPT_CHECK(f.good(), "{}: cannot open the file to hash it", path);
  io::Sha256 h;
  std::vector<char> block(1 << 20);
  while (f) {
    f.read(block.data(), static_cast<std::streamsize>(block.size()));
    h.update(block.data(), static_cast<size_t>(f.gcount()));
  }
  HIPT_CHECK(f.eof(), "{}: read error while hashing", path);
  return h.hex_digest();
}

EmbedModels load_embed_models(const std::string& vit256_path, const std::string& vit4k_path, bool student,
                              const Device& device, const std::string& precision) {
  EmbedModels m;
  const DType dtype = precision == "bf16" ? DType::BF16 : DType::F32;
  m.vit256 = vit256_small(0, /*init=*/false, dtype);
  m.vit4k = vit4k_xs(0, /*init=*/false, dtype);
  load_backbone(*m.vit256, vit256_path, student);
  load_backbone(*m.vit4k, vit4k_path, student);
  m.vit256->to(device);
  m.vit4k->to(device);
  m.device = device.str();
  m.precision = precision;
  m.vit256_path = vit256_path, m.vit4k_path = vit4k_path;
  m.vit256_sha256 = file_sha256(vit256_path);
  m.vit4k_sha256 = file_sha256(vit4k_path);
  m.weights = student ? "student" : "teacher";
  return m;
}

void check_slide_embed_options(const SlideEmbedOptions& o) {
  HIPT_CHECK(o.tiling.size >= 256, "--size {}: HIPT regions are at least 256 pixels (one ViT-256 patch)", o.tiling.size);
  HIPT_CHECK(o.batch >= 1 && o.prefetch >= 1 && o.save_every >= 1,
             "--batch {}, --prefetch {}, --save-every {}: each must be at least 1", o.batch, o.prefetch, o.save_every);
}

std::string slide_stem(const std::string& path) { return fs::path(path).stem().string(); }

std::string partial_path_for(const std::string& out_path) { return out_path + ".partial"; }

bool read_finished_metadata(const std::string& path, std::map<std::string, std::string>* metadata) {
  if (!fs::exists(path)) return false;
  try {
    *metadata = io::read_safetensors_metadata(path);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

SlideEmbedResult embed_slide(const std::string& slide_path, const std::string& out_path, const EmbedModels& models,
                             const SlideEmbedOptions& o) {
  check_slide_embed_options(o);
  SlideEmbedResult result;
  SlideSetup s = set_up_slide(slide_path, models, o);
  result.warnings = s.warnings;
  const std::vector<io::Point>& regions = s.plan.regions;
  const int64_t m = static_cast<int64_t>(regions.size());
  const int64_t grid = o.tiling.size / 256, patches_per_region = grid * grid;
  const std::string partial = partial_path_for(out_path);

  std::vector<Tensor> patch, region;  // per region: [N, 384] and [192]
  const int64_t start = load_partial(partial, s, patches_per_region, &patch, &region, &result.warnings);
  result.regions_resumed = start;
  result.status = start > 0 ? "resumed" : "done";
  if (start > 0) fmt::print(stderr, "{}: resuming from {} ({}/{} regions done)\n", slide_path, partial, start, m);

  auto save = [&](const std::string& path, bool final_file) {
    auto t0 = Clock::now();
    auto meta = s.metadata;
    meta["regions"] = std::to_string(patch.size());
    if (!final_file) meta["regions_total"] = std::to_string(m);
    io::write_safetensors(path, features_map(regions, patch, region, patches_per_region), meta);
    result.timing.write += seconds_since(t0);
  };

  RegionQueue queue(static_cast<size_t>(o.prefetch));
  double decode_seconds = 0;  // written by the reader, read after the join
  std::thread reader([&] {
    try {
      for (int64_t i = start; i < m; ++i) {
        auto t0 = Clock::now();
        Tensor rgb;
        try {
          rgb = io::read_region_at_target_mag(*s.slide, regions[i].x, regions[i].y, s.plan.magnification,
                                              o.tiling.size, o.white_background, o.tiling.target_mag);
        } catch (const std::exception& e) {
          std::string what = e.what();
          if (what.rfind(slide_path + ": ", 0) == 0) what.erase(0, slide_path.size() + 2);
          throw Error(fmt::format("{}: region {} at ({}, {}): {}", slide_path, i, regions[i].x, regions[i].y, what));
        }
        decode_seconds += seconds_since(t0);
        if (!queue.push({static_cast<size_t>(i), std::move(rgb)})) return;
      }
      queue.finish();
    } catch (...) {
      queue.finish(std::current_exception());
    }
  });
  {
    ReaderGuard guard{queue, reader};
    RegionEncoderOptions eo;
    eo.batch = o.batch;
    eo.attention = AttentionMaps::None;
    RegionEncoder encoder(models.vit256, models.vit4k, eo);
    Progress progress(o.progress_label, m - start, "regions");
    int64_t since_save = 0;
    for (;;) {
      auto t0 = Clock::now();
      std::optional<DecodedRegion> r = queue.pop();
      result.timing.decode_wait += seconds_since(t0);
      if (!r) break;
      RegionEmbedding e = encoder.encode(r->rgb);
      result.timing.vit256 += e.seconds_vit256;
      result.timing.vit4k += e.seconds_vit4k;
      patch.push_back(e.patch_features);
      region.push_back(e.region_feature);
      const int64_t done = static_cast<int64_t>(patch.size());
      progress.update(done - start, start > 0 ? fmt::format("({} resumed)", start) : "");
      if (++since_save >= o.save_every && done < m) {
        save(partial, false);
        since_save = 0;
      }
    }
    progress.finish();
  }
  result.timing.decode = decode_seconds;
  result.regions = m;
  save(out_path, true);
  std::error_code ec;
  fs::remove(partial, ec);  // the final file holds everything the partial did
  return result;
}

}  // namespace hipt
