// Uses an installed hipt the way any program would (find_package(hipt), hipt::models, hipt::cuda):
// writes the ViT-256 weights of hipt's model tests to a .safetensors file, loads them into a fresh,
// randomly initialised ViT-256 through the checkpoint rules (hipt/models/checkpoint.h), encodes the test
// patch and compares its [CLS] vector with PyTorch's (the `cls` tensor of
// tests/data/vit256_patch.safetensors, made by scripts/make_vit_fixtures.py).
//
//   hipt_consumer REFERENCE.safetensors WEIGHTS_OUT.safetensors
//
// One line on stdout when max|ours - torch| / max|torch| <= 1e-5; otherwise one line on stderr
// and exit status 1.
#include <cstdio>
#include <exception>
#include <string>

#include "autograd/autograd.h"
#include "cuda/runtime.h"
#include "hipt/models/checkpoint.h"
#include "hipt/models/vit.h"
#include "io/safetensors.h"
#include "vit_fixture_formula.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s REFERENCE.safetensors WEIGHTS_OUT.safetensors\n", argv[0]);
    return 2;
  }
  const std::string reference = argv[1], weights = argv[2];
  constexpr double kTolerance = 1e-5;
  try {
    hipt::cuda::register_backend();

    auto source = hipt::vit256_small(0, /*init=*/false);
    hipt::testing::set_fixture_weights(*source);
    hipt::io::write_safetensors(weights, source->state_dict(), {{"written_by", "hipt_consumer"}});

    auto vit = hipt::vit256_small(/*seed=*/1);  // random weights, all replaced by the file's
    hipt::load_backbone(*vit, weights);
    vit->eval();
    hipt::NoGradGuard no_grad;
    hipt::Tensor cls = vit->forward(hipt::testing::fixture_image({1, 3, 256, 256}));

    hipt::io::TensorMap want = hipt::io::read_safetensors(reference);
    auto it = want.find("cls");
    if (it == want.end()) {
      std::fprintf(stderr, "error: %s has no tensor 'cls'\n", reference.c_str());
      return 1;
    }
    if (cls.shape() != it->second.shape()) {
      std::fprintf(stderr, "error: [CLS] is %s, %s's 'cls' is %s\n", cls.shape().str().c_str(),
                   reference.c_str(), it->second.shape().str().c_str());
      return 1;
    }
    const double err = hipt::testing::relative_error(cls, it->second);
    if (!(err <= kTolerance)) {
      std::fprintf(stderr, "error: ViT-256 [CLS] differs from %s by %.3g relative (tolerance %g)\n",
                   reference.c_str(), err, kTolerance);
      return 1;
    }
    std::printf("hipt_consumer: ViT-256 [CLS] %s, loaded from %s, matches %s within %.3g relative (tolerance %g)\n",
                cls.shape().str().c_str(), weights.c_str(), reference.c_str(), err, kTolerance);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
