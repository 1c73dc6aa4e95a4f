// The hipt command line. Every failure ends as one stderr line "error: ..." and exit code 1;
// a bad flag exits with 2.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>

#include "hipt/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"hipt: HIPT (CVPR 2022) on a from-scratch C++ tensor engine"};
  app.set_version_flag("--version", std::string("hipt ") + HIPT_VERSION);
  app.require_subcommand(0, 1);

  auto* doctor = app.add_subcommand("doctor", "Print the build and the hardware hipt sees: build type, SIMD, threads, CUDA");

  hipt::DemoOptions demo_opts;
  auto* demo = app.add_subcommand("demo", "Run the built-in demo (for now: train a small MLP on two spirals)");
  demo->add_option("--steps", demo_opts.steps, "Training steps")->check(CLI::PositiveNumber);
  demo->add_option("--seed", demo_opts.seed, "Random seed");

  std::string info_path;
  auto* info = app.add_subcommand("info", "Print a slide's levels, properties and associated images as one JSON object");
  info->add_option("slide", info_path, "Slide file (Aperio .svs or tiled TIFF)")->required();

  hipt::ReadRegionOptions region_opts;
  auto* region = app.add_subcommand("read-region", "Write a region of a slide as an RGBA PNG (x, y in level-0 pixels)");
  region->add_option("slide", region_opts.slide, "Slide file (Aperio .svs or tiled TIFF)")->required();
  region->add_option("--level", region_opts.level, "Pyramid level")->required();
  region->add_option("--x", region_opts.x, "Left edge, level-0 pixels")->required();
  region->add_option("--y", region_opts.y, "Top edge, level-0 pixels")->required();
  region->add_option("--width", region_opts.width, "Width, level pixels")->required();
  region->add_option("--height", region_opts.height, "Height, level pixels")->required();
  region->add_option("--out", region_opts.out, "Output PNG")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "error: {} (see hipt --help)\n", e.what());
    return 2;
  }

  try {
    if (doctor->parsed()) return hipt::run_doctor();
    if (demo->parsed()) return hipt::run_demo(demo_opts);
    if (info->parsed()) return hipt::run_slide_info(info_path);
    if (region->parsed()) return hipt::run_read_region(region_opts);
    fmt::print("{}", app.help());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
