// hipt embed end to end, through the CLI as a user runs it: slides written with our TIFF writer
// (tissue-coloured blobs on white, 20x and 40x) and CMU-1-Small-Region.svs, small regions (256 or
// 512 px) and fixture weights. The features are compared with the in-process encoder or with
// `hipt read-region` + `hipt embed-region`; the coords with `hipt tiles`.
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <filesystem>
#include <thread>

#include "hipt/models/region_encoder.h"
#include "hipt/pipeline/embed_pipeline.h"
#include "io/magnification.h"
#include "io/safetensors.h"
#include "io/tiff_writer.h"
#include "embed_testing.h"
#include "slide_testing.h"
#include "vit_fixture_formula.h"

namespace {
using namespace hipt;
namespace ht = hipt::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

using ht::CliRun;
using ht::expect_same_output;
using ht::fixture_models;
using ht::fresh_dir;
using ht::model_flags;
using ht::parse_summary;
using ht::small_image;
using ht::tissue_image;
using ht::write_slide;

// `launcher`: a command put in front of hipt (mpiexec).
CliRun hipt_cli(const std::string& args, const std::string& launcher = "") { return ht::run_hipt(args, launcher); }

// Nearest-neighbour 2x: a 40x scan of the same tissue.
Tensor upsample_2x(const Tensor& img) {
  const int64_t h = img.size(0), w = img.size(1);
  std::vector<uint8_t> src = ops::to_vector<uint8_t>(img), v(static_cast<size_t>(4 * h * w * 3));
  for (int64_t y = 0; y < 2 * h; ++y)
    for (int64_t x = 0; x < 2 * w; ++x)
      for (int64_t c = 0; c < 3; ++c)
        v[static_cast<size_t>((y * 2 * w + x) * 3 + c)] = src[static_cast<size_t>(((y / 2) * w + x / 2) * 3 + c)];
  return ops::from_vector(v, {2 * h, 2 * w, 3});
}

// The shared slides, in a folder of their own so their names (and output names) are plain.
const std::string& slides_dir() {
  static const std::string dir = fresh_dir("embed_slides");
  return dir;
}

// small_image at 20x (mpp 0.5).
const std::string& small_slide() {
  static const std::string path = [] {
    const std::string p = slides_dir() + "/embed_small.svs";
    write_slide(p, small_image(), 20);
    return p;
  }();
  return path;
}

// Only background.
const std::string& blank_slide() {
  static const std::string path = [] {
    const std::string p = slides_dir() + "/embed_blank.svs";
    write_slide(p, tissue_image(512, 512, {}), 20);
    return p;
  }();
  return path;
}

const char* kTiling = " --a-t 0.05 --a-h 0.01";

std::vector<int64_t> csv_coords(const std::string& csv) {
  std::vector<int64_t> out;
  std::istringstream s(csv);
  std::string line;
  std::getline(s, line);
  EXPECT_EQ(line, "x,y");
  for (int64_t x, y; std::getline(s, line);) {
    char comma;
    std::istringstream(line) >> x >> comma >> y;
    out.push_back(x), out.push_back(y);
  }
  return out;
}

// Features of one slide file against the in-process encoder on read_region_at_target_mag, region by region.
void expect_features_of(const std::string& out, const std::string& slide_path, int64_t size, double mag) {
  io::TensorMap t = io::read_safetensors(out);
  auto slide = io::Slide::open(slide_path);
  auto [vit256, vit4k] = fixture_models();
  RegionEncoder enc(vit256, vit4k, {64, AttentionMaps::None, {}});
  std::vector<int64_t> xy = ops::to_vector<int64_t>(t.at("coords"));
  const int64_t m = t.at("coords").size(0), n = (size / 256) * (size / 256);
  ASSERT_EQ(t.at("patch_features").shape(), Shape({m, n, 384}));
  ASSERT_EQ(t.at("region_features").shape(), Shape({m, 192}));
  for (int64_t i = 0; i < m; ++i) {
    RegionEmbedding e = enc.encode(io::read_region_at_target_mag(*slide, xy[2 * i], xy[2 * i + 1], mag, size));
    ht::expect_close(ops::select(t.at("patch_features"), 0, i), e.patch_features, 0, 0, "patch " + std::to_string(i));
    ht::expect_close(ops::select(t.at("region_features"), 0, i), e.region_feature, 0, 0, "region " + std::to_string(i));
  }
}

TEST(Embed, SlideStemAndPartialPath) {
  EXPECT_EQ(slide_stem("/a/b.ome.tif"), "b.ome");
  EXPECT_EQ(slide_stem("c.svs"), "c");
  EXPECT_EQ(partial_path_for("/o/b.ome.safetensors"), "/o/b.ome.safetensors.partial");
}

// Slides "a.svs" and "a.partial.svs": with partial files named <stem>.partial.safetensors the
// first slide's partial saves overwrote the second's output and its cleanup deleted it. Partial
// names now end in ".partial", which no output name does.
// A partial file resumes only under the same fingerprint, so it must change with everything that
// changes the features: precision and the kind of device among them (a resumed file never mixes
// f32 and bf16 rows), but not the GPU's index nor the folder the slide was moved to.
TEST(Embed, ResumeFingerprintCoversPrecisionAndDeviceKind) {
  const std::map<std::string, std::string> md = {
      {"magnification", "20"}, {"target_magnification", "20"}, {"region_size", "4096"},
      {"region_size_level0", "4096"}, {"vit256_sha256", "a"}, {"vit4k_sha256", "b"}, {"weights", "teacher"},
      {"version", "1"}, {"white_background", "false"}, {"precision", "f32"}, {"device", "cpu"}};
  const std::vector<io::Point> regions = {{0, 0}, {4096, 0}};
  const std::string slide = "/nowhere/a.svs";
  auto with = [&](const std::string& key, const std::string& value) {
    auto m = md;
    m[key] = value;
    return resume_fingerprint(slide, m, regions);
  };
  const std::string base = resume_fingerprint(slide, md, regions);
  EXPECT_EQ(base.size(), 64u);
  EXPECT_NE(with("precision", "tf32"), base);
  EXPECT_NE(with("precision", "bf16"), base);
  EXPECT_NE(with("precision", "bf16"), with("precision", "tf32"));
  EXPECT_NE(with("device", "cuda:0"), base);
  EXPECT_EQ(with("device", "cuda:0"), with("device", "cuda:1"));
  EXPECT_NE(with("vit4k_sha256", "c"), base);
  EXPECT_NE(resume_fingerprint(slide, md, {{0, 0}}), base);
  EXPECT_NE(resume_fingerprint("/nowhere/b.svs", md, regions), base);
  EXPECT_EQ(resume_fingerprint("/elsewhere/a.svs", md, regions), base);
}

TEST(EmbedCli, APartialFileNeverTakesTheNameOfAnotherSlidesOutput) {
  const std::string dir = fresh_dir("embed_partial_name"), a = dir + "/embed_pn.svs", b = dir + "/embed_pn.partial.svs";
  write_slide(a, small_image(), 20);
  fs::copy_file(a, b);
  const std::string args = model_flags() + " --out " + dir + "/out --size 256 --save-every 1" + kTiling;
  ASSERT_EQ(hipt_cli("embed " + b + args).code, 0);
  const std::string b_out = dir + "/out/embed_pn.partial.safetensors", b_bytes = ht::read_bytes(b_out);
  CliRun r = hipt_cli("embed " + a + args);  // saves a partial after every region, then removes it
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(parse_summary(r)["slides"][0]["warnings"].size(), 0u) << r.out;
  ASSERT_TRUE(ht::path_exists(b_out)) << "the other slide's output was deleted";
  EXPECT_EQ(ht::read_bytes(b_out), b_bytes);
  EXPECT_FALSE(ht::path_exists(dir + "/out/embed_pn.safetensors.partial"));
}

TEST(Embed, FileSha256MatchesTheOneShotDigestAndNamesAMissingFile) {
  const std::string p = ht::temp_path("embed_hash.bin");
  std::string bytes(3 << 20, 'x');
  for (size_t i = 0; i < bytes.size(); i += 4097) bytes[i] = static_cast<char>(i);
  ht::write_bytes(p, bytes);
  EXPECT_EQ(file_sha256(p), io::sha256_hex(bytes.data(), bytes.size()));
  ht::expect_error([] { file_sha256("/nonexistent/ckpt.pth"); }, {"/nonexistent/ckpt.pth"});
}

// 20x and 40x copies of one slide: coords as `hipt tiles` gives them, features as the encoder
// gives them, the metadata, and the summary.
TEST(EmbedCli, TwentyAndFortyXSlidesGiveTheTilesCoordsAndTheEncodersFeaturesHeavy) {
  const std::string dir = fresh_dir("embed_e2e"), s40 = ht::temp_path("embed_e2e40.svs");
  write_slide(s40, upsample_2x(small_image()), 40);
  const std::string tiling = std::string(" --size 512") + kTiling;
  CliRun r = hipt_cli("embed " + small_slide() + " " + s40 + model_flags() + " --out " + dir + tiling + " --batch 3");
  ASSERT_EQ(r.code, 0) << r.err;
  json s = parse_summary(r);
  EXPECT_EQ(s["done"], 2);
  EXPECT_EQ(s["failed"], 0);
  EXPECT_EQ(s["processes"], 1);
  for (const char* k : {"decode_wait", "decode", "vit256", "vit4k", "write"}) EXPECT_TRUE(s["timing"].contains(k)) << k;
  EXPECT_THAT(r.err, ::testing::HasSubstr("slide 2/2 " + fs::path(s40).filename().string()));  // progress

  for (const auto& [slide, mag] : {std::pair{small_slide(), 20.0}, std::pair{s40, 40.0}}) {
    const std::string out = dir + "/" + slide_stem(slide) + ".safetensors", csv = dir + "/tiles.csv";
    ASSERT_EQ(hipt_cli("tiles " + slide + " --out " + csv + tiling).code, 0);
    io::TensorMap t = io::read_safetensors(out);
    EXPECT_EQ(ops::to_vector<int64_t>(t.at("coords")), csv_coords(ht::read_bytes(csv))) << slide;
    EXPECT_GE(t.at("coords").size(0), 2) << slide;
    expect_features_of(out, slide, 512, mag);
    auto meta = io::read_safetensors_metadata(out);
    EXPECT_EQ(meta.at("slide"), slide);
    EXPECT_EQ(std::stod(meta.at("mpp")), 10.0 / mag);
    EXPECT_EQ(meta.at("level"), "0");
    EXPECT_EQ(std::stod(meta.at("magnification")), mag);
    EXPECT_EQ(meta.at("region_size"), "512");
    EXPECT_EQ(meta.at("region_size_level0"), mag == 40 ? "1024" : "512");
    EXPECT_EQ(json::parse(meta.at("tiling"))["a_t"], 0.05);
    EXPECT_EQ(meta.at("coords_source"), "segmentation");
    EXPECT_EQ(meta.at("weights"), "teacher");
    EXPECT_EQ(meta.at("white_background"), "false");
    EXPECT_EQ(meta.at("version"), HIPT_VERSION);
    const std::string vit256 = model_flags().substr(10, model_flags().find(' ', 10) - 10);
    EXPECT_EQ(meta.at("vit256"), vit256);
    EXPECT_EQ(meta.at("vit256_sha256"), file_sha256(vit256));
    EXPECT_EQ(meta.at("regions"), std::to_string(t.at("coords").size(0)));
  }
  EXPECT_FALSE(ht::path_exists(dir + "/embed_small.safetensors.partial"));
  // The 40x copy is the 20x image with each pixel doubled, so its box-averaged regions are the
  // 20x regions: the same grid (level-0 coords doubled) and the same features.
  io::TensorMap t20 = io::read_safetensors(dir + "/embed_small.safetensors");
  io::TensorMap t40 = io::read_safetensors(dir + "/" + slide_stem(s40) + ".safetensors");
  std::vector<int64_t> doubled = ops::to_vector<int64_t>(t20.at("coords"));
  for (int64_t& v : doubled) v *= 2;
  EXPECT_EQ(ops::to_vector<int64_t>(t40.at("coords")), doubled);
  EXPECT_EQ(ops::to_vector<float>(t40.at("region_features")), ops::to_vector<float>(t20.at("region_features")));
}

TEST(EmbedCli, RerunSkipsFinishedSlidesAndOverwriteRedoesThem) {
  const std::string dir = fresh_dir("embed_rerun"), out = dir + "/embed_small.safetensors";
  const std::string args = "embed " + small_slide() + model_flags() + " --out " + dir + " --size 256" + kTiling;
  ASSERT_EQ(hipt_cli(args).code, 0);
  const std::string first = ht::read_bytes(out);
  CliRun again = hipt_cli(args);
  ASSERT_EQ(again.code, 0) << again.err;
  json s = parse_summary(again);
  EXPECT_EQ(s["skipped"], 1);
  EXPECT_EQ(s["slides"][0]["status"], "skipped");
  EXPECT_GT(s["slides"][0]["regions"].get<int>(), 0);
  // A file whose header does not parse is not finished: it is redone.
  ht::write_bytes(out, "garbage");
  CliRun redo = hipt_cli(args);
  ASSERT_EQ(redo.code, 0) << redo.err;
  EXPECT_EQ(parse_summary(redo)["slides"][0]["status"], "done");
  EXPECT_EQ(ht::read_bytes(out), first);
  CliRun over = hipt_cli(args + " --overwrite");
  ASSERT_EQ(over.code, 0) << over.err;
  EXPECT_EQ(parse_summary(over)["done"], 1);
  EXPECT_EQ(ht::read_bytes(out), first);
}

// Errors of the whole run: one stderr line, exit 1, nothing written.
TEST(EmbedCli, ListWideErrorsStopBeforeAnyWork) {
  const std::string dir = fresh_dir("embed_bad_run"), out = dir + "/out";
  const std::string other = fresh_dir("embed_bad_run_other") + "/embed_small.tif";
  fs::copy_file(small_slide(), other);
  const std::string good = model_flags(), size = " --size 256";
  ht::write_bytes(dir + "/one.csv", "x,y\n0,0\n");
  struct Case {
    std::string args, says;
  };
  for (const Case& c : std::vector<Case>{
           {small_slide() + " " + other + good, "embed_small.safetensors"},
           {small_slide() + good + " --device cuda:99", "--device cuda"},
           {small_slide() + good + " --device tpu", "--device 'tpu'"},
           {small_slide() + good + " --device cuda:x", "--device 'cuda:x'"},
           {small_slide() + good + " --precision bf16", "--precision bf16: GPU only"},
           {small_slide() + good + " --precision tf32", "--precision tf32: GPU only"},
           {small_slide() + good + " --precision f16", "--precision 'f16': expected f32, tf32 or bf16"},
           {small_slide() + " --vit256 /nonexistent/v.pth --vit4k /nonexistent/k.pth", "/nonexistent/v.pth"},
           {small_slide() + good + " --shard 2/2", "--shard"},
           {small_slide() + good + " --size 128", "--size 128"},
           {small_slide() + " " + blank_slide() + good + " --coords " + dir + "/one.csv", "a file serves one slide"},
           {small_slide() + good + " --coords " + dir + "/none.csv", "--coords " + dir + "/none.csv: no such file"},
           {small_slide() + good + " --out " + dir + "/one.csv", "--out " + dir + "/one.csv: cannot create the folder"},
       }) {
    const bool own_out = c.args.find("--out") != std::string::npos;
    CliRun r = hipt_cli("embed " + c.args + (own_out ? "" : " --out " + out) +
                        (c.args.find("--size") == std::string::npos ? size : ""));
    EXPECT_EQ(r.code, 1) << c.args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << c.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
    EXPECT_THAT(r.err, ::testing::HasSubstr(c.says)) << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
  EXPECT_FALSE(ht::path_exists(out + "/embed_small.safetensors"));
  // Both paths of a duplicated name are named.
  CliRun dup = hipt_cli("embed " + small_slide() + " " + other + good + " --out " + out + size);
  EXPECT_THAT(dup.err, ::testing::HasSubstr(small_slide()));
  EXPECT_THAT(dup.err, ::testing::HasSubstr(other));
}

// A corrupt file, a missing file and a slide of unknown magnification among good slides.
TEST(EmbedCli, BadSlidesInAListAreReportedAndTheOthersFinish) {
  const std::string dir = fresh_dir("embed_bad_slides"), corrupt = dir + "/corrupt.svs", nomag = dir + "/nomag.tif";
  ht::write_bytes(corrupt, "II*\0not really a tiff");
  io::write_tiff_pyramid(nomag, tissue_image(512, 512, {{{256, 256, 200, 200}}}), {});
  const std::string missing = dir + "/missing.svs";
  CliRun r = hipt_cli("embed " + corrupt + " " + small_slide() + " " + missing + " " + nomag + " " + blank_slide() +
                      model_flags() + " --out " + dir + "/out --size 256" + kTiling);
  EXPECT_EQ(r.code, 1);
  json s = parse_summary(r);
  EXPECT_EQ(s["failed"], 3);
  EXPECT_EQ(s["done"], 2);
  ASSERT_EQ(s["slides"].size(), 5u);
  for (int i : {0, 2, 3}) {
    const std::string slide = s["slides"][i]["slide"];
    EXPECT_EQ(s["slides"][i]["status"], "failed");
    const std::string error = s["slides"][i]["error"];
    EXPECT_EQ(error.rfind(slide + ": ", 0), 0u) << error;
    EXPECT_THAT(r.err, ::testing::HasSubstr("error: " + error));
    EXPECT_FALSE(ht::path_exists(dir + "/out/" + slide_stem(slide) + ".safetensors"));
  }
  EXPECT_THAT(s["slides"][3]["error"].get<std::string>(), ::testing::HasSubstr("magnification"));
  EXPECT_TRUE(ht::path_exists(dir + "/out/embed_small.safetensors"));
  // The slide with no tissue: M = 0, with a warning.
  EXPECT_EQ(s["slides"][4]["status"], "done");
  EXPECT_EQ(s["slides"][4]["regions"], 0);
  ASSERT_EQ(s["slides"][4]["warnings"].size(), 1u);
  EXPECT_THAT(s["slides"][4]["warnings"][0].get<std::string>(), ::testing::HasSubstr("no tissue"));
  io::TensorMap blank = io::read_safetensors(dir + "/out/embed_blank.safetensors");
  EXPECT_EQ(blank.at("coords").shape(), Shape({0, 2}));
  EXPECT_EQ(blank.at("patch_features").shape(), Shape({0, 1, 384}));
  EXPECT_EQ(blank.at("region_features").shape(), Shape({0, 192}));
}

TEST(EmbedCli, CoordsFromAFileAndFromAFolder) {
  const std::string dir = fresh_dir("embed_coords");
  // One region inside, one past the right edge (black there, white with --white-background).
  ht::write_bytes(dir + "/one.csv", "x,y\n100,200\n600,0\n");
  CliRun r = hipt_cli("embed " + small_slide() + model_flags() + " --out " + dir + "/a --size 256 --coords " + dir +
                      "/one.csv");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string a = dir + "/a/embed_small.safetensors";
  io::TensorMap t = io::read_safetensors(a);
  EXPECT_EQ(ops::to_vector<int64_t>(t.at("coords")), (std::vector<int64_t>{100, 200, 600, 0}));
  EXPECT_EQ(io::read_safetensors_metadata(a).at("coords_source"), dir + "/one.csv");
  expect_features_of(a, small_slide(), 256, 20);

  // A folder: <stem>.csv per slide; a slide without one fails alone.
  fs::create_directories(dir + "/coords");
  fs::copy_file(dir + "/one.csv", dir + "/coords/embed_small.csv");
  CliRun f = hipt_cli("embed " + small_slide() + " " + blank_slide() + model_flags() + " --out " + dir +
                      "/b --size 256 --coords " + dir + "/coords");
  EXPECT_EQ(f.code, 1);
  json s = parse_summary(f);
  EXPECT_EQ(s["slides"][0]["status"], "done");
  EXPECT_EQ(s["slides"][1]["status"], "failed");
  EXPECT_THAT(s["slides"][1]["error"].get<std::string>(), ::testing::HasSubstr("embed_blank.h5"));
  expect_same_output(dir + "/b/embed_small.safetensors", a, /*same_metadata=*/false);  // coords_source differs

  // A bad coordinates file fails its slide, naming the file.
  ht::write_bytes(dir + "/bad.csv", "x,y\n1,oops\n");
  CliRun bad = hipt_cli("embed " + small_slide() + model_flags() + " --out " + dir + "/c --size 256 --coords " + dir +
                        "/bad.csv");
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, ::testing::HasSubstr("bad.csv"));
}

// CLAM's patches/<slide>.h5 in a --coords folder: its coords, and a warning that it was made
// for other region sizes (this fixture's patch_size is 4096; the regions here are 256).
TEST(EmbedCli, ClamH5CoordsInAFolder) {
  const std::string dir = fresh_dir("embed_h5");
  fs::create_directories(dir + "/patches");
  fs::copy_file(std::string(HIPT_TEST_DATA) + "/coords/clam_patches.h5", dir + "/patches/embed_small.h5");
  CliRun r = hipt_cli("embed " + small_slide() + model_flags() + " --out " + dir + "/out --size 256 --coords " + dir +
                      "/patches");
  ASSERT_EQ(r.code, 0) << r.err;
  io::TensorMap t = io::read_safetensors(dir + "/out/embed_small.safetensors");
  EXPECT_EQ(ops::to_vector<int64_t>(t.at("coords")),
            (std::vector<int64_t>{0, 0, 4096, 0, 0, 4096, 12288, 8192, 16384, 8192}));
  json s = parse_summary(r);
  ASSERT_EQ(s["slides"][0]["warnings"].size(), 1u);
  EXPECT_THAT(s["slides"][0]["warnings"][0].get<std::string>(), ::testing::HasSubstr("patch_size 4096"));
}

// The reader thread's failure (a region over the slide reader's pixel limit) fails the slide
// with its reason, without a hang or a crash.
TEST(EmbedCli, AReadErrorInTheReaderThreadFailsTheSlide) {
  const std::string dir = fresh_dir("embed_reader_error");
  ht::write_bytes(dir + "/c.csv", "x,y\n0,0\n");
  CliRun r = hipt_cli("embed " + small_slide() + model_flags() + " --out " + dir + "/out --size 16640 --coords " + dir +
                      "/c.csv");
  EXPECT_EQ(r.code, 1);
  json s = parse_summary(r);
  EXPECT_EQ(s["slides"][0]["status"], "failed");
  EXPECT_THAT(s["slides"][0]["error"].get<std::string>(), ::testing::HasSubstr("region 0 at (0, 0)"));
  EXPECT_THAT(r.err, ::testing::HasSubstr("pixel limit"));
  EXPECT_FALSE(ht::path_exists(dir + "/out/embed_small.safetensors"));
}

TEST(EmbedCli, WhiteBackgroundChangesOnlyRegionsPastTheEdge) {
  const std::string dir = fresh_dir("embed_white");
  ht::write_bytes(dir + "/c.csv", "x,y\n100,200\n600,0\n");
  for (const char* sub : {"/black", "/white"})
    ASSERT_EQ(hipt_cli("embed " + small_slide() + model_flags() + " --out " + dir + sub + " --size 256 --coords " +
                       dir + "/c.csv" + (sub[1] == 'w' ? " --white-background" : ""))
                  .code,
              0);
  io::TensorMap black = io::read_safetensors(dir + "/black/embed_small.safetensors");
  io::TensorMap white = io::read_safetensors(dir + "/white/embed_small.safetensors");
  auto region = [](const io::TensorMap& m, int64_t i) { return ops::to_vector<float>(ops::select(m.at("region_features"), 0, i)); };
  EXPECT_EQ(region(black, 0), region(white, 0));
  EXPECT_NE(region(black, 1), region(white, 1));
  EXPECT_EQ(io::read_safetensors_metadata(dir + "/white/embed_small.safetensors").at("white_background"), "true");
}

TEST(EmbedCli, ShardsTogetherGiveExactlyTheFilesOfOneRun) {
  const std::string dir = fresh_dir("embed_shards");
  const std::string list = small_slide() + " " + blank_slide() + " " + small_slide();
  const std::string args = model_flags() + " --size 256" + kTiling + " --out ";
  // The third entry repeats the first slide's stem: the check covers the whole list, not the shard.
  CliRun dup = hipt_cli("embed " + list + args + dir + "/s0 --shard 1/2");
  EXPECT_EQ(dup.code, 1);
  const std::string slides = small_slide() + " " + blank_slide();
  ASSERT_EQ(hipt_cli("embed " + slides + args + dir + "/all").code, 0);
  for (const char* shard : {"0/2", "1/2"}) {
    CliRun r = hipt_cli("embed " + slides + args + dir + "/shards --shard " + shard);
    ASSERT_EQ(r.code, 0) << r.err;
    json s = parse_summary(r);
    EXPECT_EQ(s["slides"].size(), 1u);
    EXPECT_EQ(s["shard"], shard);
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir + "/shards")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"embed_blank.safetensors", "embed_small.safetensors"}));
  for (const std::string& n : names) EXPECT_EQ(ht::read_bytes(dir + "/shards/" + n), ht::read_bytes(dir + "/all/" + n)) << n;
}

#ifdef HIPT_MPIEXEC
// `mpiexec -n 2 hipt embed`: the ranks split the list, rank 0 prints one merged summary, and the
// files equal those of one process.
TEST(EmbedCli, TwoMpiRanksGiveOneSummaryAndTheFilesOfOneRun) {
  const std::string dir = fresh_dir("embed_mpi");
  const std::string slides = small_slide() + " " + blank_slide();
  const std::string args = "embed " + slides + model_flags() + " --size 256" + kTiling + " --out ";
  ASSERT_EQ(hipt_cli(args + dir + "/one").code, 0);
  // Open MPI refuses root without the two variables, and two ranks on fewer cores without oversubscription.
  const std::string mpi = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
                          "HIPT_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=0 " HIPT_MPIEXEC " -n 2 ";
  CliRun r = hipt_cli(args + dir + "/mpi", mpi);
  ASSERT_EQ(r.code, 0) << r.err;
  json s = parse_summary(r);  // exactly one JSON document: only rank 0 prints
  EXPECT_EQ(s["processes"], 2);
  EXPECT_EQ(s["slides"].size(), 2u);
  EXPECT_EQ(s["done"], 2);
  for (const char* n : {"embed_small.safetensors", "embed_blank.safetensors"})
    EXPECT_EQ(ht::read_bytes(dir + "/mpi/" + n), ht::read_bytes(dir + "/one/" + n)) << n;
}
#endif

// Runs `hipt embed` in a child process; returns its pid.
pid_t spawn_embed(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    static const std::string cli = HIPT_CLI;
    argv.push_back(const_cast<char*>(cli.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1), dup2(null, 2);
    execv(cli.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Killed after its first partial save, a run resumes from the partial file and ends with the
// same file as an uninterrupted run; a partial made with other settings is ignored.
TEST(EmbedCli, ResumesAfterAKillAndIgnoresAPartialOfOtherSettingsHeavy) {
  const std::string dir = fresh_dir("embed_resume");
  const std::string slide = dir + "/embed_resume.svs";
  write_slide(slide, tissue_image(1536, 1024, {{{760, 500, 700, 460}}}), 20);
  const std::string flags = model_flags() + " --size 256 --a-t 0.05 --save-every 1 --out ";
  ASSERT_EQ(hipt_cli("embed " + slide + flags + dir + "/whole").code, 0);
  const std::string want = dir + "/whole/embed_resume.safetensors";
  const int64_t m = io::read_safetensors(want).at("coords").size(0);
  ASSERT_GE(m, 8);

  std::vector<std::string> args = {"embed", slide, "--size", "256", "--a-t", "0.05", "--save-every", "1", "--out",
                                   dir + "/cut"};
  std::istringstream mf(model_flags());
  for (std::string w; mf >> w;) args.push_back(w);
  const std::string partial = dir + "/cut/embed_resume.safetensors.partial";
  pid_t pid = spawn_embed(args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!ht::path_exists(partial) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(ht::path_exists(partial));
  ASSERT_FALSE(ht::path_exists(dir + "/cut/embed_resume.safetensors")) << "finished before the kill";
  const int64_t saved = std::stoll(io::read_safetensors_metadata(partial).at("regions"));
  EXPECT_LT(saved, m);

  CliRun r = hipt_cli("embed " + slide + flags + dir + "/cut");
  ASSERT_EQ(r.code, 0) << r.err;
  json s = parse_summary(r);
  EXPECT_EQ(s["slides"][0]["status"], "resumed");
  EXPECT_GE(s["slides"][0]["regions_resumed"].get<int64_t>(), saved);
  EXPECT_THAT(r.err, ::testing::HasSubstr("resuming"));
  expect_same_output(dir + "/cut/embed_resume.safetensors", want);
  EXPECT_FALSE(ht::path_exists(partial));

  // A partial of another run (different fingerprint), with wrong features: ignored, started over.
  fs::create_directories(dir + "/other");
  io::TensorMap t = io::read_safetensors(want);
  auto meta = io::read_safetensors_metadata(want);
  meta["fingerprint"] = std::string(64, '0');
  io::write_safetensors(dir + "/other/embed_resume.safetensors.partial",
                        {{"coords", t.at("coords")},
                         {"patch_features", ops::zeros(t.at("patch_features").shape())},
                         {"region_features", ops::zeros(t.at("region_features").shape())}},
                        meta);
  CliRun o = hipt_cli("embed " + slide + flags + dir + "/other");
  ASSERT_EQ(o.code, 0) << o.err;
  json os = parse_summary(o);
  EXPECT_EQ(os["slides"][0]["status"], "done");
  EXPECT_THAT(os["slides"][0]["warnings"][0].get<std::string>(), ::testing::HasSubstr("starting over"));
  expect_same_output(dir + "/other/embed_resume.safetensors", want);
}

// The real slide, as a user would check it: `hipt tiles` gives the coords, and `hipt read-region`
// (level 0) + `hipt embed-region` give each region's features.
TEST(EmbedCli, CmuSmallRegionEqualsTilesPlusReadRegionPlusEmbedRegionHeavy) {
  HIPT_REQUIRE_SAMPLES();
  const std::string dir = fresh_dir("embed_cmu"), slide = ht::sample("CMU-1-Small-Region.svs");
  const std::string tiling = " --size 512 --a-t 1 --a-h 1";
  CliRun r = hipt_cli("embed " + slide + model_flags() + " --out " + dir + tiling);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(hipt_cli("tiles " + slide + " --out " + dir + "/tiles.csv" + tiling).code, 0);
  io::TensorMap t = io::read_safetensors(dir + "/CMU-1-Small-Region.safetensors");
  std::vector<int64_t> xy = ops::to_vector<int64_t>(t.at("coords"));
  EXPECT_EQ(xy, csv_coords(ht::read_bytes(dir + "/tiles.csv")));
  const int64_t m = t.at("coords").size(0);
  ASSERT_GE(m, 3);
  for (int64_t i : {int64_t{0}, m / 2, m - 1}) {
    const std::string png = dir + "/region.png", one = dir + "/one.safetensors";
    ASSERT_EQ(hipt_cli("read-region " + slide + " --level 0 --x " + std::to_string(xy[2 * i]) + " --y " +
                       std::to_string(xy[2 * i + 1]) + " --width 512 --height 512 --out " + png)
                  .code,
              0);
    ASSERT_EQ(hipt_cli("embed-region --image " + png + model_flags() + " --out " + one).code, 0);
    io::TensorMap e = io::read_safetensors(one);
    ht::expect_close(ops::select(t.at("patch_features"), 0, i), e.at("patch_features"), 0, 0, "patch");
    ht::expect_close(ops::select(t.at("region_features"), 0, i), e.at("region_feature"), 0, 0, "region");
  }
}

}  // namespace
