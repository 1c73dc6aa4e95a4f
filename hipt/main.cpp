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

  hipt::ConvertCheckpointOptions convert_opts;
  auto* convert = app.add_subcommand(
      "convert-checkpoint",
      "Write the backbone of a .pth checkpoint (DINO teacher by default; module./backbone. removed, head "
      "dropped) as .safetensors");
  convert->add_option("input", convert_opts.input, "Checkpoint (.pth, or .safetensors)")->required();
  convert->add_option("output", convert_opts.output, "Output .safetensors file")->required();
  convert->add_flag("--student", convert_opts.student, "Take the DINO student instead of the teacher");

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
    if (convert->parsed()) return hipt::run_convert_checkpoint(convert_opts);
    fmt::print("{}", app.help());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
