#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"

using namespace hipt;

TEST(Smoke, AddBackward) {
  Tensor a = ops::from_vector<double>({1, 2, 3}, {3});
  Tensor b = ops::from_vector<double>({4, 5, 6}, {3});
  a.requires_grad_();
  b.requires_grad_();
  Tensor y = sum(mul(a, b));
  backward(y);
  EXPECT_EQ(ops::to_vector<double>(a.grad()), (std::vector<double>{4, 5, 6}));
  auto r = gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
                     {ops::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_(),
                      ops::from_vector<double>({1, -2, 3, 4, 0.5, 6}, {3, 2}).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.report;
}
