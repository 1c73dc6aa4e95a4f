// hipt embed: a list of whole slides -> one .safetensors of HIPT-4K features per slide
// (hipt/pipeline/embed_pipeline.h), split over --shard and MPI ranks, with one JSON summary on stdout.
// Everything that can be checked for the whole list (names, checkpoints, device, --coords) is
// checked before the first slide; after that a bad slide is reported and the others go on.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "hipt/cli/commands.h"
#include "hipt/pipeline/embed_pipeline.h"
#include "hipt/pipeline/shard.h"
#include "tensor/parallel.h"

namespace hipt {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Two slides with the same stem would write the same output file.
void check_unique_stems(const std::vector<std::string>& slides) {
  std::map<std::string, std::string> seen;
  for (const std::string& s : slides) {
    auto [it, fresh] = seen.emplace(slide_stem(s), s);
    HIPT_CHECK(fresh, "{} and {} would both write {}.safetensors; rename one", it->second, s, it->first);
  }
}

// The coordinates file of each slide ("" for none): --coords FILE for a single slide, or
// --coords DIR holding <stem>.h5 (CLAM's patches/) or <stem>.csv (`hipt tiles`).
std::vector<std::string> coords_files(const std::string& coords, const std::vector<std::string>& slides) {
  std::vector<std::string> out(slides.size());
  if (coords.empty()) return out;
  HIPT_CHECK(fs::exists(coords), "--coords {}: no such file or folder", coords);
  if (!fs::is_directory(coords)) {
    HIPT_CHECK(slides.size() == 1, "--coords {}: a file serves one slide; give a folder of <slide>.h5/.csv for {}",
               coords, slides.size());
    out[0] = coords;
    return out;
  }
  for (size_t i = 0; i < slides.size(); ++i) {
    const std::string stem = slide_stem(slides[i]);
    for (const char* ext : {".h5", ".csv"}) {
      const fs::path p = fs::path(coords) / (stem + ext);
      if (fs::exists(p)) {
        out[i] = p.string();
        break;
      }
    }
    // A missing file fails that slide only, as an unreadable slide does.
    if (out[i].empty()) out[i] = (fs::path(coords) / (stem + ".h5")).string();
  }
  return out;
}

std::string output_path(const std::string& out_dir, const std::string& slide) {
  return (fs::path(out_dir) / (slide_stem(slide) + ".safetensors")).string();
}

std::string message_for(const std::string& slide, const std::string& what) {
  return what.rfind(slide + ":", 0) == 0 ? what : slide + ": " + what;
}

nlohmann::json timing_json(const EmbedTiming& t) {
  return {{"decode_wait", t.decode_wait}, {"decode", t.decode}, {"vit256", t.vit256}, {"vit4k", t.vit4k},
          {"write", t.write}};
}

// The ranks' summaries as one: slides in list order, counts and times summed, seconds the longest.
nlohmann::json merge_summaries(const std::vector<std::string>& parts) {
  nlohmann::json merged = nlohmann::json::parse(parts.at(0));
  for (size_t r = 1; r < parts.size(); ++r) {
    nlohmann::json p = nlohmann::json::parse(parts[r]);
    for (auto& s : p["slides"]) merged["slides"].push_back(s);
    for (const char* k : {"done", "skipped", "failed", "regions"}) merged[k] = merged[k].get<int64_t>() + p[k].get<int64_t>();
    for (auto& [k, v] : p["timing"].items()) merged["timing"][k] = merged["timing"][k].get<double>() + v.get<double>();
    merged["seconds"] = std::max(merged["seconds"].get<double>(), p["seconds"].get<double>());
  }
  std::stable_sort(merged["slides"].begin(), merged["slides"].end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) { return a["index"] < b["index"]; });
  for (auto& s : merged["slides"]) s.erase("index");
  const double seconds = merged["seconds"].get<double>();
  merged["regions_per_second"] = seconds > 0 ? merged["regions"].get<double>() / seconds : 0.0;
  return merged;
}

}  // namespace

int run_embed(const EmbedOptions& opts) {
  const auto start = Clock::now();
  HIPT_CHECK(!opts.slides.empty(), "no slides given");
  const ComputeTarget target = check_compute_flags(opts.model);
  if (opts.model.threads > 0) set_num_threads(opts.model.threads);
  check_unique_stems(opts.slides);
  SlideEmbedOptions so;
  so.tiling = opts.tiling;
  so.batch = opts.model.batch, so.prefetch = opts.prefetch, so.save_every = opts.save_every;
  so.white_background = opts.white_background;
  check_slide_embed_options(so);
  const std::vector<std::string> coords = coords_files(opts.coords, opts.slides);
  ProcessGroup& world = ProcessGroup::world();
  const ShardSpec shard = effective_shard(parse_shard(opts.shard.empty() ? "0/1" : opts.shard), world);
  const std::vector<size_t> mine = shard_indices(opts.slides.size(), shard);
  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  HIPT_CHECK(fs::is_directory(opts.out_dir), "--out {}: cannot create the folder{}", opts.out_dir,
             ec ? " (" + ec.message() + ")" : "");
  // Finished slides are skipped without the checkpoints; any other slide needs them, so they are
  // loaded (and a bad one fails the run) before the first slide.
  std::vector<std::map<std::string, std::string>> finished(mine.size());
  std::vector<bool> skip(mine.size(), false);
  for (size_t k = 0; k < mine.size(); ++k)
    skip[k] = !opts.overwrite && read_finished_metadata(output_path(opts.out_dir, opts.slides[mine[k]]), &finished[k]);
  EmbedModels models;
  std::string load_error;
  try {
    if (std::count(skip.begin(), skip.end(), false) > 0)
      models = load_embed_models(opts.model.vit256, opts.model.vit4k, opts.model.student, target.device,
                                 target.precision);
  } catch (const std::exception& e) {
    load_error = e.what();
  }
  // Every rank must reach the same collectives (gather, max): a rank that cannot load the
  // checkpoints stops all of them here rather than leaving the others waiting.
  const bool any_load_failed = world.max(load_error.empty() ? 0 : 1) != 0;
  HIPT_CHECK(load_error.empty(), "{}", load_error);
  HIPT_CHECK(!any_load_failed, "another process could not load the checkpoints (its error says why)");

  nlohmann::json slides = nlohmann::json::array();
  EmbedTiming timing;
  int64_t done = 0, skipped = 0, failed = 0, regions = 0;
  for (size_t k = 0; k < mine.size(); ++k) {
    const size_t i = mine[k];
    const std::string& slide = opts.slides[i];
    const std::string out = output_path(opts.out_dir, slide);
    nlohmann::json entry = {{"index", i}, {"slide", slide}, {"out", out}, {"warnings", nlohmann::json::array()}};
    const auto t0 = Clock::now();
    if (skip[k]) {
      auto regions_it = finished[k].find("regions");
      entry["status"] = "skipped";
      entry["regions"] = regions_it != finished[k].end() ? std::strtoll(regions_it->second.c_str(), nullptr, 10) : 0;
      ++skipped;
      fmt::print(stderr, "slide {}/{} {}: {} exists, skipped (--overwrite redoes it)\n", k + 1, mine.size(), slide, out);
    } else {
      try {
        so.coords_file = coords[i];
        so.progress_label = fmt::format("slide {}/{} {}", k + 1, mine.size(), fs::path(slide).filename().string());
        SlideEmbedResult r = embed_slide(slide, out, models, so);
        entry["status"] = r.status;
        entry["regions"] = r.regions;
        if (r.regions_resumed > 0) entry["regions_resumed"] = r.regions_resumed;
        entry["warnings"] = r.warnings;
        for (const std::string& w : r.warnings) fmt::print(stderr, "warning: {}: {}\n", slide, w);
        timing += r.timing;
        regions += r.regions - r.regions_resumed;
        ++done;
      } catch (const std::exception& e) {
        const std::string what = message_for(slide, e.what());
        fmt::print(stderr, "error: {}\n", what);
        entry["status"] = "failed";
        entry["regions"] = 0;
        entry["error"] = what;
        ++failed;
      }
    }
    entry["seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
    slides.push_back(entry);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  nlohmann::json summary = {{"slides", slides},
                            {"done", done},
                            {"skipped", skipped},
                            {"failed", failed},
                            {"regions", regions},
                            {"seconds", seconds},
                            {"timing", timing_json(timing)},
                            {"shard", opts.shard.empty() ? "0/1" : opts.shard},
                            {"processes", world.size()},
                            {"out_dir", opts.out_dir}};
  // Paths are bytes, not always UTF-8: invalid bytes become U+FFFD rather than an error.
  const auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
  std::vector<std::string> all = world.gather(dump(summary));
  if (world.rank() == 0) fmt::print("{}\n", dump(merge_summaries(all)));
  return world.max(failed > 0 ? 1 : 0);
}

Command add_embed_command(CLI::App& app) {
  auto opts = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand(
      "embed", "Whole slides -> tissue -> regions -> HIPT-4K features, DIR/<slide>.safetensors per slide, JSON summary");
  cmd->add_option("slides", opts->slides, "Slide files (Aperio .svs or tiled TIFF)")->required();
  add_model_flags(cmd, opts->model);
  cmd->add_option("--out", opts->out_dir, "Output folder (created if needed)")->required();
  cmd->add_flag("--overwrite", opts->overwrite, "Redo slides whose output exists");
  cmd->add_option("--coords", opts->coords,
                  "Region corners instead of segmentation: a CSV x,y or CLAM .h5 (one slide), or a folder of "
                  "<slide>.h5/.csv");
  cmd->add_option("--shard", opts->shard, "i/N: take slides i, i+N, ... of the list (job arrays)");
  add_bounded_option<int64_t>(cmd, "--prefetch", opts->prefetch, "Regions decoded ahead of the encoder", 1);
  cmd->add_flag("--white-background", opts->white_background,
                "Pixels past the slide edge white (default black, as CLAM)");
  add_bounded_option<int64_t>(cmd, "--save-every", opts->save_every,
                              "Regions between saves of the resumable DIR/<slide>.safetensors.partial", 1);
  add_tiling_flags(cmd, opts->tiling);
  return {cmd, [opts] { return run_embed(*opts); }};
}

}  // namespace hipt
