// hipt tiles: CLAM-style tissue segmentation of one slide and the grid of regions HIPT reads
// (io/tissue.h); writes the corners as CSV, optionally the mask and an annotated thumbnail, and
// prints one JSON summary line.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>

#include "hipt/cli/commands.h"
#include "hipt/pipeline/tiling.h"
#include "io/coords.h"
#include "io/png.h"
#include "io/slide.h"
#include "io/tissue.h"
#include "tensor/ops.h"

namespace hipt {
namespace {

// The segmentation level in RGB with tissue contours (green), kept holes (blue) and the regions'
// outlines (red) drawn one pixel wide.
Tensor draw_thumbnail(const Tensor& rgba, const io::Segmentation& seg, const std::vector<io::Point>& regions,
                      int64_t region_size) {
  Tensor rgb = ops::clone(io::rgba_to_rgb(rgba, true));
  const int64_t h = rgb.size(0), w = rgb.size(1);
  uint8_t* p = rgb.data<uint8_t>();
  auto put = [&](int64_t x, int64_t y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* q = p + (y * w + x) * 3;
    q[0] = r, q[1] = g, q[2] = b;
  };
  for (const io::TissueRegion& r : seg.regions) {
    for (const io::Point& q : r.outer_seg) put(q.x, q.y, 0, 160, 0);
    for (const io::Polygon& hole : r.holes_seg)
      for (const io::Point& q : hole) put(q.x, q.y, 0, 0, 255);
  }
  for (const io::Point& c : regions) {
    const int64_t x0 = static_cast<int64_t>(c.x / seg.downsample_x), y0 = static_cast<int64_t>(c.y / seg.downsample_y);
    const int64_t x1 = static_cast<int64_t>((c.x + region_size) / seg.downsample_x) - 1;
    const int64_t y1 = static_cast<int64_t>((c.y + region_size) / seg.downsample_y) - 1;
    for (int64_t x = x0; x <= x1; ++x) put(x, y0, 220, 0, 0), put(x, y1, 220, 0, 0);
    for (int64_t y = y0; y <= y1; ++y) put(x0, y, 220, 0, 0), put(x1, y, 220, 0, 0);
  }
  return rgb;
}

}  // namespace

int run_tiles(const TilesOptions& o) {
  std::unique_ptr<io::Slide> slide = io::Slide::open(o.slide);
  const RegionPlan plan = plan_regions(*slide, o.slide, o.tiling);
  const io::Segmentation& seg = plan.segmentation;
  const std::vector<io::Point>& regions = plan.regions;
  const double mag = plan.magnification;
  const int64_t region0 = plan.region_size0, step0 = plan.step0;

  io::write_region_coords_csv(o.out_csv, regions);
  if (!o.mask_png.empty()) io::write_png(o.mask_png, ops::unsqueeze(seg.mask, 2));
  if (!o.thumbnail_png.empty()) io::write_png(o.thumbnail_png, draw_thumbnail(plan.level_image, seg, regions, region0));

  std::vector<uint8_t> mask = ops::to_vector<uint8_t>(seg.mask);
  const double tissue = static_cast<double>(std::count_if(mask.begin(), mask.end(), [](uint8_t v) { return v != 0; })) /
                        static_cast<double>(std::max<size_t>(mask.size(), 1));
  nlohmann::json summary = {{"slide", o.slide},
                            {"magnification", mag},
                            {"target_magnification", o.tiling.target_mag},
                            {"region_size_level0", region0},
                            {"step_level0", step0},
                            {"seg_level", seg.level},
                            {"seg_downsample", {seg.downsample_x, seg.downsample_y}},
                            {"tissue_fraction", tissue},
                            {"contours", seg.regions.size()},
                            {"regions", regions.size()},
                            {"csv", o.out_csv}};
  if (o.tiling.otsu) summary["otsu_threshold"] = seg.otsu_level;
  // Paths are bytes, not always UTF-8: invalid bytes become U+FFFD rather than an error after the outputs exist.
  fmt::print("{}\n", summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

Command add_tiles_command(CLI::App& app) {
  auto opts = std::make_shared<TilesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tiles", "Segment tissue (CLAM's method) and list the level-0 corners of the regions to read, as CSV");
  cmd->add_option("slide", opts->slide, "Slide file (Aperio .svs or tiled TIFF)")->required();
  cmd->add_option("--out", opts->out_csv, "CSV of region corners: header x,y, level-0 pixels")->required();
  cmd->add_option("--mask", opts->mask_png, "Write the tissue mask (segmentation level) as PNG");
  cmd->add_option("--thumbnail", opts->thumbnail_png,
                  "Write the segmentation level with contours and regions drawn, as PNG");
  add_tiling_flags(cmd, opts->tiling);
  return {cmd, [opts] { return run_tiles(*opts); }};
}

}  // namespace hipt
