// A trained slide-level model in one .safetensors file: the whole HIPT_LGP_FC state dict (the
// ViT-4K included, under its reference names) and, in the metadata, what is needed to use it:
//
//   format          "hipt-slide-model"
//   task            "subtype" or "survival"
//   classes         JSON array of the class names (subtype; index = output)
//   bin_edges       JSON array of the n_bins + 1 survival-time edges (survival)
//   n_outputs       decimal
//   finetune_vit4k  "true" or "false": with "false" the ViT-4K is the one whose file hash is
//   vit4k_sha256    (embed's region_features made with it are used as they are)
//   config          JSON object of the training options
//   version         hipt's version
#pragma once
#include <map>
#include <memory>
#include <string>

#include "hipt/models/slide_model.h"
#include "hipt/train/slide_data.h"

namespace hipt::train {

struct SlideModelInfo {
  SlideTask task = SlideTask::kSubtype;
  std::vector<std::string> classes;
  std::vector<double> bin_edges;
  int64_t n_outputs = 2;
  bool finetune_vit4k = false;
  std::string vit4k_sha256;
  std::string config_json = "{}";
};

// Atomic write (temporary file and rename).
void save_slide_model(const std::string& path, const HiptLgpFc& model, const SlideModelInfo& info);

struct LoadedSlideModel {
  std::unique_ptr<HiptLgpFc> model;  // in eval mode, on the CPU
  SlideModelInfo info;
};
// Errors name the file: not a slide model, a missing or malformed metadata field, other tensors.
LoadedSlideModel load_slide_model(const std::string& path);

// JSON arrays (numbers print to round-trip).
std::string json_numbers(const std::vector<double>& v);
std::string json_strings(const std::vector<std::string>& v);

}  // namespace hipt::train
