// hipt read-region: a region of a slide as an RGBA PNG.
#include <memory>

#include "hipt/cli/commands.h"
#include "io/png.h"
#include "io/slide.h"

namespace hipt {
namespace {

struct ReadRegionOptions {
  std::string slide, out;
  int level = 0;
  int64_t x = 0, y = 0, width = 0, height = 0;
};

// An RGBA PNG of the region, written atomically.
int run_read_region(const ReadRegionOptions& opts) {
  auto slide = io::Slide::open(opts.slide);
  io::write_png(opts.out, slide->read_region(opts.x, opts.y, opts.level, opts.width, opts.height));
  return 0;
}

}  // namespace

Command add_read_region_command(CLI::App& app) {
  auto opts = std::make_shared<ReadRegionOptions>();
  CLI::App* cmd =
      app.add_subcommand("read-region", "Write a region of a slide as an RGBA PNG (x, y in level-0 pixels)");
  cmd->add_option("slide", opts->slide, "Slide file (Aperio .svs or tiled TIFF)")->required();
  cmd->add_option("--level", opts->level, "Pyramid level")->required();
  cmd->add_option("--x", opts->x, "Left edge, level-0 pixels")->required();
  cmd->add_option("--y", opts->y, "Top edge, level-0 pixels")->required();
  cmd->add_option("--width", opts->width, "Width, level pixels")->required();
  cmd->add_option("--height", opts->height, "Height, level pixels")->required();
  cmd->add_option("--out", opts->out, "Output PNG")->required();
  return {cmd, [opts] { return run_read_region(*opts); }};
}

}  // namespace hipt
