// hipt heatmap: the pure functions (ranks, layout, smoothing, colormap, blend) against brute-force
// references and against numpy/scipy/matplotlib/OpenCV numbers (scripts/make_heatmap_fixture.py),
// then the CLI end to end on a small written pyramid, and its one-line errors.
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "hipt/models/region_encoder.h"
#include "hipt/pipeline/heatmap.h"
#include "io/magnification.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "io/slide.h"
#include "io/tiff_writer.h"
#include "slide_testing.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace {
using namespace hipt;
namespace hm = hipt::heatmap;
namespace ht = hipt::testing;

io::TensorMap& fixture() {
  static io::TensorMap f = io::read_safetensors(std::string(HIPT_TEST_DATA) + "/heatmap_fixture.safetensors");
  return f;
}

// The fixture's attention maps: stored as u8 levels, value = level / divisor.
Tensor levels_to_f32(const Tensor& levels, double divisor) {
  std::vector<uint8_t> l = ops::to_vector<uint8_t>(levels);
  std::vector<float> v(l.size());
  for (size_t i = 0; i < l.size(); ++i) v[i] = static_cast<float>(l[i] / divisor);
  return ops::from_vector(v, levels.shape());
}

// The region under the fixture's blends, the same formula as the script's region_image.
Tensor formula_image(int64_t h, int64_t w) {
  std::vector<uint8_t> v(static_cast<size_t>(h * w * 3));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < 3; ++c) v[static_cast<size_t>((y * w + x) * 3 + c)] = static_cast<uint8_t>((y * 7 + x * 13 + c * 50) % 256);
  return ops::from_vector(v, {h, w, 3});
}

void expect_u8_within(const Tensor& got, const Tensor& want, int tolerance, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  std::vector<uint8_t> g = ops::to_vector<uint8_t>(got), w = ops::to_vector<uint8_t>(want);
  int reported = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (std::abs(int(g[i]) - int(w[i])) > tolerance && reported++ < 5)
      ADD_FAILURE() << what << " element " << i << ": got " << int(g[i]) << ", want " << int(w[i]);
}

// Average rank (1-based) of each element, the definition, in O(n²) double precision.
std::vector<double> brute_force_ranks(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    double less = 0, equal = 0;
    for (float u : v) less += u < v[i], equal += u == v[i];
    r[i] = (less + (equal + 1) / 2) * 100 / static_cast<double>(v.size());
  }
  return r;
}

TEST(Heatmap, PercentileRanksMatchTheBruteForceAverageRanksWithTiesAndRepeats) {
  std::mt19937 gen(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> v(static_cast<size_t>(1 + gen() % 60));
    for (float& x : v) x = static_cast<float>(gen() % 7) / 4;  // few values: many ties
    const int64_t repeat = 1 + trial % 4;
    std::vector<float> repeated;
    for (float x : v)
      for (int64_t k = 0; k < repeat; ++k) repeated.push_back(x);
    const std::vector<double> want = brute_force_ranks(repeated), got = hm::percentile_ranks(v, repeat);
    for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(got[i], want[i * static_cast<size_t>(repeat)], 1e-12) << trial;
  }
  EXPECT_EQ(hm::percentile_ranks({2.f, 1.f, 3.f}), (std::vector<double>{200.0 / 3, 100.0 / 3, 100}));
  EXPECT_THROW(hm::percentile_ranks({1.f, NAN}), Error);
  EXPECT_THROW(hm::percentile_ranks({1.f}, 0), Error);
}

TEST(Heatmap, RankMapsMatchScipyOnTheFixture) {
  const auto& meta = io::read_safetensors_metadata(std::string(HIPT_TEST_DATA) + "/heatmap_fixture.safetensors");
  const int64_t rows = std::stoll(meta.at("rows")), cols = std::stoll(meta.at("cols")), scale = std::stoll(meta.at("scale"));
  const Tensor pa = levels_to_f32(fixture().at("patch_levels_64"), 64), ra = levels_to_f32(fixture().at("region_levels_8"), 8);
  hm::ScoreMap r256 = hm::patch_rank_map(pa, 0, rows, cols, scale), r4k = hm::region_rank_map(ra, 0, rows, cols, scale);
  ASSERT_EQ(r256.height, rows * 256 / scale);
  ASSERT_EQ(r256.width, cols * 256 / scale);
  // The fixture stores f32: 1e-5 relative.
  ht::expect_close(ops::from_vector(r256.values, {r256.height, r256.width}), fixture().at("ranks256_head0"), 0, 1e-5, "256");
  ht::expect_close(ops::from_vector(r4k.values, {r4k.height, r4k.width}), fixture().at("ranks4k_head0"), 0, 1e-5, "4k");
}

TEST(Heatmap, StitchingPutsEachPatchAndTokenWhereTheReferenceDoes) {
  const int64_t rows = 2, cols = 3, n = rows * cols, scale = 4, side = 256 / scale, cell = 16 / scale;
  // Patch p: one hot token t_p = 17·p + 5 (row t_p / 16, column t_p % 16), per head the same.
  std::vector<float> pa(static_cast<size_t>(n * 6 * 256), 0.f), raw(pa.size());
  for (int64_t p = 0; p < n; ++p)
    for (int64_t h = 0; h < 6; ++h) {
      pa[static_cast<size_t>((p * 6 + h) * 256 + 17 * p + 5)] = 1.f;
      for (int64_t t = 0; t < 256; ++t) raw[static_cast<size_t>((p * 6 + h) * 256 + t)] = float(p * 1000 + t + h * 100000);
    }
  hm::ScoreMap m = hm::patch_rank_map(ops::from_vector(pa, {n, 6, 256}), 2, rows, cols, scale);
  for (int64_t y = 0; y < m.height; ++y)
    for (int64_t x = 0; x < m.width; ++x) {
      const int64_t p = (y / side) * cols + x / side, t = 17 * p + 5;
      const bool hot = (y % side) / cell == t / 16 && (x % side) / cell == t % 16;
      // The hot token, repeated 4x4 by the upsampling, ties with itself: rank 99.8, the rest 49.8.
      ASSERT_EQ(m.at(y, x) > 75, hot) << y << "," << x << ": " << m.at(y, x);
    }
  // Raw layout: [heads, rows·16, cols·16], token (ty, tx) of patch p at (16·(p / cols) + ty, 16·(p % cols) + tx).
  Tensor s = hm::stitch_patch_attention(ops::from_vector(raw, {n, 6, 256}), rows, cols);
  ASSERT_EQ(s.shape(), (Shape{6, 32, 48}));
  std::vector<float> sv = ops::to_vector<float>(s);
  EXPECT_EQ(sv[static_cast<size_t>(1 * 32 * 48 + (16 + 3) * 48 + 32 + 7)], float(5 * 1000 + 3 * 16 + 7 + 100000));
  // ViT-4K: row 0 of [heads, N+1, N+1], columns 1..N, row-major cells.
  std::vector<float> ra(static_cast<size_t>(6 * (n + 1) * (n + 1)), 0.f);
  ra[static_cast<size_t>(4 * (n + 1) * (n + 1) + 1 + 5)] = 1.f;  // head 4, cell 5 = row 1, col 2
  ra[static_cast<size_t>(4 * (n + 1) * (n + 1) + (n + 1) + 1)] = 9.f;  // not the [CLS] row: ignored
  hm::ScoreMap r = hm::region_rank_map(ops::from_vector(ra, {6, n + 1, n + 1}), 4, rows, cols, scale);
  for (int64_t y = 0; y < r.height; ++y)
    for (int64_t x = 0; x < r.width; ++x) ASSERT_EQ(r.at(y, x) > 75, y >= side && x >= 2 * side) << y << "," << x;
  EXPECT_THROW(hm::patch_rank_map(ops::from_vector(pa, {n, 6, 256}), 0, rows, cols, 3), Error);
  EXPECT_THROW(hm::patch_rank_map(ops::from_vector(pa, {n, 6, 256}), 6, rows, cols, 4), Error);
  EXPECT_THROW(hm::region_rank_map(ops::from_vector(ra, {6, n + 1, n + 1}), 0, 3, 3, 4), Error);
}

TEST(Heatmap, PassAverageShiftsBackAndAveragesTheCoveringPasses) {
  const int64_t h = 64, w = 96;
  const std::vector<int64_t> shifts = {0, 16, 32, 48};
  std::mt19937 gen(11);
  std::vector<hm::ScoreMap> passes;
  hm::PassAverage avg(h, w);
  for (int64_t s : shifts) {
    hm::ScoreMap m{h, w, std::vector<double>(static_cast<size_t>(h * w))};
    for (double& v : m.values) v = 1 + gen() % 100;
    avg.add(m, s);
    passes.push_back(m);
  }
  hm::ScoreMap got = avg.scores();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      double sum = 0, count = 0;  // output (y, x) shows what pass k saw at (y - s, x - s)
      for (size_t k = 0; k < shifts.size(); ++k)
        if (y >= shifts[k] && x >= shifts[k]) sum += passes[k].at(y - shifts[k], x - shifts[k]), count += 1;
      ASSERT_NEAR(got.at(y, x), sum / (100 * count), 1e-12);
    }
  // Factorized: both levels pooled, (Σ4k + Σ256) / (100 · (n4k + n256)).
  hm::PassAverage two(h, w);
  two.add(passes[0], 0);
  two.add(passes[1], 16);
  hm::ScoreMap f = hm::factorized_scores(avg, two);
  EXPECT_NEAR(f.at(50, 60), (avg.rank_sum[50 * w + 60] + two.rank_sum[50 * w + 60]) / (100.0 * 6), 1e-12);
  EXPECT_NEAR(f.at(5, 5), (passes[0].at(5, 5) * 2) / 200.0, 1e-12);
  EXPECT_THROW(avg.add(hm::ScoreMap{h, w + 1, std::vector<double>(static_cast<size_t>(h * (w + 1)))}, 0), Error);
}

TEST(Heatmap, LightJetMatchesMatplotlibWithinOneLevel) {
  const hm::Colormap cmap = hm::colormap_by_name("jet");
  ASSERT_EQ(cmap.lut.size(), 1024u);
  const Tensor& want = fixture().at("light_jet_4097");  // cmap(linspace(0, 1, 4097)) as u8
  hm::ScoreMap xs{1, want.size(0), {}};
  for (int64_t i = 0; i < want.size(0); ++i) xs.values.push_back(static_cast<double>(i) / (want.size(0) - 1));
  expect_u8_within(ops::reshape(hm::colorize(xs, cmap), {want.size(0), 3}), want, 1, "light jet");
  // Outside [0, 1]: the end colours (matplotlib's under/over defaults).
  hm::ScoreMap ends{1, 2, {-0.5, 1.5}};
  std::vector<uint8_t> e = ops::to_vector<uint8_t>(hm::colorize(ends, cmap)), w = ops::to_vector<uint8_t>(want);
  EXPECT_EQ(std::vector<uint8_t>(e.begin(), e.begin() + 3), std::vector<uint8_t>(w.begin(), w.begin() + 3));
  EXPECT_EQ(std::vector<uint8_t>(e.begin() + 3, e.end()), std::vector<uint8_t>(w.end() - 3, w.end()));
  EXPECT_THROW(hm::colormap_by_name("viridis"), Error);
}

TEST(Heatmap, AddWeightedRoundsAsOpenCV) {
  // The fixture: a = 0..255 (rows) against b = 0, 2, ..., 254 (alpha 0.5) and 1, 4, ..., 253 (0.3).
  std::vector<uint8_t> w05 = ops::to_vector<uint8_t>(fixture().at("add_weighted_05"));
  std::vector<uint8_t> w03 = ops::to_vector<uint8_t>(fixture().at("add_weighted_03"));
  for (int a = 0; a < 256; ++a) {
    for (int j = 0; j < 128; ++j)
      ASSERT_EQ(hm::add_weighted(uint8_t(a), uint8_t(2 * j), 0.5), w05[size_t(a * 128 + j)]) << a << " " << 2 * j;
    for (int j = 0; j < 85; ++j)
      ASSERT_EQ(hm::add_weighted(uint8_t(a), uint8_t(1 + 3 * j), 0.3), w03[size_t(a * 85 + j)]) << a << " " << 1 + 3 * j;
  }
  EXPECT_EQ(hm::add_weighted(1, 2, 0.5), 2);  // 1.5 -> 2 (half to even)
  EXPECT_EQ(hm::add_weighted(0, 1, 0.5), 0);  // 0.5 -> 0
  EXPECT_THROW(hm::blend(formula_image(4, 4), formula_image(4, 5), 0.5), Error);
}

TEST(Heatmap, BlendedMapsMatchTheReferencePipelineOnTheFixture) {
  const int64_t rows = 2, cols = 3, scale = 8;
  const Tensor pa = levels_to_f32(fixture().at("patch_levels_64"), 64), ra = levels_to_f32(fixture().at("region_levels_8"), 8);
  const hm::Colormap cmap = hm::light_jet();
  hm::PassAverage a256(64, 96), a4k(64, 96);
  a256.add(hm::patch_rank_map(pa, 0, rows, cols, scale), 0);
  a4k.add(hm::region_rank_map(ra, 0, rows, cols, scale), 0);
  const Tensor image = formula_image(64, 96);
  // Exact but for a colour whose score lands on a table boundary: one level.
  expect_u8_within(hm::blend(hm::colorize(a256.scores(), cmap), image, 0.5), fixture().at("blend256_head0"), 1, "256");
  expect_u8_within(hm::blend(hm::colorize(a4k.scores(), cmap), image, 0.5), fixture().at("blend4k_head0"), 1, "4k");
  expect_u8_within(hm::blend(hm::colorize(hm::factorized_scores(a4k, a256), cmap), image, 0.5),
                   fixture().at("blend_factorized_head0"), 1, "factorized");
}

TEST(Heatmap, DownscaleMatchesPillowsDefaultResizeAndShiftFollowsItsFormula) {
  const Tensor img = formula_image(64, 96);
  EXPECT_EQ(ops::to_vector<uint8_t>(hm::downscale(img, 8)), ops::to_vector<uint8_t>(fixture().at("pil_resize_by8")));
  EXPECT_EQ(ops::to_vector<uint8_t>(hm::downscale(fixture().at("noise"), 4)),
            ops::to_vector<uint8_t>(fixture().at("pil_resize_noise_by4")));
  EXPECT_EQ(ops::to_vector<uint8_t>(hm::downscale(img, 1)), ops::to_vector<uint8_t>(img));
  std::vector<uint8_t> in = ops::to_vector<uint8_t>(img);
  std::vector<uint8_t> s = ops::to_vector<uint8_t>(hm::shift_up_left(img, 3));
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 96; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(s[size_t((y * 96 + x) * 3 + c)], y + 3 < 64 && x + 3 < 96 ? in[size_t(((y + 3) * 96 + x + 3) * 3 + c)] : 255);
  EXPECT_THROW(hm::downscale(img, 5), Error);
}

// ---------------------------------------------------------------- the CLI

using ht::CliRun;

CliRun hipt_heatmap(const std::string& args) { return ht::run_hipt("heatmap " + args); }

// A 20x generic pyramid (mpp 0.5) of 768x640 and fixture-formula weights, written once per run.
struct CliFiles {
  std::string slide, vit256, vit4k;
  std::shared_ptr<VisionTransformer> m256;
  std::shared_ptr<VisionTransformer4K> m4k;
};
const CliFiles& cli_files() {
  static CliFiles f = [] {
    CliFiles c{ht::temp_path("heatmap_slide.tif"), ht::temp_path("heatmap_vit256.safetensors"),
               ht::temp_path("heatmap_vit4k.safetensors"), vit256_small(0, false), vit4k_xs(0, false)};
    io::TiffWriteOptions o;
    o.mpp = 0.5, o.compression = io::TiffCompression::Deflate;
    io::write_tiff_pyramid(c.slide, ht::fixture_region_u8(640, 768), o);
    ht::set_fixture_weights(*c.m256);
    ht::set_fixture_weights(*c.m4k);
    io::write_safetensors(c.vit256, c.m256->state_dict());
    io::write_safetensors(c.vit4k, c.m4k->state_dict());
    return c;
  }();
  return f;
}

std::string model_flags() { return " --vit256 " + cli_files().vit256 + " --vit4k " + cli_files().vit4k; }

TEST(HeatmapCli, WritesTheMapsOfTheInProcessEncoder) {
  const CliFiles& f = cli_files();
  const std::string out = ht::temp_path("heatmap_out");
  CliRun r = hipt_heatmap(f.slide + model_flags() + " --out " + out + " --x 128 --y 64 --size 512 --scale 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("pass 1/1"));
  nlohmann::json s = nlohmann::json::parse(r.out);
  EXPECT_EQ(s["image_size"], 128);
  EXPECT_EQ(s["rows"], 2);
  EXPECT_EQ(s["passes"], 1);
  const std::string stem = out + "/" + std::filesystem::path(f.slide).stem().string() + "_x128_y64";
  EXPECT_EQ(s["files"]["region"], stem + "_region.png");
  ASSERT_EQ(s["files"]["vit256"].size(), 6u);
  ASSERT_EQ(s["files"]["vit4k"].size(), 6u);
  EXPECT_FALSE(s["files"].contains("factorized"));
  for (const auto& key : {"vit256", "vit4k"})
    for (const auto& p : s["files"][key]) EXPECT_EQ(io::read_png(p.get<std::string>()).shape(), (Shape{128, 128, 3})) << p;
  EXPECT_EQ(s["files"]["vit4k"][5], stem + "_4k_head5.png");

  // The same region through the in-process encoder gives the same raw maps and the same images.
  auto slide = io::Slide::open(f.slide);
  const Tensor region = io::read_region_at_target_mag(*slide, 128, 64, 20, 512);
  const RegionEmbedding e = RegionEncoder(f.m256, f.m4k, {64, AttentionMaps::ClsRow, {}}).encode(region);
  io::TensorMap raw = io::read_safetensors(s["files"]["attention"].get<std::string>());
  ht::expect_close(raw.at("vit256"), hm::stitch_patch_attention(e.patch_attention, 2, 2), 0, 0, "raw 256");
  ht::expect_close(raw.at("vit4k"), hm::region_cls_attention(e.region_attention, 2, 2), 0, 0, "raw 4k");
  EXPECT_EQ(raw.at("vit256").shape(), (Shape{6, 32, 32}));
  EXPECT_EQ(raw.at("vit4k").shape(), (Shape{6, 2, 2}));
  EXPECT_EQ(io::read_safetensors_metadata(s["files"]["attention"].get<std::string>()).at("magnification"), "20");
  const Tensor background = hm::downscale(region, 4);
  EXPECT_EQ(ops::to_vector<uint8_t>(io::read_png(stem + "_region.png")), ops::to_vector<uint8_t>(background));
  hm::PassAverage a(128, 128);
  a.add(hm::patch_rank_map(e.patch_attention, 3, 2, 2, 4), 0);
  const Tensor want = hm::blend(hm::colorize(a.scores(), hm::light_jet()), background, 0.5);
  EXPECT_EQ(ops::to_vector<uint8_t>(io::read_png(stem + "_256_head3.png")), ops::to_vector<uint8_t>(want));
}

TEST(HeatmapCli, SmoothAndFactorizedRunFourPassesAndWriteTheCombinationsHeavy) {
  const std::string out = ht::temp_path("heatmap_smooth");
  CliRun r = hipt_heatmap(cli_files().slide + model_flags() + " --out " + out +
                       " --x 0 --y 0 --size 512 --scale 8 --smooth --factorized --alpha 0.3 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("pass 4/4 (region moved up-left by 384 px)"));
  nlohmann::json s = nlohmann::json::parse(r.out);
  EXPECT_EQ(s["passes"], 4);
  ASSERT_EQ(s["files"]["factorized"].size(), 36u);
  EXPECT_EQ(s["files"]["factorized"][7], out + "/" + std::filesystem::path(cli_files().slide).stem().string() +
                                             "_x0_y0_factorized_4k_head1_256_head1.png");
  EXPECT_EQ(io::read_png(s["files"]["factorized"][35].get<std::string>()).shape(), (Shape{64, 64, 3}));
}

TEST(HeatmapCli, BadInputIsOneErrorLineNamingTheProblem) {
  const CliFiles& f = cli_files();
  const std::string out = ht::temp_path("heatmap_bad"), ok = f.slide + model_flags() + " --out " + out;
  const std::string missing_model = ht::temp_path("heatmap_missing.safetensors");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {ok + " --x 768 --y 0 --size 256", "outside level 0"},
      {ok + " --x 0 --y -1 --size 256", "outside level 0"},
      {ok + " --x 0 --y 0 --size 256 --scale 3", "--scale 3 must divide 16"},
      {ok + " --x 0 --y 0 --size 300", "--size 300"},
      {ok + " --x 0 --y 0 --size 256 --alpha 1.5", "--alpha"},
      {ok + " --x 0 --y 0 --size 256 --cmap viridis", "viridis"},
      {ok + " --x 0 --y 0 --size 256 --device cuda:99", "--device cuda"},
      {ok + " --x 0 --y 0 --size 256 --device tpu", "--device 'tpu'"},
      {ok + " --x 0 --y 0 --size 256 --precision bf16", "--precision bf16: GPU only"},
      {ok + " --x 0 --y 0 --size 256 --batch 0", "--batch"},
      {ok + " --x 0 --y 0 --size 256 --threads -1", "--threads must be at least 0"},
      {ht::temp_path("heatmap_nope.tif") + model_flags() + " --out " + out + " --x 0 --y 0", "heatmap_nope.tif"},
      {f.slide + " --vit256 " + missing_model + " --vit4k " + f.vit4k + " --out " + out + " --x 0 --y 0 --size 256",
       "heatmap_missing.safetensors"},
      {f.slide + " --vit256 " + f.vit4k + " --vit4k " + f.vit4k + " --out " + out + " --x 0 --y 0 --size 256",
       "heatmap_vit4k.safetensors"},
      {f.slide + model_flags() + " --out " + out + " --x 0 --y 0 --size 256 --magnification 13", "heatmap_slide.tif"},
  };
  for (const auto& [args, needle] : cases) {
    CliRun r = hipt_heatmap(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_THAT(r.err, ::testing::HasSubstr(needle)) << args;
  }
  EXPECT_FALSE(std::filesystem::exists(out));  // every error comes before the output folder
  // An --out that is a file: one error line naming it, not a std::filesystem message.
  const std::string file = ht::temp_path("heatmap_out_is_a_file");
  ht::write_bytes(file, "x");
  CliRun r = hipt_heatmap(f.slide + model_flags() + " --out " + file + " --x 0 --y 0 --size 256");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err.rfind("error: heatmap: --out " + file + ": cannot create the folder", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
