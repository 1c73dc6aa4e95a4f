// hipt info: a slide's levels, properties and associated images as one JSON object.
#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "hipt/cli/commands.h"
#include "io/slide.h"

namespace hipt {
namespace {

int run_slide_info(const std::string& path) {
  auto slide = io::Slide::open(path);
  nlohmann::json out;
  out["vendor"] = slide->vendor();
  out["level_count"] = slide->level_count();
  out["levels"] = nlohmann::json::array();
  for (int i = 0; i < slide->level_count(); ++i) {
    const io::SlideLevel& lv = slide->level(i);
    out["levels"].push_back({{"width", lv.width},
                             {"height", lv.height},
                             {"downsample", lv.downsample},
                             {"tile_width", lv.tile_width},
                             {"tile_height", lv.tile_height}});
  }
  out["properties"] = nlohmann::json::object();
  for (const auto& [k, v] : slide->properties()) out["properties"][k] = v;
  out["associated_images"] = slide->associated_image_names();
  // TIFF strings are not always UTF-8: invalid bytes become U+FFFD rather than failing the dump.
  fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("info", "Print a slide's levels, properties and associated images as one JSON object");
  cmd->add_option("slide", *path, "Slide file (Aperio .svs or tiled TIFF)")->required();
  return {cmd, [path] { return run_slide_info(*path); }};
}

}  // namespace hipt
