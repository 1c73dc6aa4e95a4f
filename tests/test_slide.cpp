// The slide reader on the real samples in ../shared/wsi-samples: geometry, properties and
// whole-level pixel digests against the golden values of SOURCES.md (OpenSlide 3.4.1) and, for the
// two files OpenSlide 3.4.1 decodes wrongly, against tests/data/slide_digests.txt
// (scripts/make_slide_digests.py: tifffile for boxes.tiff, vips for yb10kx5k.zstd.tiff).
#include <fstream>
#include <sstream>
#include <thread>

#include "io/sha256.h"
#include "slide_testing.h"

using hipt::io::Slide;
using hipt::testing::digest16;
using hipt::testing::sample;

namespace {

std::string whole_level_digest(const Slide& s, int level) {
  const auto& lv = s.level(level);
  return digest16(s.read_region(0, 0, level, lv.width, lv.height));
}

}  // namespace

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(hipt::io::sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hipt::io::sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(hipt::io::sha256_hex(two_blocks.data(), two_blocks.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  hipt::io::Sha256 pieces;  // fed in uneven pieces across block boundaries
  std::string million(1000000, 'a');
  for (size_t i = 0; i < million.size(); i += 997) pieces.update(million.data() + i, std::min<size_t>(997, million.size() - i));
  EXPECT_EQ(pieces.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(SlideSamples, CmuSmallRegionAperioJpegRgb) {
  HIPT_REQUIRE_SAMPLES();
  auto s = Slide::open(sample("CMU-1-Small-Region.svs"));
  EXPECT_EQ(s->vendor(), "aperio");
  ASSERT_EQ(s->level_count(), 1);
  EXPECT_EQ(s->level(0).width, 2220);
  EXPECT_EQ(s->level(0).height, 2967);
  EXPECT_EQ(s->level(0).tile_width, 240);
  const auto& p = s->properties();
  EXPECT_EQ(p.at("openslide.mpp-x"), "0.499");
  EXPECT_EQ(p.at("openslide.mpp-y"), "0.499");
  EXPECT_EQ(p.at("openslide.objective-power"), "20");
  EXPECT_EQ(p.at("openslide.quickhash-1"), "6335ea0e6cc54c2cba64bb265d3c713a50cd84484924e3a9c109558c13521d5c");
  EXPECT_EQ(p.at("aperio.ScanScope ID"), "CPAPERIOCS");
  EXPECT_EQ(p.at("aperio.MPP"), "0.4990");
  EXPECT_EQ(p.at("tiff.ResolutionUnit"), "inch");
  EXPECT_EQ(s->associated_image_names(), (std::vector<std::string>{"label", "macro", "thumbnail"}));
  EXPECT_EQ(whole_level_digest(*s, 0), "a66ec88c6f9d1e13");
  auto thumb = s->read_associated_image("thumbnail");
  EXPECT_EQ(thumb.shape(), hipt::Shape({768, 574, 4}));
  EXPECT_EQ(digest16(thumb), "bcda0d33531bd7f8");
  auto label = s->read_associated_image("label");
  EXPECT_EQ(label.shape(), hipt::Shape({463, 387, 4}));
  EXPECT_EQ(digest16(label), "37c25512a98c4e5c");
  auto macro = s->read_associated_image("macro");
  EXPECT_EQ(macro.shape(), hipt::Shape({431, 1280, 4}));
  EXPECT_EQ(digest16(macro), "de3fbc722e8a24a3");
  EXPECT_EQ(p.at("openslide.associated.label.width"), "387");
  EXPECT_EQ(p.at("openslide.associated.macro.height"), "431");
}

TEST(SlideSamples, TcgaAperioJpeg2000) {
  HIPT_REQUIRE_SAMPLES();
  auto s = Slide::open(sample("tcga-cr-7395-01a-01-ts1-jp2k33005.svs"));
  EXPECT_EQ(s->vendor(), "aperio");
  ASSERT_EQ(s->level_count(), 2);
  EXPECT_EQ(s->level(1).width, 2221);
  EXPECT_EQ(s->level(1).height, 1783);
  EXPECT_DOUBLE_EQ(s->level(1).downsample, 2.0005055500659967);
  const auto& p = s->properties();
  EXPECT_EQ(p.at("openslide.level[1].downsample"), "2.0005055500659967");
  EXPECT_EQ(p.count("openslide.mpp-x"), 0u);
  EXPECT_EQ(p.count("openslide.objective-power"), 0u);
  EXPECT_EQ(p.at("openslide.quickhash-1"), "a07b51d43e299d75615f06095d0c5ee76d257b6060c65bc4d2e0ce758793bbea");
  EXPECT_EQ(p.at("aperio.ICC Profile"), "IEC 61966-2.1 Default RGB colour space - sRGB");
  EXPECT_EQ(s->icc_profile().size(), 3144u);
  EXPECT_EQ(p.at("openslide.icc-size"), "3144");
  EXPECT_EQ(s->associated_image_names(), (std::vector<std::string>{"thumbnail"}));
  EXPECT_EQ(whole_level_digest(*s, 0), "0dcdfa3fffea003a");
  EXPECT_EQ(whole_level_digest(*s, 1), "30947eab0341aa9d");
  EXPECT_EQ(digest16(s->read_associated_image("thumbnail")), "2a0c9cbaa5fe1bc8");
}

TEST(SlideSamples, SmallSvsTileLargerThanImage) {
  HIPT_REQUIRE_SAMPLES();
  auto s = Slide::open(sample("small.svs"));
  EXPECT_EQ(s->vendor(), "aperio");
  ASSERT_EQ(s->level_count(), 1);
  EXPECT_EQ(s->level(0).width, 16);
  EXPECT_EQ(s->level(0).tile_width, 64);
  EXPECT_EQ(s->properties().at("openslide.level[0].tile-height"), "64");
  EXPECT_EQ(s->properties().at("openslide.quickhash-1"),
            "1eaa4a1693dd7a48286bb6f3dd70457dab6bb6395f3071dfd7d80beb3f2dc4e4");
  EXPECT_EQ(whole_level_digest(*s, 0), "5402b60e181df01c");
  EXPECT_EQ(digest16(s->read_associated_image("thumbnail")), "bc4003a51c83e2bf");
  // Past the 16x16 image, inside the 64x64 tile: transparent.
  auto r = s->read_region(8, 8, 0, 16, 16);
  const uint8_t* px = r.data<uint8_t>();
  EXPECT_EQ(px[(7 * 16 + 7) * 4 + 3], 255);
  EXPECT_EQ(px[(8 * 16 + 8) * 4 + 3], 0);
  EXPECT_EQ(px[(8 * 16 + 8) * 4 + 0], 0);
}

// tests/data/slide_digests.txt lines: "<file> <what> <sha256[:16]>".
std::map<std::string, std::string> fixture_digests() {
  std::ifstream f(std::string(HIPT_TEST_DATA) + "/slide_digests.txt");
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string file, what, digest;
    in >> file >> what >> digest;
    out[file + " " + what] = digest;
  }
  return out;
}

TEST(SlideSamples, BoxesGenericDeflateWithEdgeTiles) {
  HIPT_REQUIRE_SAMPLES();
  auto s = Slide::open(sample("boxes.tiff"));
  EXPECT_EQ(s->vendor(), "generic-tiff");
  ASSERT_EQ(s->level_count(), 4);
  const int64_t dims[4][2] = {{300, 250}, {150, 125}, {75, 62}, {37, 31}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s->level(i).width, dims[i][0]);
    EXPECT_EQ(s->level(i).height, dims[i][1]);
  }
  EXPECT_DOUBLE_EQ(s->level(2).downsample, 4.016129032258064);
  EXPECT_DOUBLE_EQ(s->level(3).downsample, 8.086312118570184);
  const auto& p = s->properties();
  EXPECT_EQ(p.at("openslide.level[2].downsample"), "4.0161290322580641");
  EXPECT_EQ(p.at("openslide.level[3].downsample"), "8.0863121185701843");
  EXPECT_EQ(p.at("openslide.level[1].downsample"), "2");
  EXPECT_EQ(p.at("tiff.XResolution"), "28.346456527709961");
  EXPECT_EQ(p.at("tiff.ResolutionUnit"), "centimeter");
  EXPECT_EQ(p.at("openslide.quickhash-1"), "8598af2eacecc99dbac4f1af10bc2f82e88c86ec2d2c44f5e3afd0839d97d57b");
  EXPECT_NEAR(std::stod(p.at("openslide.mpp-x")), 352.78, 0.01);  // OpenSlide >= 4.0's rule
  EXPECT_EQ(s->icc_profile().size(), 588u);
  EXPECT_TRUE(s->associated_image_names().empty());
  // openslide-python's own assertions on this file.
  EXPECT_EQ(s->best_level_for_downsample(0.5), 0);
  EXPECT_EQ(s->best_level_for_downsample(3), 1);
  EXPECT_EQ(s->best_level_for_downsample(37), 3);
  EXPECT_EQ(s->best_level_for_downsample(1), 0);
  EXPECT_EQ(s->best_level_for_downsample(2), 1);
  EXPECT_EQ(s->best_level_for_downsample(4.01), 1);
  EXPECT_EQ(s->best_level_for_downsample(4.016129032258064), 2);
  auto want = fixture_digests();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(whole_level_digest(*s, i), want.at("boxes.tiff level" + std::to_string(i))) << i;
}

TEST(SlideSamples, YellowBlueZstdGeneric) {
  HIPT_REQUIRE_SAMPLES();
  auto s = Slide::open(sample("yb10kx5k.zstd.tiff"));
  EXPECT_EQ(s->vendor(), "generic-tiff");
  ASSERT_EQ(s->level_count(), 5);
  EXPECT_EQ(s->level(4).width, 625);
  EXPECT_EQ(s->level(4).height, 312);
  EXPECT_DOUBLE_EQ(s->level(4).downsample, 16.01282051282051);
  EXPECT_EQ(s->properties().at("openslide.level[4].downsample"), "16.012820512820511");
  EXPECT_EQ(s->properties().at("openslide.quickhash-1"),
            "f2728ff22cc75f919b619629b4242c52d3c990c00286cf8993dfe14d016a9277");
  auto want = fixture_digests();
  for (int i = 1; i < 5; ++i) EXPECT_EQ(whole_level_digest(*s, i), want.at("yb10kx5k.zstd.tiff level" + std::to_string(i))) << i;
}

// Level 0 is 50 Mpx (200 MB of RGBA): seconds in Release, much longer under the sanitizers.
TEST(SlideSamples, YellowBlueZstdLevel0Heavy) {
  HIPT_REQUIRE_SAMPLES();
  auto s = Slide::open(sample("yb10kx5k.zstd.tiff"));
  EXPECT_EQ(whole_level_digest(*s, 0), fixture_digests().at("yb10kx5k.zstd.tiff level0"));
}

TEST(SlideSamples, ConcurrentReadsAgreeWithSerialReads) {
  HIPT_REQUIRE_SAMPLES();
  hipt::io::SlideOptions small_cache;
  small_cache.cache_bytes = 1 << 20;  // forces evictions while the threads read
  auto s = Slide::open(sample("CMU-1-Small-Region.svs"), small_cache);
  auto serial = Slide::open(sample("CMU-1-Small-Region.svs"), {int64_t{1} << 28, 0, 1});
  std::vector<std::string> want;
  for (int i = 0; i < 8; ++i) want.push_back(digest16(serial->read_region(i * 211, i * 307, 0, 700, 500)));
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep)
        for (int i = 0; i < 8; ++i)
          if (digest16(s->read_region(i * 211, i * 307, 0, 700, 500)) != want[static_cast<size_t>(i)]) ++bad[static_cast<size_t>(t)];
    });
  for (auto& th : threads) th.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}
