#include "hipt/train/checkpoint.h"

#include <cerrno>
#include <cstdlib>

#include "io/safetensors.h"

namespace hipt::train {
namespace {

const char* const kFormat = "hipt-training-state";
const char* const kModel = "model.";
const char* const kOptimizer = "optimizer.";

bool starts_with(const std::string& s, const std::string& head) { return s.compare(0, head.size(), head) == 0; }

uint64_t read_u64(const std::string& path, const std::map<std::string, std::string>& md, const std::string& key) {
  auto it = md.find(key);
  HIPT_CHECK(it != md.end(), "{}: training state: no metadata '{}'", path, key);
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  HIPT_CHECK(!s.empty() && s[0] != '-' && *end == '\0' && errno != ERANGE,
             "{}: training state: metadata '{}' is '{}', not a count", path, key, s);
  return v;
}

}  // namespace

void save_training_state(const std::string& path, const nn::Module& model, const nn::Optimizer& optimizer,
                         const Generator& generator, const Progress& progress,
                         const std::map<std::string, std::string>& run) {
  HIPT_CHECK(progress.step >= 0 && progress.epoch >= 0, "{}: training state: step {} and epoch {} must be >= 0",
             path, progress.step, progress.epoch);
  io::TensorMap tensors;
  for (const auto& [name, t] : model.state_dict()) tensors[kModel + name] = t;
  const nn::OptimizerState opt = optimizer.state();
  for (const auto& [name, t] : opt.tensors) tensors[kOptimizer + name] = t;
  std::map<std::string, std::string> md;
  for (const auto& [key, value] : opt.metadata) md[kOptimizer + key] = value;
  for (const auto& [key, value] : run) md["run." + key] = value;
  md["format"] = kFormat;
  md["version"] = "1";
  md["step"] = std::to_string(progress.step);
  md["epoch"] = std::to_string(progress.epoch);
  md["generator.seed"] = std::to_string(generator.state().seed);
  md["generator.offset"] = std::to_string(generator.state().offset);
  io::write_safetensors(path, tensors, md);
}

Progress load_training_state(const std::string& path, nn::Module& model, nn::Optimizer& optimizer,
                             Generator& generator) {
  const std::map<std::string, std::string> md = io::read_safetensors_metadata(path);
  auto format = md.find("format");
  HIPT_CHECK(format != md.end() && format->second == kFormat,
             "{}: not a training state (metadata 'format' is not '{}')", path, kFormat);
  HIPT_CHECK(md.count("version") && md.at("version") == "1", "{}: training state version '{}', this build reads 1",
             path, md.count("version") ? md.at("version") : "");
  Progress progress;
  progress.step = static_cast<int64_t>(read_u64(path, md, "step"));
  progress.epoch = static_cast<int64_t>(read_u64(path, md, "epoch"));
  const Generator::State gen{read_u64(path, md, "generator.seed"), read_u64(path, md, "generator.offset")};

  nn::TensorMap weights;
  nn::OptimizerState opt;
  for (auto& [name, t] : io::read_safetensors(path)) {
    if (starts_with(name, kModel))
      weights[name.substr(std::string(kModel).size())] = t;
    else if (starts_with(name, kOptimizer))
      opt.tensors[name.substr(std::string(kOptimizer).size())] = t;
    else
      throw Error(fmt::format("{}: training state: tensor '{}' is neither model. nor optimizer.", path, name));
  }
  for (const auto& [key, value] : md)
    if (starts_with(key, kOptimizer)) opt.metadata[key.substr(std::string(kOptimizer).size())] = value;

  // Both loads check everything before changing anything; the model is checked first so that a
  // model that does not match leaves the optimizer untouched too.
  bool model_matches = true;
  const nn::TensorMap current = model.state_dict();
  if (current.size() != weights.size()) model_matches = false;
  for (const auto& [name, t] : current) {
    auto it = weights.find(name);
    if (it == weights.end() || it->second.shape() != t.shape()) model_matches = false;
  }
  if (!model_matches) model.load_state_dict(weights, path);  // throws, naming what differs
  optimizer.load_state(opt, path);
  model.load_state_dict(weights, path);
  generator.set_state(gen);
  return progress;
}

}  // namespace hipt::train
