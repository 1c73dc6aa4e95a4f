// The hipt command line: help, version, doctor, and the one-line error contract for bad flags.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hipt/models/region_encoder.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "tensor/backend.h"
#include "tensor/ops.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace {
struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
  std::string err;  // stderr alone
};

CliRun run_cli(const std::string& args) {
  // ctest runs tests in parallel processes: each call gets its own stderr file.
  std::string err_file = ::testing::TempDir() + "/hipt_cli_stderr_XXXXXX";
  int fd = mkstemp(err_file.data());
  if (fd >= 0) close(fd);
  std::string cmd = std::string(HIPT_CLI) + " " + args + " 2>" + err_file;
  CliRun r{0, "", ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  FILE* e = fopen(err_file.c_str(), "r");
  while (e && (n = fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
  if (e) fclose(e);
  std::remove(err_file.c_str());
  return r;
}
}  // namespace

TEST(Cli, HelpVersionDoctor) {
  CliRun help = run_cli("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, ::testing::HasSubstr("doctor"));
  EXPECT_THAT(help.out, ::testing::HasSubstr("demo"));
  CliRun version = run_cli("--version");
  EXPECT_EQ(version.code, 0);
  EXPECT_THAT(version.out, ::testing::HasSubstr(std::string("hipt ") + HIPT_VERSION));
  CliRun doctor = run_cli("doctor");
  EXPECT_EQ(doctor.code, 0);
  for (const char* field :
       {"build type:", "simd detected:", "gemm kernel:", "threads:", "kernels:", "mpi:", "cuda:", "gpu"})
    EXPECT_THAT(doctor.out, ::testing::HasSubstr(field));
  const size_t all = hipt::kernel_entries(hipt::backend(hipt::DeviceType::CPU)).size();
  EXPECT_THAT(doctor.out, ::testing::HasSubstr(fmt::format("kernels:         cpu {0}/{0}, cuda ", all)));
}

TEST(Cli, BadFlagIsOneErrorLine) {
  for (const char* args : {"--bogus", "demo --max-regions -3", "demo --seed x", "nosuchcommand"}) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

// The model flags are one set, accepted by embed-region, embed and heatmap alike; a number out of
// bounds is a parse error (exit 2) that states the bound in words.
TEST(Cli, ModelFlagBoundsAreStatedInWords) {
  const std::string models = " --vit256 v.safetensors --vit4k k.safetensors";
  for (const std::string& command : {"embed-region --image r.png --out o.safetensors" + models,
                                     "embed s.svs --out never_dir" + models,
                                     "heatmap s.svs --x 0 --y 0 --out never_dir" + models}) {
    for (const auto& [flag, says] : std::vector<std::pair<std::string, std::string>>{
             {" --batch 0", "--batch must be at least 1"},
             {" --batch -5", "--batch must be at least 1"},
             {" --threads 2000", "--threads must be at most 1024"},
             {" --threads -1", "--threads must be at least 0"}}) {
      CliRun r = run_cli(command + flag + " --device cpu");
      EXPECT_EQ(r.code, 2) << command << flag;
      EXPECT_EQ(r.err, "error: " + says + " (see hipt --help)\n") << command << flag;
    }
  }
}

TEST(Cli, NumberFlagBoundsAreStatedInWords) {
  const std::string embed = "embed s.svs --out never_dir --vit256 v.safetensors --vit4k k.safetensors";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"tiles s.svs --out c.csv --size 0", "--size must be at least 1"},
           {"tiles s.svs --out c.csv --step 0", "--step must be at least 1"},
           {"tiles s.svs --out c.csv --target-mag 0", "--target-mag must be greater than 0"},
           {"tiles s.svs --out c.csv --mthresh 0", "--mthresh must be at least 1"},
           {"tiles s.svs --out c.csv --min-tissue 1.5", "--min-tissue must be at most 1"},
           {"tiles s.svs --out c.csv --sthresh 256", "--sthresh must be at most 255"},
           {"tiles s.svs --out c.csv --a-h -1", "--a-h must be at least 0"},
           {"tiles s.svs --out c.csv --max-n-holes -1", "--max-n-holes must be at least 0"},
           {embed + " --prefetch 0", "--prefetch must be at least 1"},
           {embed + " --save-every 0", "--save-every must be at least 1"},
           {embed + " --size 0", "--size must be at least 1"},
           {"heatmap s.svs --x 0 --y 0 --out never_dir --vit256 v --vit4k k --target-mag 0",
            "--target-mag must be greater than 0"},
           {"demo --size 0", "--size must be at least 1"},
           {"demo --max-regions -1", "--max-regions must be at least 0"}}) {
    CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.err, "error: " + says + " (see hipt --help)\n") << args;
  }
}

// hipt info / read-region on the samples; bad slides and arguments end as one "error:" line.
// bench-attention on a tiny CPU shape: a row per CPU implementation, or one JSON object with the
// same results; impossible combinations are one error line.
TEST(Cli, BenchAttentionTimesEveryCpuImplementation) {
  const std::string shape = "bench-attention --batch 1 --heads 2 --seq 17 --dim 32 --reps 2 --warmup 0";
  CliRun table = run_cli(shape + " --impl all");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, ::testing::HasSubstr("attention forward: B=1 H=2 T=17 D=32 f32 on cpu"));
  EXPECT_THAT(table.out, ::testing::ContainsRegex("\ncomposite +[0-9.]+ +[0-9.]+ +[0-9.]+"));
  EXPECT_THAT(table.out, ::testing::ContainsRegex("\nfused +[0-9.]+ +[0-9.]+ +[0-9.]+"));
  EXPECT_THAT(table.out, ::testing::Not(::testing::HasSubstr("flash")));

  CliRun json = run_cli(shape + " --impl all --json --causal --backward");
  ASSERT_EQ(json.code, 0) << json.err;
  const nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["seq"], 17);
  EXPECT_EQ(j["dim"], 32);
  EXPECT_EQ(j["causal"], true);
  EXPECT_EQ(j["pass"], "backward");
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_TRUE(j["peak_tflops"].is_null());
  // 2.5 × 4·B·H·T²·D, halved for causal
  EXPECT_DOUBLE_EQ(j["flops"].get<double>(), 2.5 * 4 * 2 * 17 * 17 * 32 * 0.5);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["impl"], "composite");
  EXPECT_EQ(j["results"][1]["impl"], "fused");
  for (const auto& r : j["results"]) {
    EXPECT_GT(r["median_ms"].get<double>(), 0);
    EXPECT_GT(r["tflops"].get<double>(), 0);
    EXPECT_TRUE(r["percent_of_peak"].is_null());
  }

  CliRun one = run_cli(shape + " --impl auto --json");
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(nlohmann::json::parse(one.out)["results"][0]["impl"], "fused");
}

TEST(Cli, BenchAttentionImpossibleCombinationsAreOneErrorLine) {
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"--impl flash", "error: attention: the flash implementation runs on CUDA, not on cpu"},
           {"--dtype bf16", "error: bench-attention: --dtype bf16 runs on CUDA only"},
           {"--dtype f16", "error: bench-attention: --dtype 'f16': expected f32 or bf16"},
           {"--impl bogus", "error: attention: unknown implementation 'bogus'"},
           {"--device cuda:99", "error: --device cuda:99"},
           {"--batch 0", "error: --batch must be at least 1"},
       }) {
    CliRun r = run_cli("bench-attention --seq 17 --dim 32 --reps 1 " + args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(r.err.rfind(says, 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

TEST(CliSlide, InfoAndReadRegion) {
  std::string samples = HIPT_SAMPLES;
  if (std::system(("test -d " + samples).c_str()) != 0) GTEST_SKIP() << "no samples at " << samples;
  CliRun info = run_cli("info " + samples + "/boxes.tiff");
  ASSERT_EQ(info.code, 0) << info.err;
  for (const char* field : {"\"vendor\": \"generic-tiff\"", "\"level_count\": 4", "\"levels\"", "\"downsample\"",
                            "\"tile_width\": 64", "\"properties\"", "\"openslide.quickhash-1\"", "\"associated_images\": []"})
    EXPECT_THAT(info.out, ::testing::HasSubstr(field));
  CliRun svs = run_cli("info " + samples + "/CMU-1-Small-Region.svs");
  ASSERT_EQ(svs.code, 0) << svs.err;
  EXPECT_THAT(svs.out, ::testing::HasSubstr("\"thumbnail\""));
  std::string png = ::testing::TempDir() + "/cli_region.png";
  CliRun region = run_cli("read-region " + samples + "/boxes.tiff --level 1 --x -4 --y 10 --width 40 --height 30 --out " + png);
  ASSERT_EQ(region.code, 0) << region.err;
  hipt::Tensor img = hipt::io::read_png(png);
  EXPECT_EQ(img.shape(), hipt::Shape({30, 40, 4}));
  EXPECT_EQ(img.data<uint8_t>()[3], 0);           // x = -4 at ds 2: two transparent columns
  EXPECT_EQ(img.data<uint8_t>()[2 * 4 + 3], 255);
}

TEST(CliSlide, ErrorsAreOneLine) {
  std::string missing = ::testing::TempDir() + "/no_such_slide.svs";
  std::string samples = HIPT_SAMPLES;
  std::vector<std::string> cases = {"info " + missing, "info",
                                    "read-region " + missing + " --level 0 --x 0 --y 0 --width 1 --height 1 --out x.png"};
  if (std::system(("test -d " + samples).c_str()) == 0) {
    cases.push_back("read-region " + samples + "/boxes.tiff --level 9 --x 0 --y 0 --width 4 --height 4 --out " +
                    ::testing::TempDir() + "/never.png");
    cases.push_back("read-region " + samples + "/boxes.tiff --level 0 --x 0 --y 0 --width -4 --height 4 --out " +
                    ::testing::TempDir() + "/never.png");
  }
  for (const std::string& args : cases) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

TEST(Cli, ConvertCheckpointWritesTheTeacherBackbone) {
  const std::string data = std::string(HIPT_TEST_DATA) + "/pth/";
  const std::string out = ::testing::TempDir() + "hipt_cli_convert.safetensors";
  CliRun r = run_cli("convert-checkpoint " + data + "dino.pth " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("from 'teacher'"));
  hipt::io::TensorMap got = hipt::io::read_safetensors(out);
  hipt::io::TensorMap want = hipt::io::read_safetensors(data + "dino_teacher.expected.safetensors");
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want)
    EXPECT_EQ(hipt::ops::to_vector<float>(got.at(name)), hipt::ops::to_vector<float>(t)) << name;
  auto meta = hipt::io::read_safetensors_metadata(out);
  EXPECT_EQ(meta.at("source"), "dino.pth");
  EXPECT_EQ(meta.at("source_part"), "teacher");
  ASSERT_EQ(run_cli("convert-checkpoint " + data + "dino.pth " + out + " --student").code, 0);
  EXPECT_EQ(hipt::io::read_safetensors_metadata(out).at("source_part"), "student");
  std::remove(out.c_str());
}

TEST(Cli, ConvertCheckpointErrorsAreOneLine) {
  const std::string data = std::string(HIPT_TEST_DATA) + "/pth/";
  const std::string out = ::testing::TempDir() + "hipt_cli_convert_bad.safetensors";
  for (std::string args : {"convert-checkpoint " + data + "evil.pth " + out,
                           "convert-checkpoint /nonexistent/x.pth " + out,
                           "convert-checkpoint " + data + "backbone_f16.pth " + out + " --student",
                           "convert-checkpoint " + data + "dino.pth /proc/nope/out.safetensors",
                           std::string("convert-checkpoint ") + data + "dino.pth"}) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
  std::ifstream missing(out);
  EXPECT_FALSE(missing.good());
}

// embed-region end to end: checkpoints and region written here, features compared with the
// in-process encoder (whose parity with PyTorch is tested in test_vit.cpp).
TEST(Cli, EmbedRegionWritesTheEncodersFeatures) {
  using namespace hipt;  // NOLINT
  const std::string dir = ::testing::TempDir() + "hipt_cli_embed_" + std::to_string(getpid()) + "/";
  auto vit256 = vit256_small(0, false);
  auto vit4k = vit4k_xs(0, false);
  hipt::testing::set_fixture_weights(*vit256);
  hipt::testing::set_fixture_weights(*vit4k);
  // ViT-256 as a bare backbone state dict, ViT-4K with DINO's teacher prefix: both key layouts load.
  io::write_safetensors(dir + "vit256.safetensors", vit256->state_dict());
  io::TensorMap prefixed;
  for (const auto& [name, t] : vit4k->state_dict()) prefixed["teacher.backbone." + name] = t;
  io::write_safetensors(dir + "vit4k.safetensors", prefixed);
  Tensor region = hipt::testing::fixture_region_u8(300, 530);  // crops to 256x512: 2 patches
  io::write_png(dir + "region.png", region);

  CliRun r = run_cli("embed-region --image " + dir + "region.png --vit256 " + dir + "vit256.safetensors --vit4k " + dir +
                     "vit4k.safetensors --batch 1 --out " + dir + "out.safetensors");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("\"patches\": 2"));
  io::TensorMap got = io::read_safetensors(dir + "out.safetensors");
  RegionEmbedding want = RegionEncoder(vit256, vit4k, {1, AttentionMaps::None, {}}).encode(region);
  ASSERT_EQ(got.at("patch_features").shape(), Shape({2, 384}));
  hipt::testing::expect_close(got.at("patch_features"), want.patch_features, 0, 0);
  hipt::testing::expect_close(got.at("region_feature"), want.region_feature, 0, 0);
  auto meta = io::read_safetensors_metadata(dir + "out.safetensors");
  EXPECT_EQ(meta.at("crop_top"), "22");
  EXPECT_EQ(meta.at("crop_left"), "9");
  EXPECT_EQ(meta.at("device"), "cpu");  // where and in what precision the features were computed
  EXPECT_EQ(meta.at("precision"), "f32");
  // The model flags of embed and heatmap: --device cpu and --threads run the same encoder.
  CliRun cpu = run_cli("embed-region --image " + dir + "region.png --vit256 " + dir + "vit256.safetensors --vit4k " +
                       dir + "vit4k.safetensors --device cpu --threads 1 --out " + dir + "out_cpu.safetensors");
  ASSERT_EQ(cpu.code, 0) << cpu.err;
  hipt::testing::expect_close(io::read_safetensors(dir + "out_cpu.safetensors").at("patch_features"),
                              want.patch_features, 0, 0);

  // Every failure is one line, and no output file appears.
  const std::string ok_models = " --vit256 " + dir + "vit256.safetensors --vit4k " + dir + "vit4k.safetensors";
  io::write_png(dir + "small.png", hipt::testing::fixture_region_u8(255, 600));
  for (const std::string& args :
       {"embed-region --image " + dir + "missing.png" + ok_models + " --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "small.png" + ok_models + " --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "vit256.safetensors" + ok_models + " --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "region.png --vit256 " + dir + "vit4k.safetensors --vit4k " + dir +
            "vit4k.safetensors --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "region.png --vit256 " + dir + "nope.pth --vit4k " + dir +
            "vit4k.safetensors --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "region.png" + ok_models + " --batch 0 --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "region.png" + ok_models + " --device cuda:99 --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "region.png" + ok_models + " --device tpu --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "region.png" + ok_models + " --precision bf16 --out " + dir + "bad.safetensors",
        "embed-region --image " + dir + "region.png" + ok_models + " --device cuda:x --out " + dir + "bad.safetensors"}) {
    CliRun bad = run_cli(args);
    EXPECT_NE(bad.code, 0) << args;
    EXPECT_EQ(bad.err.rfind("error: ", 0), 0u) << args << ": " << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << args << ": " << bad.err;
  }
  EXPECT_FALSE(std::ifstream(dir + "bad.safetensors").good());
  std::system(("rm -rf " + dir).c_str());
}
