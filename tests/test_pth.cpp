// .pth reading against files torch.save wrote (scripts/make_pth_fixtures.py): each fixture's
// tensors must equal, bit for bit, what the script stored in its `.expected.safetensors`.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "io/pth.h"
#include "io/safetensors.h"
#include "tensor/ops.h"
#include "testing.h"

namespace hipt {
namespace {

std::string fixture(const std::string& name) { return std::string(HIPT_TEST_DATA) + "/pth/" + name; }

void expect_same_maps(const io::TensorMap& got, const io::TensorMap& want) {
  std::vector<std::string> got_names, want_names;
  for (const auto& kv : got) got_names.push_back(kv.first);
  for (const auto& kv : want) want_names.push_back(kv.first);
  ASSERT_EQ(got_names, want_names);
  for (const auto& [name, w] : want) {
    const Tensor& g = got.at(name);
    EXPECT_EQ(g.dtype(), w.dtype()) << name;
    ASSERT_EQ(g.shape(), w.shape()) << name;
    Tensor gc = ops::contiguous(g);
    const size_t nbytes = static_cast<size_t>(w.numel()) * dtype_size(w.dtype());
    if (nbytes > 0) {
      EXPECT_EQ(std::memcmp(gc.raw_data(), w.raw_data(), nbytes), 0) << name;
    }
  }
}

void expect_matches_fixture(const std::string& stem) {
  SCOPED_TRACE(stem);
  expect_same_maps(io::read_pth(fixture(stem + ".pth")), io::read_safetensors(fixture(stem + ".expected.safetensors")));
}

TEST(Pth, ReadsAPlainStateDict) { expect_matches_fixture("plain_state_dict"); }
TEST(Pth, ReadsEveryDType) { expect_matches_fixture("dtypes"); }
TEST(Pth, ReadsAMemoPast255Entries) { expect_matches_fixture("many"); }
TEST(Pth, ReadsProtocol4) { expect_matches_fixture("views_protocol4"); }

TEST(Pth, ViewsShareOneStorageWithOffsetsAndStrides) {
  expect_matches_fixture("views");
  io::TensorMap m = io::read_pth(fixture("views.pth"));
  // big, view, transposed, stepped, expanded and permuted are views of one storage, as in torch.
  for (const char* name : {"view", "transposed", "stepped", "expanded", "permuted"})
    EXPECT_EQ(m.at(name).storage(), m.at("big").storage()) << name;
  EXPECT_EQ(m.at("view").offset(), 4);
  EXPECT_EQ(m.at("transposed").strides(), (Shape{1, 4}));
  EXPECT_EQ(m.at("expanded").strides(), (Shape{0, 0}));
  EXPECT_EQ(m.at("scalar").dim(), 0);
  // The dict pickled twice is one object (memo shared, not copied).
  io::PthFile file(fixture("views.pth"));
  EXPECT_EQ(file.root().get("nested"), file.root().get("nested_again"));
}

TEST(Pth, ScalarsParametersAndBytes) {
  expect_matches_fixture("scalars");
  io::PthFile file(fixture("scalars.pth"));
  const io::PickleValue* stats = file.root().get("stats");
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->get("long")->integer, int64_t{1} << 40);
  EXPECT_EQ(stats->get("neg")->integer, -5);
  EXPECT_EQ(stats->get("byte")->integer, 200);
  EXPECT_EQ(stats->get("short")->integer, 60000);
  EXPECT_EQ(stats->get("huge")->kind, io::PickleValue::Kind::Opaque);
  EXPECT_EQ(stats->get("f")->real, 1.5);
  EXPECT_EQ(stats->get("s")->text, "x\xc3\xa9");
  EXPECT_EQ(stats->get("bytes")->text, "ab");
  EXPECT_TRUE(stats->get("t")->boolean);
  EXPECT_EQ(stats->get("n")->kind, io::PickleValue::Kind::None);
  ASSERT_EQ(stats->get("list")->items.size(), 3u);
  EXPECT_EQ(stats->get("list")->items[2]->kind, io::PickleValue::Kind::Tuple);
  EXPECT_EQ(stats->get("missing"), nullptr);
}

TEST(Pth, ReadsANestedDinoCheckpointLazily) {
  io::PthFile file(fixture("dino.pth"));
  const io::PickleValue& root = file.root();
  for (const char* key : {"student", "teacher", "optimizer", "epoch", "args", "dino_loss", "fp16_scaler"})
    EXPECT_NE(root.get(key), nullptr) << key;
  EXPECT_EQ(root.get("epoch")->integer, 5);
  const io::PickleValue* args = root.get("args");
  EXPECT_EQ(args->kind_name(), "argparse.Namespace");
  EXPECT_EQ(args->get("arch")->text, "vit_small");
  EXPECT_EQ(args->get("lr")->real, 0.0005);
  EXPECT_TRUE(args->get("use_fp16")->boolean);
  EXPECT_EQ(args->get("output_dir")->kind, io::PickleValue::Kind::None);
  // Only the teacher's storages are read.
  io::TensorMap teacher = file.tensors(*root.get("teacher"));
  EXPECT_TRUE(teacher.count("backbone.cls_token"));
  EXPECT_TRUE(teacher.count("head.last_layer.weight_g"));
  // The whole file flattens with dotted names, optimizer state keyed by int.
  io::TensorMap all = io::read_pth(fixture("dino.pth"));
  EXPECT_TRUE(all.count("student.module.backbone.blocks.1.fc.weight"));
  EXPECT_TRUE(all.count("optimizer.state.0.exp_avg"));
  EXPECT_TRUE(all.count("dino_loss.center"));
}

TEST(Pth, OpaqueValuesCannotBeUsedAsTensors) {
  expect_matches_fixture("opaque_device");
  io::PthFile file(fixture("opaque_device.pth"));
  testing::expect_error([&] { file.tensor(*file.root().get("dev"), "dev"); },
                        {fixture("opaque_device.pth"), "'dev'", "opaque torch.device", "not a tensor"});
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "hipt_pth_" + name; }

TEST(Pth, BrokenFilesAreOneClearError) {
  struct Case {
    const char* file;
    std::vector<std::string> parts;
  };
  std::vector<Case> cases = {
      {"legacy.pth", {"not a ZIP archive", "legacy torch.save format"}},
      {"no_data_pkl.pth", {"no data.pkl"}},
      {"bad_pickle.pth", {"data.pkl byte 13", "unsupported pickle opcode 0xff"}},
      {"cut_pickle.pth", {"pickle truncated"}},
      {"evil.pth", {"refusing global 'posix.system'"}},
      {"deep_nesting.pth", {"nested more than 64 levels"}},  // and freeing it must not overflow the stack
      {"missing_storage.pth", {"storage record plain_state_dict/data/0", "is missing"}},
      {"short_storage.pth", {"storage record plain_state_dict/data/0", "has 4 bytes, expected"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    std::vector<std::string> parts = c.parts;
    parts.push_back(fixture(c.file));
    testing::expect_error([&] { io::read_pth(fixture(c.file)); }, parts);
  }
  testing::expect_error([] { io::read_pth("/nonexistent/m.pth"); }, {"/nonexistent/m.pth", "cannot open"});
  testing::expect_error([] { io::read_pth(::testing::TempDir()); }, {::testing::TempDir(), "not a ZIP archive"});
  // Not a zip at all; a zip cut short (no central directory).
  std::string path = temp_path("text.pth");
  { std::ofstream(path) << "hello, not a checkpoint"; }
  testing::expect_error([&] { io::read_pth(path); }, {path, "not a ZIP archive"});
  std::ifstream in(fixture("plain_state_dict.pth"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  for (size_t keep : {bytes.size() / 2, bytes.size() - 10}) {
    std::ofstream(path, std::ios::binary) << bytes.substr(0, keep);
    testing::expect_error([&] { io::read_pth(path); }, {path, "cannot read the ZIP archive"});
  }
  std::remove(path.c_str());
}

TEST(Pth, ViewOutsideItsStorageIsRefused) {
  io::PthFile file(fixture("views.pth"));
  io::PickleValue v = *file.root().get("view");
  v.sizes = {100};
  v.strides = {1};
  testing::expect_error([&] { file.tensor(v, "view"); }, {"'view'", "reaches element 103", "which holds 24"});
  v.strides = {-1};
  testing::expect_error([&] { file.tensor(v, "view"); }, {"negative size or stride"});
  v.sizes = {int64_t{1} << 30, int64_t{1} << 30};  // stride 0 keeps it inside the storage
  v.strides = {0, 0};
  testing::expect_error([&] { file.tensor(v, "view"); }, {"more than 2^48 elements"});
  v.sizes = {int64_t{1} << 50};
  testing::expect_error([&] { file.tensor(v, "view"); }, {"implausibly large"});
  v.sizes = {0};
  v.strides = {1};
  v.storage_offset = 1000;  // an empty view touches nothing
  EXPECT_EQ(file.tensor(v, "view").numel(), 0);
}

}  // namespace
}  // namespace hipt
