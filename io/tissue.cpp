#include "io/tissue.h"

#include <algorithm>
#include <cmath>

#include "io/slide.h"
#include "tensor/ops.h"

namespace hipt::io {

// ---------------------------------------------------------------- segmentation

Segmentation segment_tissue(const Tensor& image, double downsample_x, double downsample_y,
                            const TissueParams& params) {
  u8_image(image, "segment_tissue", true);
  HIPT_CHECK(image.size(0) > 0 && image.size(1) > 0, "segment_tissue: empty image {}", image.str());
  HIPT_CHECK(downsample_x > 0 && downsample_y > 0, "segment_tissue: downsample ({}, {}) must be positive",
             downsample_x, downsample_y);
  HIPT_CHECK(params.mthresh >= 1 && params.mthresh % 2 == 1, "segment_tissue: mthresh must be odd and positive, got {}",
             params.mthresh);
  HIPT_CHECK(params.close >= 0, "segment_tissue: close must be >= 0, got {}", params.close);
  // Both filters cost O(H·W·k): a huge size from the command line would run for hours.
  HIPT_CHECK(params.mthresh <= kMaxKernelSize && params.close <= kMaxKernelSize,
             "segment_tissue: mthresh {} and close {} must be at most {} (CLAM uses 7 and 4)", params.mthresh,
             params.close, kMaxKernelSize);
  HIPT_CHECK(params.sthresh >= 0 && params.sthresh <= 255, "segment_tissue: sthresh {} is not in [0, 255]",
             params.sthresh);
  HIPT_CHECK(params.sthresh_up >= 1 && params.sthresh_up <= 255, "segment_tissue: sthresh_up {} is not in [1, 255]",
             params.sthresh_up);
  HIPT_CHECK(params.max_n_holes >= 0 && params.ref_patch_size > 0 && params.a_t >= 0 && params.a_h >= 0,
             "segment_tissue: a_t, a_h, max_n_holes must be >= 0 and ref_patch_size > 0");

  Segmentation seg;
  seg.downsample_x = downsample_x;
  seg.downsample_y = downsample_y;
  Tensor blurred = median_blur(hsv_saturation(image), params.mthresh);
  int thresh = params.sthresh;
  if (params.use_otsu) thresh = seg.otsu_level = otsu_threshold(blurred);
  seg.mask = threshold_binary(blurred, thresh, params.sthresh_up);
  if (params.close > 0) seg.mask = morph_close(seg.mask, params.close);

  // CLAM: areas in units of a reference patch at this level, int() of the ratio.
  const double unit = std::trunc(static_cast<double>(params.ref_patch_size * params.ref_patch_size) /
                                 (downsample_x * downsample_y));
  const double min_area = params.a_t * unit, min_hole = params.a_h * unit;

  std::vector<Contour> contours = find_contours(seg.mask);
  auto to_level0 = [&](const Polygon& p) {
    Polygon q(p.size());
    for (size_t i = 0; i < p.size(); ++i)  // numpy's int32 cast truncates
      q[i] = {static_cast<int64_t>(static_cast<double>(p[i].x) * downsample_x),
              static_cast<int64_t>(static_cast<double>(p[i].y) * downsample_y)};
    return q;
  };
  for (size_t i = 0; i < contours.size(); ++i) {
    if (contours[i].parent != -1) continue;
    std::vector<const Polygon*> holes;
    double area = contour_area(contours[i].points);
    for (const Contour& c : contours)
      if (c.parent == static_cast<int>(i)) {
        holes.push_back(&c.points);
        area -= contour_area(c.points);
      }
    if (area == 0 || !(area > min_area)) continue;
    std::stable_sort(holes.begin(), holes.end(),
                     [](const Polygon* a, const Polygon* b) { return contour_area(*a) > contour_area(*b); });
    if (holes.size() > static_cast<size_t>(params.max_n_holes)) holes.resize(static_cast<size_t>(params.max_n_holes));
    TissueRegion r;
    r.outer_seg = contours[i].points;
    r.outer = to_level0(r.outer_seg);
    for (const Polygon* hole : holes)
      if (contour_area(*hole) > min_hole) {
        r.holes_seg.push_back(*hole);
        r.holes.push_back(to_level0(*hole));
      }
    seg.regions.push_back(std::move(r));
  }
  return seg;
}

// ---------------------------------------------------------------- region grid

double tissue_fraction(const Segmentation& seg, int64_t x, int64_t y, int64_t size) {
  HIPT_CHECK(seg.mask.defined() && seg.mask.dim() == 2, "tissue_fraction: the segmentation has no mask");
  const int64_t h = seg.mask.size(0), w = seg.mask.size(1);
  // The mask pixels whose top-left corner lies in the region (at least one per axis).
  auto span = [](int64_t a, int64_t len, double ds, int64_t* lo, int64_t* hi) {
    *lo = static_cast<int64_t>(std::ceil(static_cast<double>(a) / ds));
    *hi = static_cast<int64_t>(std::ceil(static_cast<double>(a + len) / ds));
    if (*hi <= *lo) *hi = *lo + 1;
  };
  int64_t x0, x1, y0, y1;
  span(x, size, seg.downsample_x, &x0, &x1);
  span(y, size, seg.downsample_y, &y0, &y1);
  Tensor m = ops::contiguous(seg.mask);
  const uint8_t* p = m.data<uint8_t>();
  int64_t tissue = 0;
  for (int64_t yy = std::max<int64_t>(y0, 0); yy < std::min(y1, h); ++yy)
    for (int64_t xx = std::max<int64_t>(x0, 0); xx < std::min(x1, w); ++xx) tissue += p[yy * w + xx] != 0;
  return static_cast<double>(tissue) / static_cast<double>((x1 - x0) * (y1 - y0));
}

std::vector<Point> region_grid(const Segmentation& seg, int64_t width0, int64_t height0, const GridParams& params) {
  HIPT_CHECK(params.region_size > 0 && params.step > 0, "region_grid: region size {} and step {} must be positive",
             params.region_size, params.step);
  HIPT_CHECK(params.min_tissue >= 0 && params.min_tissue <= 1, "region_grid: min_tissue {} is not in [0, 1]",
             params.min_tissue);
  const int64_t size = params.region_size;
  const int64_t shift = size / 2 / 2;  // CLAM: int(size // 2 * 0.5)
  std::vector<Point> out;
  for (const TissueRegion& r : seg.regions) {
    Rect box = bounding_rect(r.outer);
    int64_t stop_x = box.x + box.width, stop_y = box.y + box.height;
    if (!params.use_padding) {
      stop_x = std::min(stop_x, width0 - size + 1);
      stop_y = std::min(stop_y, height0 - size + 1);
    }
    for (int64_t x = box.x; x < stop_x; x += params.step)
      for (int64_t y = box.y; y < stop_y; y += params.step) {
        const int64_t cx = x + size / 2, cy = y + size / 2;
        bool in_contour = false;
        const int64_t corners[4][2] = {{cx - shift, cy - shift}, {cx + shift, cy + shift},
                                       {cx + shift, cy - shift}, {cx - shift, cy + shift}};
        for (const auto& c : corners)
          if (point_polygon_test(r.outer, static_cast<double>(c[0]), static_cast<double>(c[1])) >= 0) {
            in_contour = true;
            break;
          }
        if (!in_contour) continue;
        const double hx = static_cast<double>(x) + static_cast<double>(size) / 2;
        const double hy = static_cast<double>(y) + static_cast<double>(size) / 2;
        bool in_hole = false;
        for (const Polygon& hole : r.holes) in_hole = in_hole || point_polygon_test(hole, hx, hy) > 0;
        if (in_hole) continue;
        if (params.min_tissue > 0 && tissue_fraction(seg, x, y, size) < params.min_tissue) continue;
        out.push_back({x, y});
      }
  }
  return out;
}

// ---------------------------------------------------------------- on a Slide

int default_segmentation_level(const Slide& slide) { return slide.best_level_for_downsample(64); }

Segmentation segment_slide(const Slide& slide, int level, const TissueParams& params, Tensor* level_image) {
  if (level < 0) level = default_segmentation_level(slide);
  HIPT_CHECK(level < slide.level_count(), "{}: segmentation level {} does not exist (the slide has {} levels)",
             slide.path(), level, slide.level_count());
  const SlideLevel& l0 = slide.level(0);
  const SlideLevel& l = slide.level(level);
  Tensor image = slide.read_region(0, 0, level, l.width, l.height);
  Segmentation seg = segment_tissue(image, static_cast<double>(l0.width) / static_cast<double>(l.width),
                                    static_cast<double>(l0.height) / static_cast<double>(l.height), params);
  seg.level = level;
  if (level_image) *level_image = image;
  return seg;
}

}  // namespace hipt::io
