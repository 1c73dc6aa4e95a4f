// hipt/models/vit.h and hipt/models/region_encoder.h against PyTorch 1.13: the reference modules are built by
// scripts/make_vit_fixtures.py with weights and inputs from tests/vit_fixture_formula.h's formulas.
// Forward tolerance: max|ours - torch| / max|torch| <= 1e-5 per output (f32 on both sides).
#include <cmath>
#include <sstream>

#include "autograd/nn_functions.h"
#include "hipt/models/region_encoder.h"
#include "hipt/models/vit.h"
#include "nn/optim.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace hipt {
namespace {
using namespace hipt::testing;

#define EXPECT_RELATIVE(got, want, tol) EXPECT_LE(relative_error(got, want, #got), tol) << #got

TEST(Vit, ParameterNamesShapesAndOrderMatchTheReference) {
  auto vit256 = vit256_small(0, /*init=*/false);
  auto vit4k = vit4k_xs(0, false);
  EXPECT_EQ(vit256->named_parameters().size(), 150u);
  EXPECT_EQ(vit256->num_parameters(), 21665664);
  EXPECT_EQ(vit4k->named_parameters().size(), 78u);
  EXPECT_EQ(vit4k->num_parameters(), 2781504);
  const std::string dir = std::string(HIPT_TEST_DATA) + "/";
  EXPECT_EQ(param_table(*vit256), io::read_safetensors_metadata(dir + "vit256_patch.safetensors").at("params"));
  EXPECT_EQ(param_table(*vit4k), io::read_safetensors_metadata(dir + "vit4k_grid.safetensors").at("params"));
}

TEST(Vit, TinyAndBaseConfigsHaveDinosSizes) {  // counts from the fixture script's torch module
  VitConfig tiny = vit_tiny_config(), base = vit_base_config();
  tiny.init = base.init = false;
  EXPECT_EQ(VisionTransformer(tiny).num_parameters(), 5524416);
  base.depth = 1;  // 85,798,656 for 12 blocks, less 11 blocks of 12·768² + 13·768 (keeps the test fast)
  EXPECT_EQ(VisionTransformer(base).num_parameters(), 85798656 - 11 * (12 * 768 * 768 + 13 * 768));
}

TEST(Vit, InitIsDinos) {
  auto vit = vit4k_xs(7);
  for (const nn::Parameter& p : vit->named_parameters()) {
    std::vector<double> v = ops::to_vector<double>(p.tensor);
    double lo = 1e9, hi = -1e9, sq = 0;
    for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x), sq += x * x;
    const double rms = std::sqrt(sq / static_cast<double>(v.size()));
    if (p.tensor.dim() >= 2) {  // trunc normal std 0.02 (cut at ±2, so effectively untruncated)
      EXPECT_NEAR(rms, 0.02, 0.004) << p.name;
    } else if (p.name.find("norm") != std::string::npos && p.name.find(".weight") != std::string::npos) {
      EXPECT_EQ(lo, 1.0) << p.name;
      EXPECT_EQ(hi, 1.0) << p.name;
    } else {
      EXPECT_EQ(lo, 0.0) << p.name;
      EXPECT_EQ(hi, 0.0) << p.name;
    }
  }
  // Same seed, same model.
  EXPECT_EQ(ops::to_vector<float>(vit4k_xs(7)->pos_embed), ops::to_vector<float>(vit->pos_embed));
}

TEST(Vit, Vit256MatchesTorchOnOnePatch) {
  auto vit = vit256_small(0, false);
  vit->eval();
  set_fixture_weights(*vit);
  io::TensorMap want = read_fixture("vit256_patch.safetensors");
  NoGradGuard ng;
  Tensor attn;
  Tensor cls = vit->forward(fixture_image({1, 3, 256, 256}), &attn);
  EXPECT_RELATIVE(cls, want.at("cls"), 1e-5);
  EXPECT_EQ(attn.shape(), Shape({1, 6, 257, 257}));
  EXPECT_RELATIVE(ops::select(attn, 2, 0), want.at("attn_cls_row"), 1e-5);
  // Without the full map the last block runs [CLS] alone as a query (another code path).
  Tensor row;
  EXPECT_RELATIVE(vit->forward(fixture_image({1, 3, 256, 256}), &row, /*cls_row=*/true), want.at("cls"), 1e-5);
  EXPECT_RELATIVE(ops::select(row, 2, 0), want.at("attn_cls_row"), 1e-5);
  EXPECT_RELATIVE(vit->forward(fixture_image({1, 3, 256, 256})), want.at("cls"), 1e-5);
}

TEST(Vit, Vit4kMatchesTorchOnSquareNonSquareAndStoredGrids) {
  auto vit = vit4k_xs();
  vit->eval();
  set_fixture_weights(*vit);
  io::TensorMap want = read_fixture("vit4k_grid.safetensors");
  NoGradGuard ng;
  for (auto [tag, rows, cols] : {std::tuple{"16x16", 16, 16}, {"12x9", 12, 9}, {"14x14", 14, 14}}) {
    SCOPED_TRACE(tag);
    Tensor attn;
    Tensor cls = vit->forward(fixture_grid({1, 384, rows, cols}), &attn);
    EXPECT_RELATIVE(cls, want.at(std::string("cls_") + tag), 1e-5);
    EXPECT_RELATIVE(ops::select(attn, 2, 0), want.at(std::string("attn_cls_row_") + tag), 1e-5);
  }
  EXPECT_RELATIVE(vit->interpolated_pos_embed(12, 9), want.at("pos_12x9"), 1e-6);
  // 14x14 is the stored table itself; 7x28 has as many tokens but is not square, so it is resized.
  EXPECT_EQ(vit->interpolated_pos_embed(14, 14).storage(), vit->pos_embed.storage());
  EXPECT_EQ(vit->interpolated_pos_embed(7, 28).shape(), Shape({1, 197, 192}));
  EXPECT_NE(vit->interpolated_pos_embed(7, 28).storage(), vit->pos_embed.storage());
}

TEST(Vit, PosEmbedCacheFollowsReloadedWeights) {
  auto vit = vit4k_xs(3);
  NoGradGuard ng;
  Tensor a = vit->interpolated_pos_embed(16, 16);
  EXPECT_EQ(vit->interpolated_pos_embed(16, 16).storage(), a.storage());  // cached
  set_fixture_weights(*vit);                                              // as a checkpoint load would
  Tensor b = vit->interpolated_pos_embed(16, 16);
  EXPECT_NE(b.storage(), a.storage());
  io::TensorMap want = read_fixture("vit4k_grid.safetensors");
  EXPECT_RELATIVE(vit->interpolated_pos_embed(12, 9), want.at("pos_12x9"), 1e-6);
}

TEST(Vit, BadInputsAreErrors) {
  auto vit = vit256_small(0, false);
  auto vit4k = vit4k_xs(0, false);
  NoGradGuard ng;
  expect_error([&] { vit->forward(ops::zeros({1, 3, 250, 256})); }, {"PatchEmbed", "250x256", "16"});
  expect_error([&] { vit->forward(ops::zeros({1, 4, 256, 256})); }, {"VisionTransformer", "[1, 4, 256, 256]"});
  expect_error([&] { vit4k->forward(ops::zeros({1, 192, 4, 4})); }, {"VisionTransformer4K", "384"});
  expect_error([&] { vit4k->forward(ops::zeros({384, 4, 4})); }, {"VisionTransformer4K"});
  VitConfig bad = vit256_small_config();
  bad.heads = 5;
  expect_error([&] { VisionTransformer v(bad); }, {"heads 5"});
  VitConfig no_grid = vit256_small_config();
  no_grid.img_size = 8;
  expect_error([&] { VisionTransformer v(no_grid); }, {"img_size 8", "empty positional grid"});
}

// ---------------------------------------------------------------- region encoder

TEST(RegionEncoder, CenterCropOffsetRoundsHalfToEven) {
  EXPECT_EQ(center_crop_offset(1061, 1024), 18);  // 18.5 -> 18
  EXPECT_EQ(center_crop_offset(1027, 1024), 2);   // 1.5 -> 2
  EXPECT_EQ(center_crop_offset(1029, 1024), 2);   // 2.5 -> 2
  EXPECT_EQ(center_crop_offset(1030, 1024), 3);
  EXPECT_EQ(center_crop_offset(4096, 4096), 0);
}

TEST(RegionEncoder, MatchesTorchOnA1061x1030RegionHeavy) {
  auto vit256 = vit256_small(0, false);
  auto vit4k = vit4k_xs(0, false);
  set_fixture_weights(*vit256);
  set_fixture_weights(*vit4k);
  io::TensorMap want = read_fixture("hipt4k_region.safetensors");
  RegionEncoder enc(vit256, vit4k, {/*batch=*/6, AttentionMaps::ClsRow, {}});  // 16 patches in 3 minibatches
  RegionEmbedding e = enc.encode(fixture_region_u8(1061, 1030));
  EXPECT_EQ(e.rows, 4);
  EXPECT_EQ(e.cols, 4);
  EXPECT_EQ(std::vector<int64_t>({e.crop_top, e.crop_left}), ops::to_vector<int64_t>(want.at("crop_offsets")));
  EXPECT_RELATIVE(e.patch_features, want.at("patch_features"), 1e-5);
  EXPECT_RELATIVE(e.region_feature, want.at("region_feature"), 1e-5);
  EXPECT_RELATIVE(e.patch_attention, want.at("attn256_cls"), 1e-5);
  EXPECT_RELATIVE(e.region_attention, want.at("attn4k"), 1e-5);
  EXPECT_FALSE(e.region_feature.requires_grad());
}

TEST(RegionEncoder, KeepsFullMapsOrNoneAndRefusesBadRegions) {
  VitConfig small = vit256_small_config();
  small.depth = 1;
  small.init = false;
  VitConfig small4k = vit4k_xs_config();
  small4k.depth = 1;
  RegionEncoder full(std::make_shared<VisionTransformer>(small), std::make_shared<VisionTransformer4K>(small4k),
                     {1, AttentionMaps::Full, {}});
  RegionEmbedding e = full.encode(fixture_region_u8(256, 512 + 100));
  EXPECT_EQ(e.patch_features.shape(), Shape({2, 384}));
  EXPECT_EQ(e.patch_attention.shape(), Shape({2, 6, 257, 257}));
  EXPECT_EQ(e.region_attention.shape(), Shape({6, 3, 3}));
  EXPECT_EQ(e.region_feature.shape(), Shape({192}));
  EXPECT_EQ(e.crop_left, 50);
  RegionEncoder none(full.vit256(), full.vit4k(), {256, AttentionMaps::None, {}});
  RegionEmbedding n = none.encode(fixture_region_u8(256, 612));
  EXPECT_FALSE(n.patch_attention.defined());
  EXPECT_FALSE(n.region_attention.defined());
  EXPECT_EQ(ops::to_vector<float>(n.region_feature), ops::to_vector<float>(e.region_feature));

  std::vector<int64_t> progress;
  RegionEncoder counted(full.vit256(), full.vit4k(),
                        {1, AttentionMaps::None, [&](int64_t done) { progress.push_back(done); }});
  counted.encode(fixture_region_u8(256, 612));
  EXPECT_EQ(progress, std::vector<int64_t>({1, 2}));  // one call per minibatch, patches done so far

  expect_error([&] { full.encode(fixture_region_u8(255, 1024)); }, {"region encoder", "255x1024", "256"});
  expect_error([&] { full.encode(ops::zeros({256, 256, 3})); }, {"region encoder", "u8 [H, W, 3]"});
  expect_error([&] { full.encode(ops::zeros({256, 256, 4}, DType::U8)); }, {"region encoder", "[256, 256, 4]"});
  expect_error([&] { RegionEncoder(full.vit256(), full.vit4k(), {0, AttentionMaps::None, {}}); }, {"batch"});
  expect_error([&] { RegionEncoder(full.vit256(), nullptr); }, {"both ViTs"});
  VitConfig wide4k = small4k;
  wide4k.in_chans = 192;
  expect_error([&] { RegionEncoder(full.vit256(), std::make_shared<VisionTransformer4K>(wide4k)); },
               {"region encoder", "384-d", "takes 192"});
  VitConfig gray = small;
  gray.in_chans = 1;
  expect_error([&] { RegionEncoder(std::make_shared<VisionTransformer>(gray), full.vit4k()); },
               {"region encoder", "RGB", "not 1"});
}

// ---------------------------------------------------------------- training a tiny ViT

VitConfig tiny_config() {  // TINY in the fixture script
  VitConfig c;
  c.embed_dim = 32;
  c.depth = 2;
  c.heads = 2;
  c.patch = 8;
  c.img_size = 32;
  return c;
}

TEST(Vit, TinyGradientsAndTenAdamWStepsMatchTorch) {
  VisionTransformer vit(tiny_config());
  set_fixture_weights(vit);
  io::TensorMap want = read_fixture("vit_tiny_train.safetensors");
  Tensor x = fixture_image({2, 3, 24, 40});  // a 3x5 grid: the 4x4 table is resized, differentiably
  Tensor target = fixture_tensor({2, 32}, 1003, 0.3);
  nn::AdamW opt(vit.parameters(), {/*lr=*/1e-2, 0.9, 0.999, 1e-8, /*weight_decay=*/0.05});
  std::vector<float> want_losses = ops::to_vector<float>(want.at("losses"));
  for (size_t step = 0; step < want_losses.size(); ++step) {
    opt.zero_grad();
    Tensor cls = vit.forward(x);
    Tensor d = sub(cls, target);
    Tensor loss = mean(mul(d, d));
    backward(loss);
    if (step == 0) {
      EXPECT_RELATIVE(cls, want.at("cls"), 1e-5);
      for (const nn::Parameter& p : vit.named_parameters()) {
        ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
        EXPECT_LE(relative_error(p.tensor.grad(), want.at("grad." + p.name), p.name), 1e-4) << p.name;
      }
    }
    EXPECT_NEAR(loss.item(), want_losses[step], 1e-5 * want_losses[0]) << "step " << step;
    opt.step();
  }
}

}  // namespace
}  // namespace hipt
