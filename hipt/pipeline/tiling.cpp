#include "hipt/pipeline/tiling.h"

#include <fmt/format.h>

#include "io/magnification.h"

namespace hipt {

io::TissueParams TilingOptions::tissue_params() const {
  io::TissueParams tp;
  tp.sthresh = sthresh, tp.mthresh = mthresh, tp.close = close, tp.use_otsu = otsu;
  tp.a_t = a_t, tp.a_h = a_h, tp.max_n_holes = max_n_holes;
  return tp;
}

RegionPlan region_geometry(const io::Slide& slide, const std::string& path, const TilingOptions& o) {
  RegionPlan plan;
  plan.magnification = io::slide_magnification(slide.properties(), o.magnification, path);
  try {  // the sizes depend on the slide's magnification: say which slide
    plan.region_size0 = io::level0_region_size(plan.magnification, o.size, o.target_mag);
    plan.step0 = io::level0_region_size(plan.magnification, o.step.value_or(o.size), o.target_mag);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path, e.what()));
  }
  return plan;
}

RegionPlan plan_regions(const io::Slide& slide, const std::string& path, const TilingOptions& o) {
  RegionPlan plan = region_geometry(slide, path, o);
  plan.segmentation = io::segment_slide(slide, o.seg_level, o.tissue_params(), &plan.level_image);
  const io::SlideLevel& l0 = slide.level(0);
  io::GridParams gp;
  gp.region_size = plan.region_size0, gp.step = plan.step0, gp.use_padding = !o.no_padding;
  gp.min_tissue = o.min_tissue;
  plan.regions = io::region_grid(plan.segmentation, l0.width, l0.height, gp);
  return plan;
}

}  // namespace hipt
