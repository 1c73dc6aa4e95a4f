// Tissue segmentation and region tiling, compatible with CLAM's `segmentTissue` and
// `process_contour` (the "fast patching" path HIPT used), without OpenCV: each image operation
// reproduces the OpenCV function CLAM calls (named next to it), so masks, contours and region
// coordinates come out as CLAM's do. Pure functions on u8 tensors; nothing here reads a file.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hipt::io {

struct Point {
  int64_t x = 0, y = 0;
  bool operator==(const Point& o) const { return x == o.x && y == o.y; }
};
using Polygon = std::vector<Point>;  // a closed boundary: the last point joins the first

struct Rect {
  int64_t x = 0, y = 0, width = 0, height = 0;
};

// ---------------------------------------------------------------- image operations

// saturation: u8 [H, W] <- rgb: u8 [H, W, C], C >= 3 (alpha ignored).
// OpenCV's 8-bit RGB->HSV S: v = max, d = max - min, S = (d · round(255·2^12 / v) + 2^11) >> 12
// (0 when v = 0).
Tensor hsv_saturation(const Tensor& rgb);

// blurred: u8 [H, W] <- gray: u8 [H, W]. Median of the ksize × ksize window (ksize odd), the image
// extended by replicating its border (cv2.medianBlur).
Tensor median_blur(const Tensor& gray, int ksize);

// OpenCV's Otsu threshold on a u8 [H, W] image (THRESH_OTSU): the level t maximising the
// between-class variance of {<= t} and {> t}; the first maximum wins.
int otsu_threshold(const Tensor& gray);

// mask: u8 [H, W] <- gray: u8 [H, W]. mask = gray > thresh ? maxval : 0 (THRESH_BINARY).
Tensor threshold_binary(const Tensor& gray, int thresh, int maxval = 255);

// closed: u8 [H, W] <- mask: u8 [H, W]. Dilation then erosion with a k × k ones kernel anchored
// at (k/2, k/2) (cv2.morphologyEx MORPH_CLOSE): each takes the max / min over offsets
// [-k/2, k - 1 - k/2] in both axes; outside the image counts as 0 for the dilation and 255 for
// the erosion (OpenCV's default border), so the border never adds or removes tissue.
Tensor morph_close(const Tensor& mask, int k);

// One border found by find_contours: boundary pixels in tracing order (CHAIN_APPROX_NONE).
struct Contour {
  Polygon points;
  bool is_hole = false;
  int parent = -1;  // for a hole: the index of its outer border; -1 for an outer border
};

// Borders of the non-zero regions of u8 [H, W] (8-connected foreground), Suzuki–Abe border
// following as cv2.findContours(RETR_CCOMP, CHAIN_APPROX_NONE) in OpenCV 4: outer borders and
// their holes, two levels (a blob inside a hole is another outer border); the image is treated
// as surrounded by zeros. Order as OpenCV returns it: outer borders in reverse order of discovery
// (raster scan), each followed by its holes, also in reverse order of discovery.
std::vector<Contour> find_contours(const Tensor& mask);

// cv2.contourArea: |shoelace| over the boundary polygon (so a one-pixel-wide line has area 0).
double contour_area(const Polygon& p);

// cv2.boundingRect of integer points: width = max x - min x + 1.
Rect bounding_rect(const Polygon& p);

// cv2.pointPolygonTest(measureDist=False): +1 strictly inside, 0 on an edge or vertex, -1
// outside (even–odd crossing count with OpenCV's edge rules).
int point_polygon_test(const Polygon& p, double x, double y);

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

// ---------------------------------------------------------------- magnification and region reads

// The scan's objective magnification: `override_mag` if given, else from openslide.mpp-x
// (40 when mpp < 0.375, 20 when < 0.75, 10 when < 1.5, else 5 — scanners report 0.2–0.27 for
// 40x, 0.45–0.55 for 20x), else openslide.objective-power. Throws naming `what` when none is
// known or the value is not a positive number.
double slide_magnification(const std::map<std::string, std::string>& properties,
                           std::optional<double> override_mag, const std::string& what);

// Level-0 side of a region that becomes `size` pixels at `target_mag` (4096 at 20x -> 8192 on a
// 40x scan). Throws unless the ratio mag/target_mag gives a whole number of pixels.
int64_t level0_region_size(double magnification, int64_t size = 4096, double target_mag = 20);

// Reads RGBA u8 [h, w, 4] (non-premultiplied) from level 0 of a slide at level-0 (x, y).
using RegionReader = std::function<Tensor(int64_t x, int64_t y, int64_t w, int64_t h)>;

// rgb: u8 [size, size, 3]. Reads the level-0 square of level0_region_size(magnification, size)
// at (x, y) and brings it to `size` by an exact box average of each f × f block (f = integer ratio,
// rounded half up), which for the 2x case of a 40x scan is the 2 × 2 mean. Alpha: dropped
// (transparent pixels past the slide edge are black, as PIL's convert('RGB') gives CLAM), or
// with white_background composited over white.
Tensor read_region_at_target_mag(const RegionReader& read, int64_t x, int64_t y, double magnification,
                                 int64_t size = 4096, bool white_background = false, double target_mag = 20);

// ---------------------------------------------------------------- on a Slide

class Slide;

// CLAM's seg_level = -1: the level best_level_for_downsample(64) picks.
int default_segmentation_level(const Slide& slide);

// Reads the whole segmentation level (level < 0: the default one) and segments it, with CLAM's
// downsamples (level-0 size / level size per axis). `level_image`, if given, receives the level's
// RGBA pixels (for drawing on). Throws naming the slide when the level does not exist.
Segmentation segment_slide(const Slide& slide, int level, const TissueParams& params = {},
                           Tensor* level_image = nullptr);

// read_region_at_target_mag on level 0 of `slide`.
Tensor read_region_at_target_mag(const Slide& slide, int64_t x, int64_t y, double magnification,
                                 int64_t size = 4096, bool white_background = false, double target_mag = 20);

}  // namespace hipt::io
