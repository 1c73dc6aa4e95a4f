// The scan's magnification and region reads at a target magnification (io/magnification.h),
// with synthetic property maps and region readers.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/magnification.h"
#include "tensor/ops.h"
#include "testing.h"

namespace {
using namespace hipt;

TEST(TissueMagnification, FromMppOrObjectivePowerOrOverride) {
  using Props = std::map<std::string, std::string>;
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.mpp-x", "0.2527"}}, std::nullopt, "s"), 40);
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.mpp-x", "0.499"}, {"openslide.objective-power", "40"}},
                                    std::nullopt, "s"),
            20);  // mpp wins over a mislabelled AppMag
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.objective-power", "20"}}, std::nullopt, "s"), 20);
  EXPECT_EQ(io::slide_magnification(Props{{"openslide.mpp-x", "0.25"}}, 20.0, "s"), 20);
  hipt::testing::expect_error([] { io::slide_magnification({}, std::nullopt, "a.svs"); },
                        {"a.svs", "unknown magnification", "--magnification"});
  hipt::testing::expect_error([] { io::slide_magnification(Props{{"openslide.mpp-x", "abc"}}, std::nullopt, "a.svs"); },
                        {"a.svs", "openslide.mpp-x", "abc"});
  hipt::testing::expect_error([] { io::slide_magnification({}, -5.0, "a.svs"); }, {"a.svs", "positive"});
  EXPECT_EQ(io::level0_region_size(40), 8192);
  EXPECT_EQ(io::level0_region_size(20), 4096);
  hipt::testing::expect_error([] { io::level0_region_size(30); }, {"level0_region_size", "whole multiple"});
  hipt::testing::expect_error([] { io::level0_region_size(10); }, {"level0_region_size", "whole multiple"});  // 0.5x
  hipt::testing::expect_error([] { io::level0_region_size(40, 0); }, {"level0_region_size", "positive"});
  // A magnification far past any scan: refused before the int64 conversion overflows.
  hipt::testing::expect_error([] { io::level0_region_size(1e308); }, {"level0_region_size", "larger than any slide"});
  hipt::testing::expect_error([] { io::level0_region_size(20 * 1048576.0 * 4096); },
                              {"level0_region_size", "larger than any slide"});
}

TEST(TissueRegionRead, FortyXIsATwoByTwoBoxAverageAndAlphaFollowsTheFlag) {
  int64_t asked_x = -1, asked_y = -1, asked_w = 0, asked_h = 0;
  // Level-0 pixel (x, y): r = x, g = y, b = x + y; columns >= 12 are transparent (past the edge).
  io::RegionReader reader = [&](int64_t x, int64_t y, int64_t w, int64_t h) {
    asked_x = x, asked_y = y, asked_w = w, asked_h = h;
    std::vector<uint8_t> v(static_cast<size_t>(w * h * 4));
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        uint8_t* p = &v[(r * w + c) * 4];
        bool inside = c < 12;
        p[0] = inside ? static_cast<uint8_t>(c) : 0, p[1] = inside ? static_cast<uint8_t>(r) : 0;
        p[2] = inside ? static_cast<uint8_t>(c + r) : 0, p[3] = inside ? 255 : 0;
      }
    return ops::from_vector(v, {h, w, 4});
  };
  Tensor out = io::read_region_at_target_mag(reader, 100, 200, 40, 8);
  EXPECT_EQ(asked_x, 100);
  EXPECT_EQ(asked_y, 200);
  EXPECT_EQ(asked_w, 16);
  EXPECT_EQ(asked_h, 16);
  ASSERT_EQ(out.shape(), (Shape{8, 8, 3}));
  std::vector<uint8_t> o = ops::to_vector<uint8_t>(out);
  // Output (1, 2): level-0 columns 2, 3 and rows 4, 5 -> r = 2.5 -> 3 (half up), g = 4.5 -> 5, b = 7.
  EXPECT_EQ(o[(2 * 8 + 1) * 3 + 0], 3);
  EXPECT_EQ(o[(2 * 8 + 1) * 3 + 1], 5);
  EXPECT_EQ(o[(2 * 8 + 1) * 3 + 2], 7);
  EXPECT_EQ(o[(0 * 8 + 7) * 3 + 0], 0);  // transparent -> black
  Tensor white = io::read_region_at_target_mag(reader, 0, 0, 40, 8, true);
  EXPECT_EQ(ops::to_vector<uint8_t>(white)[(0 * 8 + 7) * 3 + 1], 255);
  EXPECT_EQ(ops::to_vector<uint8_t>(white)[(2 * 8 + 1) * 3 + 1], 5);  // opaque pixels unchanged
  Tensor same = io::read_region_at_target_mag(reader, 0, 0, 20, 8);  // 20x: read as is
  EXPECT_EQ(asked_w, 8);
  EXPECT_EQ(ops::to_vector<uint8_t>(same)[(3 * 8 + 5) * 3 + 2], 8);
  io::RegionReader wrong = [](int64_t, int64_t, int64_t, int64_t) { return ops::zeros({2, 2, 4}, DType::U8); };
  hipt::testing::expect_error([&] { io::read_region_at_target_mag(wrong, 0, 0, 40, 8); },
                        {"read_region_at_target_mag", "expected u8 [16, 16, 4]"});
}

}  // namespace
