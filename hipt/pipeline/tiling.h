// Which regions of a slide HIPT reads: the scan's magnification, CLAM's tissue segmentation and
// its region grid, from one set of options shared by `hipt tiles`, `hipt embed` and `hipt demo`.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "io/slide.h"
#include "io/tissue.h"

namespace hipt {

// CLAM's segmentation and patching parameters (create_patches_fp.py defaults), plus HIPT's region
// size and magnification.
struct TilingOptions {
  int64_t size = 4096;                  // region side at the target magnification
  std::optional<int64_t> step;          // at the target magnification; default: size
  double target_mag = 20;
  std::optional<double> magnification;  // the scan's; default from the slide's properties
  double min_tissue = 0;
  int seg_level = -1;                   // -1: best level for downsample 64 (CLAM)
  bool otsu = false, no_padding = false;
  int sthresh = 8, mthresh = 7, close = 4, max_n_holes = 8;
  double a_t = 100, a_h = 16;

  io::TissueParams tissue_params() const;
};

struct RegionPlan {
  double magnification = 0;   // the scan's
  int64_t region_size0 = 0;   // region side in level-0 pixels
  int64_t step0 = 0;          // grid step in level-0 pixels
  io::Segmentation segmentation;
  Tensor level_image;         // RGBA of the segmentation level (for thumbnails)
  std::vector<io::Point> regions;  // level-0 top-left corners, CLAM's order
};

// The scan's magnification and the level-0 region size and step. Throws naming `path`.
RegionPlan region_geometry(const io::Slide& slide, const std::string& path, const TilingOptions& o);

// region_geometry, then segmentation and the region grid. Throws naming `path`.
RegionPlan plan_regions(const io::Slide& slide, const std::string& path, const TilingOptions& o);

}  // namespace hipt
