// The slide-level attention overview (`hipt slide-heatmap`): each region's attention score from
// the slide model, percentile-ranked as the region heatmaps are (heatmap::percentile_ranks, /100),
// coloured with the lightened jet and blended over the slide's thumbnail where the region lies,
// the overview the reference draws in its notebook. Pixels outside every region keep the
// thumbnail; where regions overlap (a grid step below the region size) their scores average.
#pragma once
#include <string>
#include <vector>

#include "hipt/pipeline/heatmap.h"
#include "io/slide.h"

namespace hipt {

// The whole slide at about `downsample` (level-0 pixels per output pixel): the pyramid level
// nearest below it, box-averaged by the remaining whole factor, read in bands so memory stays at
// the output's size. Returns u8 [H, W, 3] (transparent pixels white) and the exact downsample.
struct Thumbnail {
  Tensor rgb;
  double downsample_x = 1, downsample_y = 1;
};
Thumbnail slide_thumbnail(const io::Slide& slide, double downsample);

// The overview: scores (attention, any scale; one per region, M >= 1) ranked to (0, 1], painted
// on regions whose level-0 top-left corners are `xy` ([x0, y0, x1, y1, ...]) and side `region0`
// level-0 pixels, blended with weight `alpha`. Returns u8 [H, W, 3] like the thumbnail.
Tensor draw_slide_heatmap(const Thumbnail& thumb, const std::vector<int64_t>& xy, int64_t region0,
                          const std::vector<float>& scores, const heatmap::Colormap& cmap, double alpha);

}  // namespace hipt
