// hipt convert-checkpoint: a .pth (or .safetensors) checkpoint -> the stripped backbone state dict
// as .safetensors, so later runs read a flat file without the pickle machinery.
#include <fmt/core.h>

#include <filesystem>
#include <memory>

#include "hipt/cli/commands.h"
#include "hipt/models/checkpoint.h"

namespace hipt {
namespace {

struct ConvertCheckpointOptions {
  std::string input, output;
  bool student = false;
};

// Writes the backbone state dict of `input` (hipt/models/checkpoint.h rules) to `output` (.safetensors).
int run_convert_checkpoint(const ConvertCheckpointOptions& opts) {
  BackboneWeights w = read_backbone_weights(opts.input, opts.student);
  int64_t numel = 0;
  for (const auto& kv : w.tensors) numel += kv.second.numel();
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"source", std::filesystem::path(opts.input).filename().string()},
      {"source_part", w.part.empty() ? "(whole file)" : w.part},
      {"converted_by", std::string("hipt convert-checkpoint ") + HIPT_VERSION},
  };
  io::write_safetensors(opts.output, w.tensors, metadata);
  fmt::print("wrote {}: {} tensors, {} values, from {} of {}\n", opts.output, w.tensors.size(), numel,
             w.part.empty() ? "the whole file" : "'" + w.part + "'", opts.input);
  return 0;
}

}  // namespace

Command add_convert_checkpoint_command(CLI::App& app) {
  auto opts = std::make_shared<ConvertCheckpointOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert-checkpoint",
      "Write the backbone of a .pth checkpoint (DINO teacher by default; module./backbone. removed, head "
      "dropped) as .safetensors");
  cmd->add_option("input", opts->input, "Checkpoint (.pth, or .safetensors)")->required();
  cmd->add_option("output", opts->output, "Output .safetensors file")->required();
  cmd->add_flag("--student", opts->student, "Take the DINO student instead of the teacher");
  return {cmd, [opts] { return run_convert_checkpoint(*opts); }};
}

}  // namespace hipt
