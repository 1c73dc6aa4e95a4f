// The state a training run resumes from, in one .safetensors file: the model's state dict, the
// optimizer's state, the generator's position and the step and epoch reached.
//
//   tensors   "model.<key>"       the model's state_dict() ("model.blocks.0.attn.qkv.weight")
//             "optimizer.<key>"   nn::Optimizer::state().tensors ("optimizer.state.0.exp_avg")
//   metadata  "format"            "hipt-training-state"
//             "version"           "1"
//             "step", "epoch"     the progress, decimal
//             "generator.seed", "generator.offset"   Generator::state(), decimal
//             "optimizer.<key>"   nn::Optimizer::state().metadata ("optimizer.optimizer" = "AdamW",
//                                 "optimizer.group.0.lr", "optimizer.state.0.step", ...)
//             "run.<key>"         what the caller passes as `run` (the run's configuration), read
//                                 back with io::read_safetensors_metadata
//
// Tensors keep their dtype, so a run resumed from the file continues bit for bit as if it had
// not stopped.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "nn/module.h"
#include "nn/optim.h"
#include "tensor/random.h"

namespace hipt::train {

struct Progress {
  int64_t step = 0;   // optimizer steps taken
  int64_t epoch = 0;  // epochs completed
};

// Writes the file atomically (a temporary file renamed over `path`), so an interrupted save
// leaves the previous state in place. Tensors must be on the CPU.
void save_training_state(const std::string& path, const nn::Module& model, const nn::Optimizer& optimizer,
                         const Generator& generator, const Progress& progress,
                         const std::map<std::string, std::string>& run = {});

// Restores model, optimizer and generator from a file written by save_training_state and returns
// the progress. The model and the optimizer must be built as the saved ones were (same parameter
// names and shapes, same optimizer kind and groups); otherwise one hipt::Error starting with
// `path` names what differs, and neither is changed.
Progress load_training_state(const std::string& path, nn::Module& model, nn::Optimizer& optimizer,
                             Generator& generator);

}  // namespace hipt::train
