// CLAM's preset files (CLAM/presets/*.csv): one header row of parameter names and one row of
// values, applied to the tiling options of `hipt tiles` and `hipt embed` (--preset FILE).
#pragma once
#include <string>

#include "hipt/pipeline/tiling.h"

namespace hipt {

// Sets the tiling options named in the preset (seg_level, sthresh, mthresh, close, use_otsu, a_t,
// a_h, max_n_holes, use_padding). The CLI registers --preset before the other tiling flags, so its
// callback runs first and a flag given on the command line wins. The drawing columns (vis_level,
// line_thickness) and CLAM's white/black thresholds (unused by its fast patching) are read and
// ignored. Throws hipt::Error naming the file for a missing file, an unknown column, a bad value,
// or a setting hipt does not implement (contour_fn other than four_pt, keep_ids / exclude_ids
// other than none).
void apply_clam_preset(const std::string& path, TilingOptions& tiling);

}  // namespace hipt
