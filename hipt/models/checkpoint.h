// Backbone weights from a checkpoint file, with the key rules of HIPT's loaders
// (hipt_model_utils.get_vit256 / get_vit4k) made strict:
//   1. pick the part of the file: 'teacher' (default) or 'student' (on request) when present,
//      else 'state_dict', else 'model', else the whole file;
//   2. drop every dotted name component `module` (DataParallel) and `backbone` (DINO's wrapper),
//      wherever it sits (the reference removes the substrings "module." and "backbone.");
//   3. ignore names starting with `head.` or `dino_head.` (DINO's projection head);
//   4. match the module's parameters exactly: missing, unexpected and mis-shaped names are one
//      error that lists them all (the reference loads with strict=False and silently keeps random
//      weights for anything that does not match, or for a path that does not exist).
// `.safetensors` files are read as flat maps (part 1 then works on the name's first component);
// any other file as a torch.save `.pth`, of which only the picked part's storages are read.
#pragma once
#include <string>

#include "io/safetensors.h"
#include "nn/module.h"

namespace hipt {

struct BackboneWeights {
  io::TensorMap tensors;  // names after the rules above (no module match yet)
  std::string part;       // "teacher", "student", "state_dict", "model", or "" for the whole file
};

// Rules 1-3. Throws hipt::Error naming the file when it cannot be read, when `student` is asked
// for and the file has none, or when the picked part holds no tensor.
BackboneWeights read_backbone_weights(const std::string& path, bool student = false);

// Rules 1-4: reads the file and copies the weights into `module` (converted to each parameter's
// dtype, so f16 checkpoints load into f32 models).
void load_backbone(nn::Module& module, const std::string& path, bool student = false);

}  // namespace hipt
