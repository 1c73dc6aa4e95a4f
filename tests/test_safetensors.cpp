// safetensors: round trips of every dtype and layout, a file written by our Python writer, and
// one test per way a file can be broken.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "io/safetensors.h"
#include "tensor/ops.h"
#include "testing.h"

namespace hipt {
namespace {

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "hipt_st_" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A file from a header text and data bytes; `declared` overrides the header length field.
std::string make_file(const std::string& header, const std::string& data, int64_t declared = -1) {
  uint64_t n = declared < 0 ? header.size() : static_cast<uint64_t>(declared);
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

void expect_same(const Tensor& got, const Tensor& want, const std::string& name) {
  ASSERT_TRUE(got.defined()) << name;
  EXPECT_EQ(got.dtype(), want.dtype()) << name;
  ASSERT_EQ(got.shape(), want.shape()) << name;
  EXPECT_TRUE(got.is_contiguous()) << name;
  Tensor w = ops::contiguous(want);
  const size_t nbytes = static_cast<size_t>(w.numel()) * dtype_size(w.dtype());
  if (nbytes > 0) {
    EXPECT_EQ(std::memcmp(got.raw_data(), w.raw_data(), nbytes), 0) << name;
  }
}

TEST(Safetensors, RoundTripsEveryDType) {
  io::TensorMap in;
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8, DType::Bool}) {
    Tensor src = t == DType::Bool || t == DType::U8 ? testing::random_tensor({3, 5}, DType::F64, 7, 0, 2)
                                                    : testing::random_tensor({3, 5}, DType::F64, 7, -50, 50);
    in["w." + std::string(dtype_name(t))] = ops::cast(src, t);
  }
  std::string path = temp_path("dtypes.safetensors");
  io::write_safetensors(path, in, {{"source", "unit test"}});
  io::TensorMap out = io::read_safetensors(path);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) expect_same(out[name], t, name);
  EXPECT_EQ(io::read_safetensors_metadata(path), (std::map<std::string, std::string>{{"source", "unit test"}}));
  // Header padded to a multiple of 8 so the buffer starts aligned.
  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  std::remove(path.c_str());
}

TEST(Safetensors, EmptyZeroDimAndStridedViews) {
  Tensor base = testing::random_tensor({4, 6}, DType::F32, 3);
  io::TensorMap in{{"empty", ops::empty({0, 3})},
                   {"empty2", ops::empty({2, 0}, DType::I64)},
                   {"scalar", ops::scalar(2.5)},
                   {"transposed", ops::transpose(base, 0, 1)},
                   {"sliced", ops::slice(base, 1, 1, 4)}};
  std::string path = temp_path("views.safetensors");
  io::write_safetensors(path, in);
  io::TensorMap out = io::read_safetensors(path);
  for (const auto& [name, t] : in) expect_same(out[name], t, name);
  EXPECT_EQ(out["scalar"].dim(), 0);
  EXPECT_EQ(out["scalar"].item(), 2.5);
  EXPECT_TRUE(io::read_safetensors_metadata(path).empty());
  // No tensors at all is a valid file too.
  io::write_safetensors(path, {});
  EXPECT_TRUE(io::read_safetensors(path).empty());
  std::remove(path.c_str());
}

TEST(Safetensors, ReadsOurPythonWritersFile) {
  const std::string path = std::string(HIPT_TEST_DATA) + "/safetensors_py.safetensors";
  io::TensorMap m = io::read_safetensors(path);
  ASSERT_EQ(m.size(), 9u);
  auto expect_values = [&](const std::string& name, DType dt, const Shape& shape) {
    const Tensor& t = m.at(name);
    EXPECT_EQ(t.dtype(), dt) << name;
    ASSERT_EQ(t.shape(), shape) << name;
    std::vector<double> want;
    for (int64_t i = 0; i < shape.numel(); ++i) {
      if (dt == DType::Bool) want.push_back(i % 3 == 0);
      else if (dt == DType::U8) want.push_back(static_cast<double>(((i * 3 - 5) % 256 + 256) % 256));
      else want.push_back(static_cast<double>(i * 3 - 5));
    }
    testing::expect_close(t, want, 0, 0, name);
  };
  expect_values("a.f64", DType::F64, {2, 2});
  expect_values("b.f32", DType::F32, {2, 3});
  expect_values("c.i64", DType::I64, {3});
  expect_values("d.i32", DType::I32, {2, 1});
  expect_values("e.f16", DType::F16, {5});
  expect_values("f.bf16", DType::BF16, {2, 2});
  expect_values("g.u8", DType::U8, {});
  expect_values("h.bool", DType::Bool, {7});
  expect_values("i.empty", DType::F32, {0, 4});
  auto meta = io::read_safetensors_metadata(path);
  EXPECT_EQ(meta.at("format"), "pt");
}

TEST(Safetensors, WriteRefusesWhatCannotBeWritten) {
  std::string path = temp_path("refused.safetensors");
  testing::expect_error([&] { io::write_safetensors(path, {{"__metadata__", ops::zeros({1})}}); },
                        {path, "__metadata__"});
  testing::expect_error([&] { io::write_safetensors(path, {{"x", Tensor()}}); }, {path, "'x'", "undefined"});
  testing::expect_error([&] { io::write_safetensors(path, {{"bad\xff", ops::zeros({1})}}); }, {path, "UTF-8"});
}

// A metadata value that is not UTF-8 (a Latin-1 file name) is written with U+FFFD, not refused
// with nlohmann's bare exception text.
TEST(Safetensors, NonUtf8MetadataIsReplacedNotFatal) {
  std::string path = temp_path("latin1_meta.safetensors");
  io::write_safetensors(path, {{"x", ops::zeros({2})}}, {{"source", "d\xffino.pth"}});
  EXPECT_EQ(io::read_safetensors_metadata(path).at("source"), "d\xef\xbf\xbdino.pth");
  EXPECT_EQ(io::read_safetensors(path).at("x").numel(), 2);
  std::remove(path.c_str());
}

// Each corruption is one hipt::Error that names the file and the problem.
TEST(Safetensors, CorruptFilesNameTheFileAndTheProblem) {
  std::string path = temp_path("corrupt.safetensors");
  const std::string f32x2(8, '\0');
  struct Case {
    const char* what;
    std::string bytes;
    std::vector<std::string> parts;
  };
  const std::string ok_header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::vector<Case> cases = {
      {"too short", "abc", {"too short"}},
      {"header length beyond limit", make_file("{}", "", 200'000'000), {"exceeds the limit"}},
      {"header length beyond file", make_file(ok_header, f32x2, 4000), {"only", "truncated"}},
      {"not json", make_file("{\"x\": [1, 2", ""), {"not valid JSON"}},
      {"not an object", make_file("[1, 2]  ", ""), {"not a JSON object"}},
      {"duplicate", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2),
       {"'x' appears twice"}},
      {"entry not object", make_file(R"({"x": 3})", ""), {"'x'", "not a JSON object"}},
      {"missing dtype", make_file(R"({"x":{"shape":[2],"data_offsets":[0,8]}})", f32x2), {"'x'", "no \"dtype\""}},
      {"missing offsets", make_file(R"({"x":{"dtype":"F32","shape":[2]}})", f32x2), {"no \"data_offsets\""}},
      {"unknown dtype", make_file(R"({"x":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}})", f32x2),
       {"unsupported dtype 'I8'"}},
      {"negative dim", make_file(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2),
       {"non-negative integer"}},
      {"float dim", make_file(R"({"x":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", f32x2),
       {"non-negative integer"}},
      {"too many dims", make_file(R"({"x":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", "a"),
       {"9 dims"}},
      {"overflow", make_file(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", f32x2),
       {"overflows"}},
      {"span mismatch", make_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2),
       {"needs 12 bytes", "span 8"}},
      {"end before begin", make_file(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32x2),
       {"end before begin"}},
      {"bad offsets", make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", f32x2),
       {"data_offsets must be"}},
      {"hole", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2), {"'x'", "hole"}},
      {"overlap", make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2),
       {"overlap"}},
      {"truncated data", make_file(ok_header, f32x2.substr(0, 5)), {"need 8 bytes", "has 5", "truncated"}},
      {"trailing bytes", make_file(ok_header, f32x2 + "xyz"), {"3 bytes after the last tensor"}},
      {"metadata not strings", make_file(R"({"__metadata__":{"a":1}})", ""), {"__metadata__", "'a'"}},
      {"metadata not object", make_file(R"({"__metadata__":[]})", ""), {"__metadata__ is not"}},
      {"bool byte", make_file(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\1\7", 2)),
       {"BOOL", "'b'", "byte 7"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    write_bytes(path, c.bytes);
    std::vector<std::string> parts = c.parts;
    parts.push_back(path);
    testing::expect_error([&] { io::read_safetensors(path); }, parts);
  }
  testing::expect_error([] { io::read_safetensors("/nonexistent/w.safetensors"); },
                        {"/nonexistent/w.safetensors", "cannot open"});
  testing::expect_error([] { io::read_safetensors_metadata("/nonexistent/w.safetensors"); }, {"cannot open"});
  testing::expect_error([] { io::read_safetensors(::testing::TempDir()); }, {"is a folder"});
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hipt
