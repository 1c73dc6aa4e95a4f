// The models on the GPU against the same models on the CPU: a ViT block forward and backward, the
// region encoder behind `hipt embed-region` on one region, HIPT_LGP_FC forward and backward, and
// a ViT training step (backward, per-tensor clipping, AdamW with DINO's parameter groups); and,
// once warm, neither a training step nor a region encode asks the driver for memory.
//
// Both sides get the same weights (the fixture formula, or one seeded init copied by state dict)
// and the same inputs. Each output, input gradient, parameter gradient and updated weight is
// compared per tensor as max|cuda − cpu| / max|cpu|:
//   f32 (TF32 off, the default): <= 1e-5;
//   bf16 (weights and activations bf16 on the GPU, statistics and accumulation f32; against the
//   f32 CPU run): <= 2e-2.
// Every test skips, saying why, without a usable GPU.
#include <map>
#include <string>
#include <vector>

#include "autograd/nn_functions.h"
#include "cuda/caching_allocator.h"
#include "devices.h"
#include "hipt/models/region_encoder.h"
#include "hipt/models/slide_model.h"
#include "nn/clip.h"
#include "nn/optim.h"
#include "nn/transformer.h"
#include "testing.h"
#include "vit_fixture_formula.h"

namespace hipt {
namespace {
using testing::kCpu;
using testing::kCuda0;

constexpr double kTolF32 = 1e-5;
constexpr double kTolBf16 = 2e-2;

class CudaModels : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    const std::string why = testing::why_device_unusable(kCuda0);
    if (!why.empty()) GTEST_SKIP() << why;
  }
  DType dtype() const { return GetParam(); }
  double tol() const { return dtype() == DType::F32 ? kTolF32 : kTolBf16; }
};

// `gpu` as f32 on the CPU, compared with `cpu` (f32 on the CPU).
void expect_parity(const Tensor& gpu, const Tensor& cpu, double tol, const std::string& what) {
  ASSERT_TRUE(gpu.defined()) << what;
  ASSERT_EQ(gpu.device(), kCuda0) << what;
  const Tensor host = ops::cast(gpu.to(kCpu), DType::F32);
  EXPECT_LE(testing::relative_error(host, cpu, what), tol) << what;
}

// The same module's parameter gradients, name by name.
void expect_grad_parity(const nn::Module& gpu, const nn::Module& cpu, double tol) {
  std::map<std::string, Tensor> want;
  for (const nn::Parameter& p : cpu.named_parameters()) want[p.name] = p.tensor.grad();
  for (const nn::Parameter& p : gpu.named_parameters()) {
    if (!want.at(p.name).defined()) continue;  // not reached by this loss on either device
    expect_parity(p.tensor.grad(), want.at(p.name), tol, "grad of " + p.name);
  }
}

// `m` (built on the CPU in `dtype`) takes the weights of `from`, then moves to the GPU.
template <class M> void copy_to_gpu(M& m, const nn::Module& from) {
  m.load_state_dict(from.state_dict());
  m.to(kCuda0);
}

Tensor on_gpu(const Tensor& t, DType dtype, bool requires_grad = false) {
  Tensor g = ops::cast(t, dtype).to(kCuda0);
  if (requires_grad) g.requires_grad_();
  return g;
}

TEST_P(CudaModels, VitBlockForwardAndBackward) {
  Generator init_cpu(21), init_gpu(21);
  nn::Block cpu(384, 6, 4.0, 0, 0, 0, init_cpu, std::make_shared<Generator>(1));
  nn::Block gpu(384, 6, 4.0, 0, 0, 0, init_gpu, std::make_shared<Generator>(1), dtype());
  copy_to_gpu(gpu, cpu);
  const Tensor x0 = testing::fixture_tensor({2, 257, 384}, 31, 1.0);
  const Tensor w0 = testing::fixture_tensor({2, 257, 384}, 32, 1.0);  // dL/dout

  Tensor x = ops::clone(x0);
  x.requires_grad_();
  const Tensor out = cpu.forward(x);
  backward(sum(mul(out, w0)));

  Tensor xg = on_gpu(x0, dtype(), true);
  const Tensor out_g = gpu.forward(xg);
  backward(sum(mul(out_g, on_gpu(w0, dtype()))));

  expect_parity(out_g, out, tol(), "block output");
  expect_parity(xg.grad(), x.grad(), tol(), "grad of x");
  expect_grad_parity(gpu, cpu, tol());
}

TEST_P(CudaModels, RegionEncoderOnOneRegion) {
  auto vit256 = vit256_small(0, false);
  auto vit4k = vit4k_xs(0, false);
  testing::set_fixture_weights(*vit256);
  testing::set_fixture_weights(*vit4k);
  auto vit256_g = vit256_small(0, false, dtype());
  auto vit4k_g = vit4k_xs(0, false, dtype());
  copy_to_gpu(*vit256_g, *vit256);
  copy_to_gpu(*vit4k_g, *vit4k);
  const Tensor region = testing::fixture_region_u8(1061, 1030);  // 16 patches after the centre crop

  const RegionEmbedding want = RegionEncoder(vit256, vit4k, {6, AttentionMaps::ClsRow, {}}).encode(region);
  const RegionEmbedding got = RegionEncoder(vit256_g, vit4k_g, {6, AttentionMaps::ClsRow, {}}).encode(region);
  // The encoder returns f32 on the CPU from either device.
  ASSERT_EQ(got.patch_features.device(), kCpu);
  EXPECT_LE(testing::relative_error(got.patch_features, want.patch_features, "patch_features"), tol());
  EXPECT_LE(testing::relative_error(got.region_feature, want.region_feature, "region_feature"), tol());
  EXPECT_LE(testing::relative_error(got.patch_attention, want.patch_attention, "patch_attention"), tol());
  EXPECT_LE(testing::relative_error(got.region_attention, want.region_attention, "region_attention"), tol());
}

SlideModelConfig slide_config() {
  SlideModelConfig c;
  c.n_classes = 4;
  c.init_local_vit = false;  // the formula overwrites every weight
  return c;
}

TEST_P(CudaModels, HiptLgpFcForwardAndBackward) {
  if (dtype() != DType::F32) GTEST_SKIP() << "HIPT_LGP_FC runs in f32: bf16 covers the ViT ops (its ReLU, tanh, sigmoid are f32/f64)";
  HiptLgpFc cpu(slide_config());
  testing::set_fixture_weights(cpu);
  HiptLgpFc gpu(slide_config());
  copy_to_gpu(gpu, cpu);
  cpu.eval();
  gpu.eval();
  const Tensor x = testing::fixture_tensor({3, 256, 384}, 1005, 1.0);
  const Tensor target = ops::from_vector(std::vector<int64_t>{2}, {1});

  const SlideOutput want = cpu.forward(x);
  backward(cross_entropy(want.logits, target));
  const SlideOutput got = gpu.forward(x.to(kCuda0));
  backward(cross_entropy(got.logits, target.to(kCuda0)));

  expect_parity(got.attention, want.attention, tol(), "attention");
  expect_parity(got.logits, want.logits, tol(), "logits");
  expect_parity(got.probs, want.probs, tol(), "probs");
  expect_grad_parity(gpu, cpu, tol());
}

// A small ViT-256 (2 blocks) trained for two steps on both devices; the updated weights and the
// clipping norms agree.
TEST_P(CudaModels, VitTrainingStep) {
  if (dtype() != DType::F32) GTEST_SKIP() << "training runs in f32: the optimizer steps are f32/f64";
  VitConfig c = vit256_small_config();
  c.depth = 2;
  c.seed = 5;
  VisionTransformer cpu(c), gpu(c);
  copy_to_gpu(gpu, cpu);
  nn::AdamW opt_cpu(nn::decay_groups(cpu.named_parameters(), 5e-4, 0.04));
  nn::AdamW opt_gpu(nn::decay_groups(gpu.named_parameters(), 5e-4, 0.04));
  const Tensor images = testing::fixture_tensor({2, 3, 64, 64}, 41, 1.0);
  const Tensor w = testing::fixture_tensor({2, 384}, 42, 1.0);

  for (int step = 0; step < 2; ++step) {
    opt_cpu.zero_grad();
    backward(sum(mul(cpu.forward(images), w)));
    const std::vector<double> norms_cpu = nn::clip_gradients(cpu.parameters(), 3.0);
    opt_cpu.step();

    opt_gpu.zero_grad();
    backward(sum(mul(gpu.forward(images.to(kCuda0)), w.to(kCuda0))));
    const std::vector<double> norms_gpu = nn::clip_gradients(gpu.parameters(), 3.0);
    opt_gpu.step();

    ASSERT_EQ(norms_gpu.size(), norms_cpu.size());
    for (size_t i = 0; i < norms_cpu.size(); ++i)
      EXPECT_NEAR(norms_gpu[i], norms_cpu[i], kTolF32 * std::max(1.0, norms_cpu[i])) << "step " << step << " norm " << i;
  }
  std::map<std::string, Tensor> want;
  for (const nn::Parameter& p : cpu.named_parameters()) want[p.name] = p.tensor;
  for (const nn::Parameter& p : gpu.named_parameters()) expect_parity(p.tensor, want.at(p.name), tol(), p.name);
}

// After a warm-up, a training step and a region encode are served from the caching allocator:
// no cudaMalloc (cuda::allocator_stats counts them).
TEST_P(CudaModels, WarmTrainingStepAndRegionEncodeMakeNoDeviceMalloc) {
  if (cuda::CachingAllocator::disabled_by_environment()) GTEST_SKIP() << "HIPT_NO_CACHING_ALLOCATOR is set";
  if (dtype() != DType::F32) GTEST_SKIP() << "training runs in f32";
  VitConfig c = vit256_small_config();
  c.depth = 2;
  VisionTransformer vit(c);
  vit.to(kCuda0);
  nn::AdamW opt(nn::decay_groups(vit.named_parameters(), 5e-4, 0.04));
  const Tensor images = testing::fixture_tensor({2, 3, 64, 64}, 41, 1.0).to(kCuda0);
  auto train_step = [&] {
    opt.zero_grad();
    backward(sum(vit.forward(images)));
    nn::clip_gradients(vit.parameters(), 3.0);
    opt.step();
  };
  auto vit256 = vit256_small(0, false);
  auto vit4k = vit4k_xs(0, false);
  vit256->to(kCuda0);
  vit4k->to(kCuda0);
  const RegionEncoder encoder(vit256, vit4k, {8, AttentionMaps::ClsRow, {}});
  const Tensor region = testing::fixture_region_u8(1061, 1030);

  for (int warm = 0; warm < 2; ++warm) train_step(), encoder.encode(region);
  const cuda::AllocatorStats before = cuda::allocator_stats();
  train_step();
  encoder.encode(region);
  const cuda::AllocatorStats after = cuda::allocator_stats();
  EXPECT_EQ(after.device_mallocs, before.device_mallocs);
  EXPECT_GT(after.cache_hits, before.cache_hits);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaModels, ::testing::Values(DType::F32, DType::BF16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return info.param == DType::F32 ? std::string("f32") : std::string("bf16");
                         });

}  // namespace
}  // namespace hipt
