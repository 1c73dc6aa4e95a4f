#include "hipt/models/checkpoint.h"

#include <sstream>

#include "io/pth.h"

namespace hipt {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Rule 2 and 3 on one name; false when the name is to be ignored.
bool backbone_name(const std::string& name, std::string* out) {
  std::vector<std::string> kept;
  std::stringstream ss(name);
  for (std::string part; std::getline(ss, part, '.');)
    if (part != "module" && part != "backbone") kept.push_back(part);
  if (kept.empty() || kept[0] == "head" || kept[0] == "dino_head") return false;
  out->clear();
  for (const auto& k : kept) *out += (out->empty() ? "" : ".") + k;
  return true;
}

// The candidates of rule 1, in order of preference.
std::vector<std::string> parts_to_try(bool student) {
  if (student) return {"student"};
  return {"teacher", "state_dict", "model"};
}

}  // namespace

BackboneWeights read_backbone_weights(const std::string& path, bool student) {
  BackboneWeights out;
  io::TensorMap picked;
  if (ends_with(path, ".safetensors")) {
    io::TensorMap all = io::read_safetensors(path);
    for (const std::string& part : parts_to_try(student)) {
      const std::string prefix = part + ".";
      for (const auto& [name, t] : all)
        if (name.compare(0, prefix.size(), prefix) == 0) picked.emplace(name.substr(prefix.size()), t);
      if (!picked.empty()) {
        out.part = part;
        break;
      }
    }
    if (picked.empty() && !student) picked = std::move(all);
  } else {
    io::PthFile file(path);
    const io::PickleValue& root = file.root();
    HIPT_CHECK(root.is_dict(), "{}: the file holds a {}, not a dict of tensors", path, root.kind_name());
    const io::PickleValue* chosen = nullptr;
    for (const std::string& part : parts_to_try(student)) {
      if (const io::PickleValue* v = root.get(part)) {
        HIPT_CHECK(v->is_dict(), "{}: '{}' is a {}, not a dict of tensors", path, part, v->kind_name());
        chosen = v;
        out.part = part;
        break;
      }
    }
    if (!chosen && !student) chosen = &root;
    if (chosen) picked = file.tensors(*chosen);
  }
  HIPT_CHECK(!student || !out.part.empty(), "{}: no 'student' weights in the file", path);
  for (auto& [name, t] : picked) {
    std::string stripped;
    if (!backbone_name(name, &stripped)) continue;
    HIPT_CHECK(out.tensors.emplace(stripped, t).second,
               "{}: two tensors map to '{}' once 'module.' and 'backbone.' are removed", path, stripped);
  }
  HIPT_CHECK(!out.tensors.empty(), "{}: no backbone tensors in {}", path,
             out.part.empty() ? std::string("the file") : "'" + out.part + "'");
  return out;
}

void load_backbone(nn::Module& module, const std::string& path, bool student) {
  BackboneWeights w = read_backbone_weights(path, student);
  module.load_state_dict(w.tensors, w.part.empty() ? path : path + " ('" + w.part + "')");
}

}  // namespace hipt
