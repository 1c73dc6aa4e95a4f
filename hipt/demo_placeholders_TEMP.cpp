// TEMP (delete at merge): run_embed is written on the embed branch; this stub only lets the demo
// branch link (run_heatmap is on main already). The demo test expects this message until then.
#include "hipt/commands.h"
#include "tensor/error.h"

namespace hipt {

int run_embed(const EmbedOptions&) { HIPT_CHECK(false, "hipt embed is not merged into this branch yet"); return 1; }

}  // namespace hipt
