// hipt/pipeline/presets: CLAM's preset CSVs (its own files, unchanged, and ours in presets/), their refusals,
// and `--preset` on the command line, where explicit flags win.
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include "hipt/pipeline/presets.h"
#include "io/png.h"
#include "io/tiff_writer.h"
#include "slide_testing.h"

namespace {
using namespace hipt;
namespace ht = hipt::testing;

// The tiling fields a preset can set, for comparisons.
std::string describe(const TilingOptions& t) {
  return fmt::format("seg_level={} sthresh={} mthresh={} close={} otsu={} a_t={} a_h={} max_n_holes={} no_padding={}",
                     t.seg_level, t.sthresh, t.mthresh, t.close, t.otsu, t.a_t, t.a_h, t.max_n_holes, t.no_padding);
}

TilingOptions applied(const std::string& path, TilingOptions t = {}) {
  apply_clam_preset(path, t);
  return t;
}

std::string preset_file(const std::string& name, const std::string& content) {
  std::string p = ht::temp_path(name);
  ht::write_bytes(p, content);
  return p;
}

// CLAM's presets/*.csv byte for byte (header, one row, TRUE/FALSE, no final newline), and the
// values each of ours must carry.
struct ClamPreset {
  std::string name, clam_csv;
};
const ClamPreset kClamPresets[] = {
    {"tcga",
     "seg_level,sthresh,mthresh,close,use_otsu,a_t,a_h,max_n_holes,vis_level,line_thickness,white_thresh,black_thresh,"
     "use_padding,contour_fn,keep_ids,exclude_ids\n-1,8,7,4,FALSE,16,4,8,-1,100,5,50,TRUE,four_pt,none,none"},
    {"bwh_biopsy",
     "seg_level,sthresh,mthresh,close,use_otsu,a_t,a_h,max_n_holes,vis_level,line_thickness,white_thresh,black_thresh,"
     "use_padding,contour_fn,keep_ids,exclude_ids\n-1,15,11,2,FALSE,1,1,2,-1,50,5,50,TRUE,four_pt,none,none"},
    {"bwh_resection",
     "seg_level,sthresh,mthresh,close,use_otsu,a_t,a_h,max_n_holes,vis_level,line_thickness,white_thresh,black_thresh,"
     "use_padding,contour_fn,keep_ids,exclude_ids\n-1,15,11,4,FALSE,100,16,8,-1,150,5,50,TRUE,four_pt,none,none"},
};

TEST(ClamPreset, ClamsOwnFilesReadUnchangedAndOursCarryTheirValues) {
  for (const ClamPreset& p : kClamPresets) {
    TilingOptions clam = applied(preset_file("clam_" + p.name + ".csv", p.clam_csv));
    TilingOptions ours = applied(std::string(HIPT_PRESETS_DIR) + "/" + p.name + ".csv");
    EXPECT_EQ(describe(ours), describe(clam)) << p.name;
  }
  TilingOptions tcga = applied(std::string(HIPT_PRESETS_DIR) + "/tcga.csv");
  EXPECT_EQ(describe(tcga), "seg_level=-1 sthresh=8 mthresh=7 close=4 otsu=false a_t=16 a_h=4 max_n_holes=8 no_padding=false");
  TilingOptions biopsy = applied(std::string(HIPT_PRESETS_DIR) + "/bwh_biopsy.csv");
  EXPECT_EQ(describe(biopsy), "seg_level=-1 sthresh=15 mthresh=11 close=2 otsu=false a_t=1 a_h=1 max_n_holes=2 no_padding=false");
  // default.csv is CLAM's create_patches_fp.py defaults, which are hipt's own: from anything, it
  // gives back the defaults.
  TilingOptions changed = biopsy;
  changed.otsu = true, changed.no_padding = true;
  EXPECT_EQ(describe(applied(std::string(HIPT_PRESETS_DIR) + "/default.csv", changed)), describe(TilingOptions{}));
}

TEST(ClamPreset, SetsOnlyItsColumnsAndReadsPandasBooleansCommentsAndCrlf) {
  TilingOptions before;
  before.size = 512, before.a_h = 3;
  TilingOptions t = applied(preset_file("partial.csv", "# mine\r\n\r\nuse_otsu,use_padding,seg_level\r\nTrue,false,2\r\n"),
                            before);
  EXPECT_TRUE(t.otsu);
  EXPECT_TRUE(t.no_padding);
  EXPECT_EQ(t.seg_level, 2);
  EXPECT_EQ(t.size, 512);  // not a preset column
  EXPECT_EQ(t.a_h, 3);     // not in this preset
  t = applied(preset_file("bools.csv", "use_otsu,use_padding,a_t\ntrue,TRUE,0.5\n"));
  EXPECT_TRUE(t.otsu);
  EXPECT_FALSE(t.no_padding);
  EXPECT_EQ(t.a_t, 0.5);
}

TEST(ClamPreset, BadPresetsNameTheFileAndColumnAndChangeNothing) {
  const std::string header = "seg_level,sthresh,contour_fn,keep_ids\n";
  struct Case {
    std::string content, says;
  } cases[] = {
      {"", "a header row of names and one row of values, found 0 rows"},
      {header, "found 1 row"},
      {"# only a comment\n", "found 0 rows"},
      {header + "-1,8,four_pt,none\n-1,9,four_pt,none\n", ":3: a preset has one row of values"},
      {header + "-1,8,four_pt\n", ":2: 3 values for 4 columns"},
      {"seg_level,colour\n-1,red\n", "unknown column 'colour'"},
      {"sthresh,sthresh\n8,9\n", "column 'sthresh' appears twice"},
      {"sthresh,\n8,9\n", "column 2 has no name"},
      {"sthresh\n8.5\n", "column 'sthresh': '8.5' is not an integer"},
      {"sthresh\n300\n", "column 'sthresh': 300 is outside [0, 255]"},
      {"mthresh\n0\n", "column 'mthresh': 0 is outside"},
      {"seg_level\n-2\n", "column 'seg_level': -2 is outside"},
      {"a_t\nlots\n", "column 'a_t': 'lots' is not a number"},
      {"a_h\n-1\n", "column 'a_h': -1 is below 0"},
      {"a_t\nnan\n", "column 'a_t': 'nan' is not a number"},
      {"use_otsu\nyes\n", "column 'use_otsu': 'yes' is not True or False"},
      {"use_padding\n1\n", "column 'use_padding': '1' is not True or False"},
      {"line_thickness\nthick\n", "column 'line_thickness': 'thick' is not an integer"},
      {"contour_fn\ncenter\n", "column 'contour_fn': 'center' is not implemented"},
      {"contour_fn\nfour_pt_hard\n", "'four_pt_hard' is not implemented"},
      {"keep_ids\n\"1,2\"\n", "column 'keep_ids': '1,2' is not implemented"},
      {"exclude_ids\n3\n", "column 'exclude_ids': '3' is not implemented"},
  };
  const std::string path = ht::temp_path("bad_preset.csv");
  for (const Case& c : cases) {
    ht::write_bytes(path, c.content);
    TilingOptions t;
    t.sthresh = 42;
    ht::expect_error([&] { apply_clam_preset(path, t); }, {path, c.says});
    EXPECT_EQ(t.sthresh, 42) << c.content;
  }
  // The options are applied only once every column is good.
  ht::write_bytes(path, "sthresh,contour_fn\n9,basic\n");
  TilingOptions t;
  EXPECT_THROW(apply_clam_preset(path, t), Error);
  EXPECT_EQ(t.sthresh, 8);
  ht::expect_error([&] { apply_clam_preset(ht::temp_path("no_preset.csv"), t); }, {"no_preset.csv", "cannot open"});
}

// --- the command line: hipt tiles --preset ---------------------------------------------------

using ht::CliRun;

CliRun hipt_tiles(const std::string& args) { return ht::run_hipt("tiles " + args); }

// The preset's callback runs before the flags', wherever --preset stands: a flag given explicitly
// wins and the preset's other values stay. Observable in the summary: seg_level, otsu_threshold
// (present only with Otsu) and the region count (a huge a_t drops every contour).
TEST(ClamPresetCli, ExplicitFlagsOverrideThePresetAndBadPresetsAreOneErrorLine) {
  Tensor img = io::read_png_rgb(std::string(HIPT_TEST_DATA) + "/tissue/synthetic.png");
  const std::string svs = ht::temp_path("preset_cli.svs"), csv = ht::temp_path("preset_cli.csv");
  io::TiffWriteOptions o;
  o.aperio = true, o.mpp = 0.5, o.objective_power = 20;
  io::write_tiff_pyramid(svs, img, o);
  const std::string preset = preset_file("cli_preset.csv", "# test\nseg_level,use_otsu,a_t\n0,TRUE,1000000\n");
  const std::string base = svs + " --out " + csv + " --size 64 ";

  CliRun plain = hipt_tiles(base + "--a-t 0.01");
  ASSERT_EQ(plain.code, 0) << plain.err;
  nlohmann::json s = nlohmann::json::parse(plain.out);
  EXPECT_EQ(s["seg_level"], 1);  // the default: best level for downsample 64
  EXPECT_FALSE(s.contains("otsu_threshold"));
  const int64_t regions = s["regions"];
  EXPECT_GT(regions, 0);

  CliRun only = hipt_tiles(base + "--preset " + preset);
  ASSERT_EQ(only.code, 0) << only.err;
  s = nlohmann::json::parse(only.out);
  EXPECT_EQ(s["seg_level"], 0);
  EXPECT_TRUE(s.contains("otsu_threshold"));
  EXPECT_EQ(s["regions"], 0);

  for (const std::string& args : {"--preset " + preset + " --a-t 0.01", "--a-t 0.01 --preset " + preset}) {
    CliRun both = hipt_tiles(base + args);
    ASSERT_EQ(both.code, 0) << args << ": " << both.err;
    s = nlohmann::json::parse(both.out);
    EXPECT_EQ(s["seg_level"], 0) << args;
    EXPECT_TRUE(s.contains("otsu_threshold")) << args;
    EXPECT_GT(s["regions"].get<int64_t>(), 0) << args;
  }

  const std::string bad = preset_file("cli_bad_preset.csv", "seg_level,contour_fn\n0,center\n");
  for (const std::string& p : {bad, ht::temp_path("cli_no_preset.csv")}) {
    CliRun r = hipt_tiles(base + "--preset " + p);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err.rfind("error: --preset: " + p, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
