// hipt slide-heatmap: the region attention of a slide model over the slide's thumbnail
// (hipt/pipeline/slide_heatmap.h), with the ranked scores as CSV and one JSON summary on stdout.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "hipt/cli/commands.h"
#include "hipt/pipeline/slide_heatmap.h"
#include "hipt/train/slide_model_file.h"
#include "hipt/train/slide_trainer.h"
#include "io/atomic_file.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "tensor/parallel.h"

namespace hipt {
namespace fs = std::filesystem;

namespace {}  // namespace

int run_slide_heatmap(const SlideHeatmapOptions& f) {
  const Device device = check_device_flag(f.device);
  if (f.threads > 0) set_num_threads(f.threads);
  const heatmap::Colormap cmap = heatmap::colormap_by_name(f.cmap);
  const auto meta = io::read_safetensors_metadata(f.features);
  const auto named = meta.find("slide");
  HIPT_CHECK(named == meta.end() || fs::path(named->second).filename() == fs::path(f.slide).filename(),
             "--features {} holds the features of slide {}, not of {}", f.features, named->second, f.slide);
  const auto r0 = meta.find("region_size_level0");
  HIPT_CHECK(r0 != meta.end(), "--features {}: no region_size_level0 in the metadata (not written by hipt embed?)",
             f.features);
  const int64_t region0 = std::stoll(r0->second);
  train::LoadedSlideModel loaded = train::load_slide_model(f.model);
  loaded.model->to(device);
  train::Bag bag = train::load_slide_bag(f.features, loaded.info.vit4k_sha256);
  HIPT_CHECK(bag.size() > 0, "--features {}: the slide has no regions", f.features);
  if (!loaded.info.finetune_vit4k && !bag.features_match)
    fmt::print(stderr, "warning: {} was made with another ViT-4K than the model's; region features are recomputed\n",
               f.features);
  train::BagPrediction p = train::predict_bag(*loaded.model, bag, loaded.info.task, loaded.info.finetune_vit4k);

  std::unique_ptr<io::Slide> slide = io::Slide::open(f.slide);
  const Thumbnail thumb = slide_thumbnail(*slide, f.downsample);
  const std::vector<int64_t> xy = ops::to_vector<int64_t>(bag.coords);
  const Tensor image = draw_slide_heatmap(thumb, xy, region0, p.attention, cmap, f.alpha);
  const std::string stem = fs::path(f.slide).stem().string();
  const fs::path out(f.out);
  fs::create_directories(out);
  const std::string heat_png = (out / (stem + "_slide_heatmap.png")).string();
  const std::string thumb_png = (out / (stem + "_thumbnail.png")).string();
  const std::string csv_path = (out / (stem + "_attention.csv")).string();
  io::write_png(heat_png, image);
  io::write_png(thumb_png, thumb.rgb);
  const std::vector<double> ranks = heatmap::percentile_ranks(p.attention);
  std::string csv = "x,y,attention,rank\n";
  for (size_t i = 0; i < p.attention.size(); ++i)
    csv += fmt::format("{},{},{},{}\n", xy[2 * i], xy[2 * i + 1], p.attention[i], ranks[i]);
  write_file_atomic(csv_path, csv);
  nlohmann::json summary = {{"slide", f.slide},
                            {"regions", p.attention.size()},
                            {"task", train::task_name(loaded.info.task)},
                            {"downsample", {thumb.downsample_x, thumb.downsample_y}},
                            {"image_size", {image.size(1), image.size(0)}},
                            {"files", {{"heatmap", heat_png}, {"thumbnail", thumb_png}, {"attention", csv_path}}}};
  if (loaded.info.task == train::SlideTask::kSubtype) {
    summary["probabilities"] = p.probs;
    summary["predicted"] = loaded.info.classes.at(static_cast<size_t>(p.y_hat));
  } else {
    summary["risk"] = p.risk;
  }
  fmt::print("{}\n", summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

Command add_slide_heatmap_command(CLI::App& app) {
  auto f = std::make_shared<SlideHeatmapOptions>();
  CLI::App* cmd =
      app.add_subcommand("slide-heatmap", "A slide model's attention over the slide's regions, drawn on its thumbnail");
  cmd->add_option("slide", f->slide, "The slide file the features were made from")->required();
  cmd->add_option("--model", f->model, "A train-slide model (fold_<k>/model.safetensors)")->required();
  cmd->add_option("--features", f->features, "The slide's hipt embed output (.safetensors)")->required();
  cmd->add_option("--out", f->out, "Output folder")->required();
  add_checked_number<double>(cmd, "--downsample", f->downsample, "Level-0 pixels per thumbnail pixel", ">= 1",
                             [](double v) -> std::string { return v >= 1 ? "" : "must be at least 1"; });
  add_bounded_option<double>(cmd, "--alpha", f->alpha, "Weight of the heatmap in the blend", 0.0, 1.0);
  cmd->add_option("--cmap", f->cmap, "Colormap (jet, lightened as the reference)")->capture_default_str();
  cmd->add_option("--device", f->device, "cpu, cuda or cuda:N")->capture_default_str();
  add_bounded_option<int>(cmd, "--threads", f->threads, "Compute threads (default: HIPT_NUM_THREADS or all)", 0,
                          kMaxThreads);
  return {cmd, [f] { return run_slide_heatmap(*f); }};
}

}  // namespace hipt
