// Tissue segmentation and region tiling, compatible with CLAM's `segmentTissue` and
// `process_contour` (the "fast patching" path HIPT used), without OpenCV: built on the OpenCV
// equivalents in io/raster.h, so masks, contours and region coordinates come out as CLAM's do.
// Pure functions on u8 tensors, plus segment_slide to read and segment a slide's level.
#pragma once
#include <cstdint>
#include <vector>

#include "io/raster.h"
#include "tensor/tensor.h"

namespace hipt::io {

// ---------------------------------------------------------------- segmentation (CLAM segmentTissue)

// CLAM's defaults (create_patches_fp.py). Areas are in units of a ref_patch_size² level-0 patch.
struct TissueParams {
  int sthresh = 8;          // S threshold (S_blurred > sthresh is tissue)
  int sthresh_up = 255;     // value written for tissue in the mask
  int mthresh = 7;          // median blur size (odd)
  int close = 4;            // closing kernel size (0: no closing)
  bool use_otsu = false;    // Otsu's threshold instead of sthresh
  double a_t = 100;         // min net tissue area (outer minus holes), reference patches
  double a_h = 16;          // min hole area, reference patches
  int max_n_holes = 8;      // largest holes kept per contour (before the a_h filter)
  int64_t ref_patch_size = 512;
};

struct TissueRegion {
  Polygon outer;               // level-0 pixels: seg-level points × downsample, truncated
  std::vector<Polygon> holes;  // kept holes, largest first, level 0
  Polygon outer_seg;           // the same at the segmentation level
  std::vector<Polygon> holes_seg;
};

struct Segmentation {
  Tensor mask;  // u8 [h, w] at the segmentation level: sthresh_up for tissue, 0 elsewhere
  std::vector<TissueRegion> regions;  // in OpenCV's contour order (CLAM's)
  double downsample_x = 1, downsample_y = 1;  // level-0 size / segmentation-level size
  int otsu_level = -1;                        // the threshold used when use_otsu
  int level = 0;                              // the slide level segmented (segment_slide)
};

// image: u8 [h, w, C], C in {3, 4} (RGBA: alpha ignored, as cv2.cvtColor RGB2HSV on the RGBA
// array). downsample_x/y: level-0 width / w and height / h (CLAM recomputes them this way).
Segmentation segment_tissue(const Tensor& image, double downsample_x, double downsample_y,
                            const TissueParams& params = {});

// ---------------------------------------------------------------- region grid (CLAM process_contour)

struct GridParams {
  int64_t region_size = 4096;  // level-0 pixels covered by a region (4096 × mag/20 for HIPT)
  int64_t step = 4096;         // level-0 pixels between regions (CLAM's default 256 overlaps!)
  bool use_padding = true;     // CLAM default: the grid covers the whole bbox, past the slide edge
  double min_tissue = 0;       // extra filter (not CLAM's): min tissue fraction of the region's mask
};

// Level-0 top-left corners, contour by contour; per contour a grid from its bounding box corner
// (x outer, y inner) keeping a position if any of the four points (c ± size/4) around the centre
// c = p + size/2 has point_polygon_test >= 0 on the contour, and the centre p + size/2 is not
// strictly inside a kept hole. Without padding, the grid stops where a region would pass the
// level-0 size (width0, height0). Regions of different contours may overlap, as in CLAM.
std::vector<Point> region_grid(const Segmentation& seg, int64_t width0, int64_t height0, const GridParams& params);

// Fraction of the mask pixels under the level-0 square [x, x+size)² that are tissue; pixels past
// the mask edge count as background.
double tissue_fraction(const Segmentation& seg, int64_t x, int64_t y, int64_t size);

// ---------------------------------------------------------------- on a Slide

class Slide;

// CLAM's seg_level = -1: the level best_level_for_downsample(64) picks.
int default_segmentation_level(const Slide& slide);

// Reads the whole segmentation level (level < 0: the default one) and segments it, with CLAM's
// downsamples (level-0 size / level size per axis). `level_image`, if given, receives the level's
// RGBA pixels (for drawing on). Throws naming the slide when the level does not exist.
Segmentation segment_slide(const Slide& slide, int level, const TissueParams& params = {},
                           Tensor* level_image = nullptr);

}  // namespace hipt::io
