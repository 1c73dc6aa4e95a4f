// Backbone loading: the key rules (part picked, prefixes dropped, head ignored), the strict match
// and its one error, against a DINO checkpoint written by torch (scripts/make_pth_fixtures.py).
#include <cstdio>

#include "hipt/models/checkpoint.h"
#include "io/pth.h"
#include "nn/layers.h"
#include "tensor/ops.h"
#include "testing.h"

namespace hipt {
namespace {

std::string fixture(const std::string& name) { return std::string(HIPT_TEST_DATA) + "/pth/" + name; }

// The parameter names of make_pth_fixtures.py's TinyBackbone.
struct TinyBlock : nn::Module {
  explicit TinyBlock(Generator& gen) {
    norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(4));
    fc = register_module("fc", std::make_shared<nn::Linear>(4, 3, true, gen));
  }
  std::shared_ptr<nn::LayerNorm> norm1;
  std::shared_ptr<nn::Linear> fc;
};
struct List : nn::Module {
  template <class M> void add(std::shared_ptr<M> m) { register_module(std::to_string(n++), m); }
  int n = 0;
};
struct TinyBackbone : nn::Module {
  explicit TinyBackbone(Generator& gen) {
    cls_token = register_parameter("cls_token", ops::zeros({1, 1, 4}));
    auto blocks = register_module("blocks", std::make_shared<List>());
    blocks->add(std::make_shared<TinyBlock>(gen));
    blocks->add(std::make_shared<TinyBlock>(gen));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(3));
  }
  Tensor cls_token;
  std::shared_ptr<nn::LayerNorm> norm;
};

void expect_module_equals(const nn::Module& m, const std::string& expected_file) {
  io::TensorMap want = io::read_safetensors(expected_file);
  nn::TensorMap got = m.state_dict();
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    EXPECT_EQ(ops::to_vector<float>(got.at(name)), ops::to_vector<float>(w)) << name;
  }
}

TEST(Checkpoint, LoadsTheDinoTeacherExactly) {
  Generator gen(1);
  TinyBackbone model(gen);
  load_backbone(model, fixture("dino.pth"));
  expect_module_equals(model, fixture("dino_teacher.expected.safetensors"));
  BackboneWeights w = read_backbone_weights(fixture("dino.pth"));
  EXPECT_EQ(w.part, "teacher");
  EXPECT_FALSE(w.tensors.count("head.mlp.0.weight"));
  EXPECT_TRUE(w.tensors.count("blocks.1.fc.bias"));
}

TEST(Checkpoint, LoadsTheStudentOnRequest) {
  Generator gen(1);
  TinyBackbone model(gen);
  load_backbone(model, fixture("dino.pth"), /*student=*/true);
  expect_module_equals(model, fixture("dino_student.expected.safetensors"));
  testing::expect_error([&] { load_backbone(model, fixture("backbone_f16.pth"), true); },
                        {fixture("backbone_f16.pth"), "no 'student'"});
}

TEST(Checkpoint, HalfPrecisionStateDictIsConverted) {
  Generator gen(1);
  TinyBackbone model(gen);
  load_backbone(model, fixture("backbone_f16.pth"));
  EXPECT_EQ(read_backbone_weights(fixture("backbone_f16.pth")).part, "state_dict");
  io::TensorMap want = io::read_safetensors(fixture("backbone_f16.expected.safetensors"));
  for (const auto& [name, t] : model.state_dict()) {
    EXPECT_EQ(t.dtype(), DType::F32) << name;
    EXPECT_EQ(ops::to_vector<float>(t), ops::to_vector<float>(want.at(name))) << name;
  }
}

TEST(Checkpoint, SafetensorsFilesFollowTheSameRules) {
  // A converted backbone (flat), and a flat file keeping the teacher/student layout.
  Generator gen(1);
  TinyBackbone model(gen);
  io::TensorMap teacher = io::read_safetensors(fixture("dino_teacher.expected.safetensors"));
  io::TensorMap student = io::read_safetensors(fixture("dino_student.expected.safetensors"));
  io::TensorMap nested;
  for (const auto& [k, v] : teacher) nested["teacher.backbone." + k] = v;
  for (const auto& [k, v] : student) nested["student.module.backbone." + k] = v;
  nested["teacher.head.mlp.0.weight"] = ops::zeros({5, 3});
  std::string path = ::testing::TempDir() + "hipt_ckpt_nested.safetensors";
  io::write_safetensors(path, nested);
  load_backbone(model, path, true);
  expect_module_equals(model, fixture("dino_student.expected.safetensors"));
  load_backbone(model, path);
  expect_module_equals(model, fixture("dino_teacher.expected.safetensors"));
  load_backbone(model, fixture("dino_teacher.expected.safetensors"));
  expect_module_equals(model, fixture("dino_teacher.expected.safetensors"));
  std::remove(path.c_str());
}

TEST(Checkpoint, MismatchIsOneErrorListingEverything) {
  Generator gen(1);
  TinyBackbone model(gen);
  io::TensorMap w = io::read_safetensors(fixture("dino_teacher.expected.safetensors"));
  w.erase("norm.bias");
  w.erase("blocks.0.fc.weight");
  w["extra.weight"] = ops::zeros({2, 2});
  w["cls_token"] = ops::zeros({1, 2, 4});
  std::string path = ::testing::TempDir() + "hipt_ckpt_mismatch.safetensors";
  io::write_safetensors(path, w);
  Tensor before = ops::clone(model.norm->weight);
  testing::expect_error([&] { load_backbone(model, path); },
                        {path, "missing 2: blocks.0.fc.weight [3, 4], norm.bias [3]", "unexpected 1: extra.weight [2, 2]",
                         "wrong shape 1: cls_token (file [1, 2, 4], model [1, 1, 4])"});
  EXPECT_EQ(ops::to_vector<float>(model.norm->weight), ops::to_vector<float>(before));  // nothing copied
  std::remove(path.c_str());
}

TEST(Checkpoint, FilesWithoutABackboneAreRefused) {
  Generator gen(1);
  TinyBackbone model(gen);
  testing::expect_error([&] { load_backbone(model, "/nonexistent/ckpt.pth"); }, {"/nonexistent/ckpt.pth", "cannot open"});
  testing::expect_error([&] { load_backbone(model, fixture("legacy.pth")); }, {"legacy"});
  testing::expect_error([&] { load_backbone(model, fixture("list_root.pth")); },
                        {fixture("list_root.pth"), "holds a list, not a dict"});
  testing::expect_error([&] { load_backbone(model, fixture("teacher_tensor.pth")); },
                        {fixture("teacher_tensor.pth"), "'teacher' is a tensor, not a dict"});
  // A dict whose tensors are all head weights: nothing left.
  io::TensorMap heads{{"head.w", ops::zeros({2})}, {"module.dino_head.b", ops::zeros({2})}};
  std::string path = ::testing::TempDir() + "hipt_ckpt_heads.safetensors";
  io::write_safetensors(path, heads);
  testing::expect_error([&] { read_backbone_weights(path); }, {path, "no backbone tensors"});
  // Two names that become one once the prefixes go.
  io::write_safetensors(path, {{"module.x", ops::zeros({1})}, {"backbone.x", ops::zeros({1})}});
  testing::expect_error([&] { read_backbone_weights(path); }, {path, "two tensors map to 'x'"});
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hipt
