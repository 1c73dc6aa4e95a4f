// The hipt command line. Every failure ends as one stderr line "error: ..." and exit code 1;
// a bad flag exits with 2.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <vector>

#include "cuda/runtime.h"
#include "hipt/cli/commands.h"

int main(int argc, char** argv) {
  hipt::cuda::register_backend();
  CLI::App app{"hipt: HIPT (CVPR 2022) on a from-scratch C++ tensor engine"};
  app.set_version_flag("--version", std::string("hipt ") + HIPT_VERSION);
  app.require_subcommand(0, 1);

  const std::vector<hipt::Command> commands = {
      hipt::add_doctor_command(app),         hipt::add_demo_command(app),
      hipt::add_info_command(app),           hipt::add_read_region_command(app),
      hipt::add_tiles_command(app),          hipt::add_convert_checkpoint_command(app),
      hipt::add_embed_region_command(app),   hipt::add_embed_command(app),
      hipt::add_heatmap_command(app),        hipt::add_bench_attention_command(app),
      hipt::add_train_slide_command(app),    hipt::add_predict_slide_command(app),
      hipt::add_slide_heatmap_command(app),  hipt::add_pretrain_command(app),
  };

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
    for (const hipt::Command& c : commands)
      if (c.subcommand->parsed()) return c.run();
    fmt::print("{}", app.help());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
