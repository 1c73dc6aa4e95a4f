#include "hipt/train/slide_model_file.h"

#include <fmt/format.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace hipt::train {
std::string json_numbers(const std::vector<double>& v) { return nlohmann::json(v).dump(); }

std::string json_strings(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

void save_slide_model(const std::string& path, const HiptLgpFc& model, const SlideModelInfo& info) {
  io::TensorMap tensors;
  for (const auto& [name, t] : model.state_dict()) tensors[name] = t.to(Device{});
  io::write_safetensors(path, tensors,
                        {{"format", "hipt-slide-model"},
                         {"task", task_name(info.task)},
                         {"classes", json_strings(info.classes)},
                         {"bin_edges", json_numbers(info.bin_edges)},
                         {"n_outputs", std::to_string(info.n_outputs)},
                         {"finetune_vit4k", info.finetune_vit4k ? "true" : "false"},
                         {"vit4k_sha256", info.vit4k_sha256},
                         {"config", info.config_json},
                         {"version", HIPT_VERSION}});
}

LoadedSlideModel load_slide_model(const std::string& path) {
  const auto meta = io::read_safetensors_metadata(path);
  auto get = [&](const char* key) -> const std::string& {
    const auto it = meta.find(key);
    HIPT_CHECK(it != meta.end(), "slide model {}: no '{}' in the metadata (not written by hipt train-slide?)", path,
               key);
    return it->second;
  };
  HIPT_CHECK(get("format") == "hipt-slide-model", "slide model {}: format '{}', expected hipt-slide-model", path,
             get("format"));
  LoadedSlideModel out;
  SlideModelInfo& info = out.info;
  info.task = parse_slide_task(get("task"));
  try {
    info.classes = nlohmann::json::parse(get("classes")).get<std::vector<std::string>>();
    info.bin_edges = nlohmann::json::parse(get("bin_edges")).get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    HIPT_CHECK(false, "slide model {}: metadata classes or bin_edges is not a JSON array ({})", path, e.what());
  }
  info.n_outputs = std::strtoll(get("n_outputs").c_str(), nullptr, 10);
  HIPT_CHECK(info.n_outputs >= 1 && info.n_outputs <= 1000, "slide model {}: n_outputs '{}' is not a class count", path,
             get("n_outputs"));
  info.finetune_vit4k = get("finetune_vit4k") == "true";
  info.vit4k_sha256 = get("vit4k_sha256");
  info.config_json = get("config");
  SlideModelConfig c;
  c.n_classes = info.n_outputs;
  c.init_local_vit = false;
  out.model = std::make_unique<HiptLgpFc>(c);
  out.model->load_state_dict(io::read_safetensors(path), "slide model " + path);
  out.model->eval();
  return out;
}

}  // namespace hipt::train
