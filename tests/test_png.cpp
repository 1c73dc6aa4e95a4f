// PNG round trips through libpng, grey/alpha handling and the errors for bad files.
#include <cstdio>
#include <fstream>

#include "io/png.h"
#include "tensor/ops.h"
#include "testing.h"

namespace hipt {
namespace {

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "hipt_png_" + name; }

Tensor pattern(int64_t h, int64_t w, int64_t c) {
  std::vector<uint8_t> v(static_cast<size_t>(h * w * c));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 37 + i / 7) & 0xff);
  return ops::from_vector(v, Shape{h, w, c});
}

TEST(Png, RoundTripsEveryChannelCount) {
  for (int64_t c : {1, 3, 4}) {
    Tensor img = pattern(13, 21, c);
    std::string path = temp_path("rt" + std::to_string(c) + ".png");
    io::write_png(path, img);
    Tensor back = io::read_png(path);
    ASSERT_EQ(back.shape(), img.shape()) << c;
    EXPECT_EQ(ops::to_vector<uint8_t>(back), ops::to_vector<uint8_t>(img)) << c;
    std::remove(path.c_str());
  }
}

TEST(Png, WritesStridedViews) {
  Tensor view = ops::permute(pattern(10, 8, 3), {1, 0, 2});
  std::string path = temp_path("view.png");
  io::write_png(path, view);
  EXPECT_EQ(ops::to_vector<uint8_t>(io::read_png(path)), ops::to_vector<uint8_t>(ops::contiguous(view)));
  std::remove(path.c_str());
}

TEST(Png, RgbDropsAlphaAndReplicatesGrey) {
  std::string path = temp_path("rgba.png");
  Tensor rgba = pattern(5, 6, 4);
  io::write_png(path, rgba);
  Tensor rgb = io::read_png_rgb(path);
  EXPECT_EQ(ops::to_vector<uint8_t>(rgb), ops::to_vector<uint8_t>(ops::contiguous(ops::slice(rgba, 2, 0, 3))));
  Tensor grey = pattern(5, 6, 1);
  io::write_png(path, grey);
  Tensor g3 = io::read_png_rgb(path);
  ASSERT_EQ(g3.shape(), (Shape{5, 6, 3}));
  std::vector<uint8_t> gv = ops::to_vector<uint8_t>(grey), g3v = ops::to_vector<uint8_t>(g3);
  for (size_t i = 0; i < gv.size(); ++i)
    for (int k = 0; k < 3; ++k) ASSERT_EQ(g3v[i * 3 + k], gv[i]);
  std::remove(path.c_str());
}

TEST(Png, BadFilesNameThePath) {
  testing::expect_error([] { io::read_png("/nonexistent/x.png"); }, {"/nonexistent/x.png", "cannot open"});
  std::string path = temp_path("bad.png");
  { std::ofstream(path) << "not a png at all"; }
  testing::expect_error([&] { io::read_png(path); }, {path, "not a PNG"});
  // A valid header followed by garbage: libpng's error comes back as one hipt::Error.
  io::write_png(path, pattern(40, 40, 3));
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  { std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2); }
  testing::expect_error([&] { io::read_png(path); }, {path, "corrupt PNG"});
  std::remove(path.c_str());
}

TEST(Png, RejectsWhatItCannotWrite) {
  testing::expect_error([] { io::encode_png(ops::zeros(Shape{4, 4, 3})); }, {"u8"});
  testing::expect_error([] { io::encode_png(ops::zeros(Shape{4, 4, 2}, DType::U8)); }, {"channels"});
  // The folder is a regular file: even root cannot write there.
  std::string file = temp_path("plain-file");
  { std::ofstream(file) << "x"; }
  testing::expect_error([&] { io::write_png(file + "/x.png", ops::zeros(Shape{4, 4, 1}, DType::U8)); }, {"x.png"});
  std::remove(file.c_str());
}

}  // namespace
}  // namespace hipt
