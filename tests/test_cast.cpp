// f32 <-> f16 / bf16 conversions (tensor/dtype.cpp): round to nearest even on constructed ties,
// NaN, overflow, subnormals, largest finite values, exhaustive round trips, the ops::cast path,
// and PyTorch's own conversions from a committed fixture. Every check here is exact (bits).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "tensor/ops.h"

using namespace hipt;

namespace {

bool f16_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool bf16_is_nan(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0; }

}  // namespace

// bf16 keeps the top 16 bits of the f32. For every bf16 value hi that is finite, the f32 halfway
// to the next one (low half 0x8000) must go to the even one of the two, and the f32s one ulp
// either side of it down and up.
TEST(CastBf16, TiesToEvenExhaustive) {
  for (uint32_t sign : {0u, 0x8000u}) {
    for (uint32_t hi = 0; hi < 0x7f80u; ++hi) {
      const uint32_t h = hi | sign, base = h << 16;
      const uint16_t even = static_cast<uint16_t>((hi & 1u) ? h + 1 : h);
      ASSERT_EQ(float_to_bf16(bits_float(base | 0x8000u)), even) << std::hex << h;
      ASSERT_EQ(float_to_bf16(bits_float(base | 0x7fffu)), h) << std::hex << h;
      ASSERT_EQ(float_to_bf16(bits_float(base | 0x8001u)), static_cast<uint16_t>(h + 1)) << std::hex << h;
      ASSERT_EQ(float_to_bf16(bits_float(base)), h) << std::hex << h;
    }
  }
  EXPECT_EQ(float_to_bf16(bits_float(0x3f808000u)), 0x3f80u);  // 1 + 2^-8: tie, down to even
  EXPECT_EQ(float_to_bf16(bits_float(0x3f818000u)), 0x3f82u);  // tie, up to even
}

// Every f16 step [h, h+1] for finite h, subnormals included: the exact midpoint (representable in
// f32, which has 13 more bits) goes to the even code, its f32 neighbours to the nearer one. For
// h = 0x7bff (65504) the midpoint 65520 goes to 0x7c00, infinity, as IEEE and PyTorch do.
TEST(CastF16, TiesToEvenExhaustive) {
  for (uint16_t sign : {uint16_t(0), uint16_t(0x8000)}) {
    for (uint32_t m = 0; m < 0x7c00u; ++m) {
      const uint16_t h = static_cast<uint16_t>(m | sign), up = static_cast<uint16_t>(h + 1);
      const float a = f16_to_float(h);
      const float b = m == 0x7bffu ? (sign ? -65536.0f : 65536.0f) : f16_to_float(up);
      const float mid = (a + b) / 2;  // exact: a and b are f16 values, mid needs one more bit
      ASSERT_EQ(float_to_f16(mid), (m & 1u) ? up : h) << std::hex << h;
      ASSERT_EQ(float_to_f16(std::nextafter(mid, a)), h) << std::hex << h;
      ASSERT_EQ(float_to_f16(std::nextafter(mid, b)), up) << std::hex << h;
      ASSERT_EQ(float_to_f16(a), h) << std::hex << h;
    }
  }
}

TEST(CastNaN, StaysNaN) {
  for (uint32_t bits : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f80ffffu, 0x7fffffffu, 0xffffffffu, 0x7f801fffu,
                        0x7fa00000u}) {
    const float f = bits_float(bits);
    ASSERT_TRUE(std::isnan(f));
    EXPECT_TRUE(bf16_is_nan(float_to_bf16(f))) << std::hex << bits;
    EXPECT_TRUE(f16_is_nan(float_to_f16(f))) << std::hex << bits;
    EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(f))));
    EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(f))));
    EXPECT_EQ(float_to_bf16(f) >> 15, bits >> 31);  // sign kept
    EXPECT_EQ(float_to_f16(f) >> 15, bits >> 31);
  }
}

TEST(CastOverflow, GoesToInfinity) {
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00u);
  EXPECT_EQ(float_to_f16(-65520.0f), 0xfc00u);
  EXPECT_EQ(float_to_f16(std::nextafter(65520.0f, 0.0f)), 0x7bffu);
  EXPECT_EQ(float_to_f16(1e10f), 0x7c00u);
  EXPECT_EQ(float_to_f16(3.4028235e38f), 0x7c00u);
  EXPECT_EQ(float_to_f16(INFINITY), 0x7c00u);
  EXPECT_EQ(float_to_f16(-INFINITY), 0xfc00u);
  EXPECT_EQ(float_to_bf16(bits_float(0x7f7fffffu)), 0x7f80u);  // FLT_MAX is past bf16's last midpoint
  EXPECT_EQ(float_to_bf16(bits_float(0x7f7f7fffu)), 0x7f7fu);
  EXPECT_EQ(float_to_bf16(INFINITY), 0x7f80u);
  EXPECT_EQ(float_to_bf16(-INFINITY), 0xff80u);
}

TEST(CastF16, Subnormals) {
  for (uint32_t m = 0; m < 1024; ++m) {
    const float v = static_cast<float>(m) * 0x1p-24f;
    EXPECT_EQ(float_to_f16(v), m);
    EXPECT_EQ(float_to_f16(-v), m | 0x8000u);
    EXPECT_EQ(f16_to_float(static_cast<uint16_t>(m)), v);
  }
  EXPECT_EQ(float_to_f16(0x1p-25f), 0u);          // half the smallest subnormal: tie to 0 (even)
  EXPECT_EQ(float_to_f16(0x1.8p-24f), 2u);        // 1.5 ulp: tie to 2
  EXPECT_EQ(float_to_f16(0x1.000002p-25f), 1u);   // just above the tie
  EXPECT_EQ(float_to_f16(0x1p-26f), 0u);
  EXPECT_EQ(float_to_f16(0x1.ff8p-15f), 0x3ffu);  // the largest subnormal
  EXPECT_EQ(float_to_f16(0x1.ffcp-15f), 0x400u);  // halfway between the largest subnormal and 2^-14: even
  EXPECT_EQ(float_to_f16(-0.0f), 0x8000u);
}

TEST(CastLargestFinite, Values) {
  EXPECT_EQ(f16_to_float(0x7bffu), 65504.0f);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bffu);
  EXPECT_EQ(f16_to_float(0x0400u), 0x1p-14f);  // smallest normal
  EXPECT_EQ(f16_to_float(0x0001u), 0x1p-24f);  // smallest subnormal
  EXPECT_EQ(bf16_to_float(0x7f7fu), 3.3895313892515355e38f);
  EXPECT_EQ(float_to_bf16(3.3895313892515355e38f), 0x7f7fu);
  EXPECT_EQ(bf16_to_float(0x0080u), 0x1p-126f);  // smallest normal, as f32's
}

// All 65536 codes: decode then encode gives the same bits, except NaNs, which stay NaN.
TEST(CastRoundTrip, ExhaustiveF16) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = float_to_f16(f16_to_float(static_cast<uint16_t>(h)));
    if (f16_is_nan(static_cast<uint16_t>(h)))
      ASSERT_TRUE(f16_is_nan(back)) << std::hex << h;
    else
      ASSERT_EQ(back, h) << std::hex << h;
  }
}

TEST(CastRoundTrip, ExhaustiveBf16) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = float_to_bf16(bf16_to_float(static_cast<uint16_t>(h)));
    if (bf16_is_nan(static_cast<uint16_t>(h)))
      ASSERT_TRUE(bf16_is_nan(back)) << std::hex << h;
    else
      ASSERT_EQ(back, h) << std::hex << h;
  }
}

// torch 1.13's Tensor.to(bfloat16 / float16) on tricky values (scripts/make_fixtures_rng_resize.py),
// through both the scalar functions and ops::cast on a strided tensor. NaNs compare by class:
// the payload PyTorch picks is not part of the contract.
TEST(CastTorchFixture, MatchesPyTorch) {
  std::ifstream in(std::string(HIPT_TEST_DATA) + "/cast_torch.txt");
  ASSERT_TRUE(in) << "missing " << HIPT_TEST_DATA << "/cast_torch.txt";
  std::vector<float> xs;
  std::vector<uint16_t> want_bf, want_h;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string a, b, c;
    ls >> a >> b >> c;
    xs.push_back(bits_float(static_cast<uint32_t>(std::stoul(a, nullptr, 16))));
    want_bf.push_back(static_cast<uint16_t>(std::stoul(b, nullptr, 16)));
    want_h.push_back(static_cast<uint16_t>(std::stoul(c, nullptr, 16)));
  }
  ASSERT_GT(xs.size(), 300u);
  // ops::cast goes through cpu::copy; a strided view checks that path too.
  const int64_t n = static_cast<int64_t>(xs.size());
  std::vector<float> doubled(xs.size() * 2);
  for (size_t i = 0; i < xs.size(); ++i) doubled[2 * i] = xs[i];
  Tensor strided = ops::slice(ops::from_vector(doubled, {2 * n}), 0, 0, 2 * n, 2);
  Tensor bf = ops::contiguous(ops::cast(strided, DType::BF16)), hf = ops::contiguous(ops::cast(strided, DType::F16));
  // raw_data, not data<uint16_t>(): the latter odr-uses the undefined dtype_of<uint16_t>.
  const uint16_t* bfp = static_cast<const uint16_t*>(bf.raw_data());
  const uint16_t* hfp = static_cast<const uint16_t*>(hf.raw_data());
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint16_t gb = float_to_bf16(xs[i]), gh = float_to_f16(xs[i]);
    EXPECT_EQ(bfp[i], gb) << i;
    EXPECT_EQ(hfp[i], gh) << i;
    if (std::isnan(xs[i])) {
      EXPECT_TRUE(bf16_is_nan(gb) && bf16_is_nan(want_bf[i])) << std::hex << float_bits(xs[i]);
      EXPECT_TRUE(f16_is_nan(gh) && f16_is_nan(want_h[i])) << std::hex << float_bits(xs[i]);
    } else {
      EXPECT_EQ(gb, want_bf[i]) << "bf16 of " << std::hex << float_bits(xs[i]);
      EXPECT_EQ(gh, want_h[i]) << "f16 of " << std::hex << float_bits(xs[i]);
    }
  }
}
