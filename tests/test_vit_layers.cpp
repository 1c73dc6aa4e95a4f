// nn/transformer.h: each layer's train/eval behaviour, and finite-difference gradchecks (f64) of the
// composite layers and of whole micro ViTs (their pos-embed resize included).
#include "autograd/nn_functions.h"
#include "hipt/models/vit.h"
#include "nn/transformer.h"
#include "testing.h"

namespace hipt {
namespace {
using namespace hipt::testing;

std::vector<Tensor> with_params(Tensor x, const nn::Module& m) {
  std::vector<Tensor> in{std::move(x)};
  for (const Tensor& p : m.parameters()) in.push_back(p);
  return in;
}

TEST(VitLayers, DropPathDropsWholeSamplesAndScalesTheRest) {
  auto gen = std::make_shared<Generator>(11);
  nn::DropPath dp(0.25, gen);
  Tensor x = ops::ones({400, 3, 5});
  Tensor y = dp.forward(x);
  std::vector<float> v = ops::to_vector<float>(y);
  int kept = 0;
  for (int b = 0; b < 400; ++b) {
    const float first = v[static_cast<size_t>(b * 15)];
    EXPECT_TRUE(first == 0.0f || first == 1.0f / 0.75f) << first;
    for (int i = 1; i < 15; ++i) ASSERT_EQ(v[static_cast<size_t>(b * 15 + i)], first) << "sample " << b;
    kept += first != 0.0f;
  }
  EXPECT_NEAR(kept / 400.0, 0.75, 0.07);
  dp.eval();
  EXPECT_EQ(dp.forward(x).storage(), x.storage());  // identity in eval
  nn::DropPath none(0.0, gen);
  EXPECT_EQ(none.forward(x).storage(), x.storage());
  expect_error([&] { nn::DropPath(1.0, gen); }, {"DropPath", "[0, 1)"});
  expect_error([&] { nn::drop_path(x, -0.1, true, *gen); }, {"drop_path", "[0, 1)"});
}

TEST(VitLayers, DropoutAndGeluModules) {
  auto gen = std::make_shared<Generator>(3);
  nn::Dropout drop(0.5, gen);
  Tensor x = ops::ones({1000});
  std::vector<float> v = ops::to_vector<float>(drop.forward(x));
  int kept = 0;
  for (float f : v) {
    EXPECT_TRUE(f == 0.0f || f == 2.0f);
    kept += f != 0.0f;
  }
  EXPECT_NEAR(kept / 1000.0, 0.5, 0.06);
  drop.eval();
  EXPECT_EQ(drop.forward(x).storage(), x.storage());
  expect_error([&] { nn::Dropout(1.5, gen); }, {"Dropout", "1.5"});
  nn::GELU gelu;
  Tensor g = gelu.forward(ops::from_vector<double>({-1.0, 0.0, 2.0}, {3}));
  auto exact = [](double x) { return x * 0.5 * (1 + std::erf(x / std::sqrt(2.0))); };
  expect_close(g, {exact(-1.0), 0.0, exact(2.0)}, 1e-15, 0);
}

TEST(VitLayers, AttentionMatchesPlainDoubleReferenceAndReturnsProbs) {
  Generator init(5);
  nn::Attention attn(6, 2, 0, 0, init, std::make_shared<Generator>(1), DType::F64);
  Tensor x = random_tensor({2, 4, 6}, DType::F64, 9);
  NoGradGuard ng;
  Tensor probs;
  Tensor y = attn.forward(x, &probs);
  // softmax((x Wq)(x Wk)ᵀ / √3) (x Wv) per head, heads joined, then proj: plain loops in double.
  std::vector<double> xv = ops::to_vector<double>(x), w = ops::to_vector<double>(attn.qkv->weight),
                      b = ops::to_vector<double>(attn.qkv->bias), pw = ops::to_vector<double>(attn.proj->weight),
                      pb = ops::to_vector<double>(attn.proj->bias);
  std::vector<double> want(2 * 4 * 6), want_p(2 * 2 * 4 * 4);
  for (int n = 0; n < 2; ++n) {
    std::vector<double> qkv(4 * 18, 0.0), o(4 * 6, 0.0);
    for (int t = 0; t < 4; ++t)
      for (int f = 0; f < 18; ++f) {
        double s = b[f];
        for (int c = 0; c < 6; ++c) s += xv[(n * 4 + t) * 6 + c] * w[f * 6 + c];
        qkv[t * 18 + f] = s;
      }
    for (int h = 0; h < 2; ++h)
      for (int t = 0; t < 4; ++t) {
        double row[4], mx = -1e300, z = 0;
        for (int u = 0; u < 4; ++u) {
          double s = 0;
          for (int d = 0; d < 3; ++d) s += qkv[t * 18 + h * 3 + d] * qkv[u * 18 + 6 + h * 3 + d];
          row[u] = s / std::sqrt(3.0);
          mx = std::max(mx, row[u]);
        }
        for (double& r : row) z += (r = std::exp(r - mx));
        for (int u = 0; u < 4; ++u) {
          want_p[((n * 2 + h) * 4 + t) * 4 + u] = row[u] / z;
          for (int d = 0; d < 3; ++d) o[t * 6 + h * 3 + d] += row[u] / z * qkv[u * 18 + 12 + h * 3 + d];
        }
      }
    for (int t = 0; t < 4; ++t)
      for (int f = 0; f < 6; ++f) {
        double s = pb[f];
        for (int c = 0; c < 6; ++c) s += o[t * 6 + c] * pw[f * 6 + c];
        want[(n * 4 + t) * 6 + f] = s;
      }
  }
  expect_close(y, want, 1e-12, 1e-12, "attention output");
  expect_close(probs, want_p, 1e-12, 1e-12, "attention probs");
  expect_error([&] { attn.forward(ops::zeros({4, 6}, DType::F64)); }, {"Attention", "[B, T, C]"});
  expect_error([&] { nn::Attention(6, 4, 0, 0, init, nullptr); }, {"Attention", "6", "4"});
}

TEST(VitLayers, GradcheckMlpAttentionBlockPatchEmbed) {
  Generator init(2);
  auto gen = std::make_shared<Generator>(1);
  nn::Mlp mlp(4, 6, 0, init, gen, DType::F64);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return mlp.forward(in[0]); },
                   with_params(random_tensor({2, 3, 4}, DType::F64, 1), mlp));
  nn::Attention attn(4, 2, 0, 0, init, gen, DType::F64);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return attn.forward(in[0]); },
                   with_params(random_tensor({2, 3, 4}, DType::F64, 2), attn));
  nn::Block block(4, 2, 2.0, 0, 0, 0, init, gen, DType::F64);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return block.forward(in[0]); },
                   with_params(random_tensor({2, 3, 4}, DType::F64, 3), block));
  nn::PatchEmbed pe(2, 2, 3, init, DType::F64);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return pe.forward(in[0]); },
                   with_params(random_tensor({2, 2, 4, 6}, DType::F64, 4), pe));
  expect_error([&] { pe.forward(ops::zeros({1, 2, 5, 6}, DType::F64)); }, {"PatchEmbed", "5x6", "2"});
}

// Dropout inside attention (unfused path) and drop path, with the generator rewound before each
// evaluation so every finite difference sees the same masks.
TEST(VitLayers, GradcheckWithDropoutAndDropPathMasks) {
  Generator init(4);
  auto gen = std::make_shared<Generator>(8);
  nn::Block block(4, 2, 2.0, 0.2, 0.3, 0.4, init, gen, DType::F64);
  block.train();
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        gen->set_offset(0);
        return block.forward(in[0]);
      },
      with_params(random_tensor({3, 3, 4}, DType::F64, 5), block));
  gen->set_offset(0);
  Tensor probs;
  block.forward(random_tensor({3, 3, 4}, DType::F64, 5), &probs);  // probs before the dropout
  std::vector<double> p = ops::to_vector<double>(probs);
  for (int r = 0; r < 3 * 2 * 3; ++r) EXPECT_NEAR(p[r * 3] + p[r * 3 + 1] + p[r * 3 + 2], 1.0, 1e-12);
}

TEST(VitLayers, GradcheckMicroVitsThroughThePosEmbedResize) {
  VitConfig c;
  c.embed_dim = 4;
  c.depth = 1;
  c.heads = 2;
  c.patch = 2;
  c.img_size = 8;  // a 4x4 table, resized to the 3x2 grid below
  c.dtype = DType::F64;
  VisionTransformer vit(c);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return vit.forward(in[0]); },
                   with_params(random_tensor({1, 3, 6, 4}, DType::F64, 6), vit));
  VitConfig c4 = c;
  c4.in_chans = 5;
  c4.img_size = 48;  // (48 / 16)^2 = a 3x3 table, resized to 2x2
  VisionTransformer4K vit4k(c4);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return vit4k.forward(in[0]); },
                   with_params(random_tensor({2, 5, 2, 2}, DType::F64, 7), vit4k));
}

}  // namespace
}  // namespace hipt
