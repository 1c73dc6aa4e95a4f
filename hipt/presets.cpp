// PLACEHOLDER (implemented on the infra branch).
#include "hipt/presets.h"

#include "tensor/error.h"

namespace hipt {

void apply_clam_preset(const std::string& path, TilingOptions&) {
  throw Error(path + ": CLAM presets are not implemented yet");
}

}  // namespace hipt
