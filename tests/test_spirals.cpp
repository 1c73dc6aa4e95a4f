// End to end: autograd, Linear, tanh, cross-entropy and AdamW must learn two spirals.
#include "examples/spirals.h"
#include "testing.h"

TEST(Spirals, MlpLearnsTwoSpiralsWithAdamW) {
  hipt::SpiralsReport r = hipt::train_spirals(1000, 0);
  EXPECT_GE(r.accuracy, 0.98) << "final loss " << r.loss.back();
  EXPECT_LT(r.loss.back(), r.loss.front() / 10);
}
