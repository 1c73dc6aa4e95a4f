// `hipt pretrain`: a tiny DINO run on synthetic region features, its files, a resume that
// continues bit for bit, and the refusals of bad inputs and of a checkpoint of another run.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "hipt/models/checkpoint.h"
#include "hipt/models/vit.h"
#include "io/safetensors.h"
#include "slide_testing.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace hipt {
namespace {
using namespace hipt::testing;
namespace fs = std::filesystem;

// stdout and stderr apart, each in its own file (slide_testing.h).
CliRun run_cli(const std::string& args) { return run_hipt(args); }

struct Dir {
  fs::path path;
  explicit Dir(const std::string& name) : path(fs::path(::testing::TempDir()) / ("hipt_pretrain_" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Dir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// `hipt embed`-like features: patch_features [M, N, 384].
std::string write_features(const Dir& d, const std::string& name, int64_t M, int64_t N = 256, uint32_t seed = 1) {
  const std::string p = d / name;
  io::write_safetensors(
      p, {{"patch_features", random_tensor({M, N, 384}, DType::F32, seed)}, {"region_features", ops::zeros({M, 192})}});
  return p;
}

// The tiny run: 5 regions, batch 2 -> 2 steps per epoch; drop path on, so the saved stream matters.
const std::string kTiny =
    " --arch tiny --out-dim 16 --batch 2 --epochs 3 --warmup-epochs 1 --local-crops 2 --threads 1";

int line_count(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

std::vector<std::string> log_losses(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find("\"loss\":"), b = line.find(",\"img_per_s\"");
    out.push_back(line.substr(a, b - a));  // step, epoch, loss and schedules; not the timings
  }
  return out;
}

TEST(Pretrain, ResumeContinuesBitForBit) {
  Dir d("resume");
  const std::string features = write_features(d, "slide.safetensors", 5);
  CliRun whole = run_cli("pretrain vit4k " + features + " --out " + (d / "whole") + kTiny + " --max-steps 4");
  ASSERT_EQ(whole.code, 0) << whole.err;
  CliRun first = run_cli("pretrain vit4k " + features + " --out " + (d / "split") + kTiny + " --max-steps 2");
  ASSERT_EQ(first.code, 0) << first.err;
  // --max-steps, --threads and --workers may change on a resume
  CliRun second =
      run_cli("pretrain vit4k " + features + " --out " + (d / "split") + kTiny + " --max-steps 4 --workers 1");
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.err.find("resuming from"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("at step 2"), std::string::npos) << second.err;

  for (const char* file : {"checkpoint.safetensors", "teacher_backbone.safetensors"}) {
    io::TensorMap a = io::read_safetensors(d / (std::string("whole/") + file));
    io::TensorMap b = io::read_safetensors(d / (std::string("split/") + file));
    ASSERT_EQ(a.size(), b.size()) << file;
    for (const auto& [name, t] : a) {
      ASSERT_TRUE(b.count(name)) << file << " " << name;
      EXPECT_EQ(ops::to_vector<float>(t), ops::to_vector<float>(b.at(name))) << file << " " << name;
    }
  }
  EXPECT_EQ(io::read_safetensors_metadata(d / "split/checkpoint.safetensors").at("step"), "4");
  std::vector<std::string> la = log_losses(d / "whole/log.jsonl"), lb = log_losses(d / "split/log.jsonl");
  EXPECT_EQ(la.size(), 4u);
  EXPECT_EQ(la, lb);
}

TEST(Pretrain, WritesCheckpointTeacherBackboneAndLog) {
  Dir d("files");
  const std::string features = write_features(d, "slide.safetensors", 5);
  CliRun r = run_cli("pretrain vit4k " + d.path.string() + " --out " + (d / "run") + kTiny + " --keep-every 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("loss"), std::string::npos);
  EXPECT_NE(r.err.find("img/s"), std::string::npos);
  EXPECT_NE(r.err.find("ETA"), std::string::npos);
  EXPECT_NE(r.out.find("\"end_step\":6"), std::string::npos) << r.out;
  for (const char* f : {"checkpoint.safetensors", "checkpoint0001.safetensors", "checkpoint0002.safetensors",
                        "checkpoint0003.safetensors", "teacher_backbone.safetensors", "log.jsonl"})
    EXPECT_TRUE(fs::exists(d / (std::string("run/") + f))) << f;

  io::TensorMap ckpt = io::read_safetensors(d / "run/checkpoint.safetensors");
  for (const char* k : {"model.student.backbone.pos_embed", "model.student.head.last_layer.weight_v",
                        "model.teacher.head.mlp.0.weight", "model.loss.center", "optimizer.state.0.exp_avg"})
    EXPECT_TRUE(ckpt.count(k)) << k;
  EXPECT_EQ(ckpt.at("model.loss.center").shape(), Shape({1, 16}));
  auto md = io::read_safetensors_metadata(d / "run/checkpoint.safetensors");
  EXPECT_EQ(md.at("run.batch"), "2");
  EXPECT_EQ(md.at("run.out_dim"), "16");
  EXPECT_EQ(md.at("epoch"), "3");

  // The teacher backbone loads by the ViT-4K's own names, and is the checkpoint's teacher.
  VitConfig c;
  c.embed_dim = 32, c.depth = 2, c.heads = 2, c.in_chans = 384, c.init = false;
  VisionTransformer4K vit(c);
  load_backbone(vit, d / "run/teacher_backbone.safetensors");
  for (const nn::Parameter& p : vit.named_parameters())
    EXPECT_EQ(ops::to_vector<float>(p.tensor), ops::to_vector<float>(ckpt.at("model.teacher.backbone." + p.name)))
        << p.name;

  std::ifstream log(d / "run/log.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(log, line)) {
    ++lines;
    for (const char* field : {"\"step\":", "\"epoch\":", "\"loss\":", "\"lr\":", "\"weight_decay\":", "\"momentum\":",
                              "\"teacher_temp\":", "\"img_per_s\":", "\"seconds\":"})
      EXPECT_NE(line.find(field), std::string::npos) << field << " in " << line;
  }
  EXPECT_EQ(lines, 6);

  // A finished run rerun does nothing and says so.
  CliRun again = run_cli("pretrain vit4k " + d.path.string() + " --out " + (d / "run") + kTiny);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("nothing to do"), std::string::npos) << again.err;
}

TEST(Pretrain, TheDefaultArchitecturesTeacherLoadsIntoTheVit4k) {
  Dir d("vit4k");
  const std::string features = write_features(d, "slide.safetensors", 2);
  CliRun r = run_cli("pretrain vit4k " + features + " --out " + (d / "run") +
                     " --out-dim 8 --batch 2 --epochs 1 --warmup-epochs 0 --local-crops 1 --max-steps 1");
  ASSERT_EQ(r.code, 0) << r.err;
  auto vit = vit4k_xs(0, /*init=*/false);
  load_backbone(*vit, d / "run/teacher_backbone.safetensors");  // what `hipt embed --vit4k` does
  EXPECT_EQ(vit->named_parameters().size(), io::read_safetensors(d / "run/teacher_backbone.safetensors").size());
}

TEST(Pretrain, AccumulatingTwoBatchesOfOneIsABatchOfTwo) {
  Dir d("accum");
  const std::string features = write_features(d, "slide.safetensors", 5);
  const std::string common =
      " --arch tiny --out-dim 16 --epochs 3 --warmup-epochs 1 --local-crops 2 --threads 1 "
      "--drop-path 0 --max-steps 3";
  ASSERT_EQ(run_cli("pretrain vit4k " + features + " --out " + (d / "two") + common + " --batch 2").code, 0);
  CliRun r = run_cli("pretrain vit4k " + features + " --out " + (d / "accum") + common + " --batch 1 --accum 2");
  ASSERT_EQ(r.code, 0) << r.err;
  io::TensorMap a = io::read_safetensors(d / "two/checkpoint.safetensors");
  io::TensorMap b = io::read_safetensors(d / "accum/checkpoint.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    if (name.find("optimizer.") == 0) continue;  // Adam's moments of near-zero gradients: relative noise
    // The key part of the qkv bias has an exactly zero gradient, so rounding noise decides its
    // first Adam updates (±lr): only the query and value parts are compared.
    const bool qkv_bias = name.size() > 8 && name.compare(name.size() - 8, 8, "qkv.bias") == 0;
    auto part = [&](const Tensor& x) {
      const int64_t E = x.size(0) / 3;
      return qkv_bias ? ops::cat({ops::slice(x, 0, 0, E), ops::slice(x, 0, 2 * E, 3 * E)}, 0) : x;
    };
    EXPECT_LE(relative_error(part(b.at(name)), part(t), name), 1e-4) << name;
  }
}

TEST(Pretrain, ACheckpointOfAnotherRunIsRefusedNamingTheFlag) {
  Dir d("refuse");
  const std::string features = write_features(d, "slide.safetensors", 5);
  // kTiny with one flag's value replaced
  auto with = [&](const std::string& flag, const std::string& value) {
    std::string args = kTiny;
    const size_t at = args.find(flag + " ");
    if (at == std::string::npos) return args + " " + flag + " " + value;
    const size_t v = at + flag.size() + 1, end = args.find(' ', v);
    return args.replace(v, end == std::string::npos ? std::string::npos : end - v, value);
  };
  const std::string base = "pretrain vit4k " + features + " --out " + (d / "run");
  ASSERT_EQ(run_cli(base + kTiny + " --max-steps 1").code, 0);
  struct Case {
    std::string flag, value;
  };
  for (const Case& c : {Case{"--out-dim", "8"}, Case{"--seed", "3"}, Case{"--local-crops", "3"}, Case{"--lr", "0.001"},
                        Case{"--teacher-temp", "0.07"}, Case{"--batch", "1"}}) {
    CliRun r = run_cli(base + with(c.flag, c.value) + " --max-steps 2");
    EXPECT_EQ(r.code, 1) << c.flag;
    EXPECT_EQ(line_count(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("error: pretrain: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.flag), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  }
  const std::string other = write_features(d, "other.safetensors", 5, 256, 2);
  CliRun inputs = run_cli("pretrain vit4k " + other + " --out " + (d / "run") + kTiny + " --max-steps 2");
  EXPECT_EQ(inputs.code, 1);
  EXPECT_NE(inputs.err.find("input feature files"), std::string::npos) << inputs.err;
  // --overwrite starts over
  CliRun over = run_cli(base + with("--out-dim", "8") + " --max-steps 1 --overwrite");
  EXPECT_EQ(over.code, 0) << over.err;
  EXPECT_EQ(over.err.find("resuming"), std::string::npos);
  EXPECT_EQ(io::read_safetensors_metadata(d / "run/checkpoint.safetensors").at("run.out_dim"), "8");
}

TEST(Pretrain, BadInputsGiveOneClearError) {
  Dir d("bad");
  fs::create_directories(d.path / "empty");
  CliRun none = run_cli("pretrain vit4k " + (d / "empty") + " --out " + (d / "run") + kTiny);
  EXPECT_EQ(none.code, 1);
  EXPECT_EQ(line_count(none.err), 1) << none.err;
  EXPECT_NE(none.err.find("no region features found"), std::string::npos) << none.err;

  const std::string small = write_features(d, "small.safetensors", 3, 64);
  CliRun shape = run_cli("pretrain vit4k " + small + " --out " + (d / "run") + kTiny);
  EXPECT_EQ(shape.code, 1);
  EXPECT_EQ(line_count(shape.err), 1) << shape.err;
  EXPECT_NE(shape.err.find("small.safetensors"), std::string::npos) << shape.err;
  EXPECT_NE(shape.err.find("64 patches"), std::string::npos) << shape.err;

  const std::string one = write_features(d, "one.safetensors", 1);
  CliRun tiny = run_cli("pretrain vit4k " + one + " --out " + (d / "run") + kTiny);
  EXPECT_EQ(tiny.code, 1);
  EXPECT_NE(tiny.err.find("do not fill one batch"), std::string::npos) << tiny.err;

  CliRun v256 = run_cli("pretrain vit256 " + (d / "empty") + " --out " + (d / "run256"));
  EXPECT_EQ(v256.code, 1);
  EXPECT_EQ(line_count(v256.err), 1) << v256.err;
  EXPECT_NE(v256.err.find("not built yet"), std::string::npos) << v256.err;

  CliRun bad_flag = run_cli("pretrain vit4k " + one + " --out " + (d / "run") + " --batch 0");
  EXPECT_EQ(bad_flag.code, 2);
  EXPECT_NE(bad_flag.err.find("--batch must be at least 1"), std::string::npos) << bad_flag.err;
}

}  // namespace
}  // namespace hipt
