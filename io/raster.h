// Image operations equivalent to the OpenCV functions CLAM's tissue segmentation calls, without
// OpenCV: cv2.cvtColor RGB2HSV (its S channel), cv2.medianBlur, cv2.threshold (THRESH_BINARY,
// THRESH_OTSU), cv2.morphologyEx (MORPH_CLOSE), cv2.findContours (RETR_CCOMP, CHAIN_APPROX_NONE),
// cv2.contourArea, cv2.boundingRect and cv2.pointPolygonTest, each following OpenCV 4's rounding,
// border and ordering rules (named next to each function). Pure functions on u8 tensors and
// integer polygons.
#pragma once
#include <cstdint>
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

// The largest median blur and closing kernel accepted: both cost O(H·W·k), and CLAM uses 7 and 4.
inline constexpr int kMaxKernelSize = 255;

// A contiguous copy (or view) of `t` after checking it is a u8 image: [H, W, 3|4] when `color`,
// else [H, W]. Throws naming `op` otherwise.
Tensor u8_image(const Tensor& t, const char* op, bool color);

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

}  // namespace hipt::io
