// The autograd engine (accumulation, graph freeing, grad mode) and a finite-difference gradient
// check of every differentiable primitive in autograd/functions.h.
#include "autograd/image_functions.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

namespace {
Tensor param(const Shape& s, uint32_t seed, double lo = -1, double hi = 1) {
  return random_tensor(s, DType::F64, seed, lo, hi).requires_grad_();
}
using Xs = const std::vector<Tensor>&;
}  // namespace

TEST(Autograd, AccumulatesFanOutAndRepeatedBackward) {
  Tensor x = ops::from_vector<double>({2, 3}, {2}).requires_grad_();
  Tensor y = sum(x * x + x);  // dy/dx = 2x + 1, with x used three times
  backward(y);
  EXPECT_EQ(ops::to_vector<double>(x.grad()), (std::vector<double>{5, 7}));
  backward(sum(x * 3.0));  // a second graph adds into the same grad
  EXPECT_EQ(ops::to_vector<double>(x.grad()), (std::vector<double>{8, 10}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, GraphIsFreedUnlessRetained) {
  Tensor x = ops::from_vector<double>({1, 2}, {2}).requires_grad_();
  Tensor y = sum(exp(x));
  backward(y, Tensor(), /*retain_graph=*/true);
  backward(y);
  EXPECT_NEAR(ops::to_vector<double>(x.grad())[0], 2 * std::exp(1.0), 1e-12);
  expect_error([&] { backward(y); }, {"backward", "already freed", "retain_graph"});
}

TEST(Autograd, NoGradRecordsNothingAndInferencePaysNothing) {
  Tensor w = param({3, 3}, 1);
  Tensor x = random_tensor({2, 3}, DType::F64, 2);
  {
    NoGradGuard ng;
    Tensor y = matmul(x, w);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.autograd_meta(), nullptr);
  }
  Tensor plain = matmul(x, x, false, true);  // no input requires grad
  EXPECT_EQ(plain.autograd_meta(), nullptr);
  Tensor y = matmul(x, w);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_FALSE(y.detach().requires_grad());
}

TEST(Autograd, Errors) {
  Tensor x = ops::ones({2});
  expect_error([&] { backward(sum(x)); }, {"backward", "does not require grad"});
  Tensor p = ops::ones({2}, DType::F64).requires_grad_();
  expect_error([&] { backward(p * 2.0); }, {"backward", "2 elements", "gradient explicitly"});
  expect_error([&] { ops::ones({2}, DType::I64).requires_grad_(); }, {"requires_grad_", "i64"});
  Tensor y = p * 2.0;
  expect_error([&] { y.requires_grad_(); }, {"requires_grad_", "leaf"});
  backward(y, ops::from_vector<double>({1, 10}, {2}));  // explicit seed for a non-scalar root
  EXPECT_EQ(ops::to_vector<double>(p.grad()), (std::vector<double>{2, 20}));
}

TEST(Autograd, GradcheckDetectsAWrongRule) {
  // A deliberately wrong backward (2x instead of 3x²) must fail the check.
  auto bad_cube = [](Xs x) {
    Tensor y = ops::mul(ops::mul(x[0], x[0]), x[0]);
    return record("bad_cube", y, {&x[0]}, [a = x[0].detach()](const Tensor& g) -> Grads {
      return {ops::mul(g, ops::mul(a, 2.0))};
    });
  };
  GradcheckResult r = gradcheck(bad_cube, {param({3}, 9)});
  EXPECT_FALSE(r.ok);
}

// ---------------------------------------------------------------- gradcheck of every primitive
// f64, eps 1e-6, tolerance 1e-7 absolute + 1e-5 relative (central differences are accurate to
// about eps² times the third derivative, ~1e-10 here).

TEST(Gradcheck, BinaryBroadcasting) {
  expect_gradcheck([](Xs x) { return add(x[0], x[1]); }, {param({2, 3}, 1), param({3}, 2)});
  expect_gradcheck([](Xs x) { return sub(x[0], x[1]); }, {param({2, 1}, 1), param({1, 3}, 2)});
  expect_gradcheck([](Xs x) { return mul(x[0], x[1]); }, {param({2, 3}, 1), param({2, 3}, 2)});
  expect_gradcheck([](Xs x) { return div(x[0], x[1]); }, {param({2, 3}, 1), param({3}, 2, 0.5, 2)});
  expect_gradcheck([](Xs x) { return pow(x[0], x[1]); }, {param({2, 3}, 1, 0.5, 2), param({2, 3}, 2)});
  expect_gradcheck([](Xs x) { return pow(x[0], 3.0); }, {param({4}, 1)});
  expect_gradcheck([](Xs x) { return maximum(x[0], x[1]); }, {param({2, 3}, 1), param({2, 3}, 2)});
  expect_gradcheck([](Xs x) { return minimum(x[0], x[1]); }, {param({2, 3}, 3), param({3}, 4)});
  Tensor cond = ops::from_vector<bool>({true, false, true}, {3});
  expect_gradcheck([cond](Xs x) { return where(cond, x[0], x[1]); }, {param({2, 3}, 1), param({3}, 2)});
}

TEST(Gradcheck, Unary) {
  expect_gradcheck([](Xs x) { return neg(x[0]); }, {param({5}, 1)});
  expect_gradcheck([](Xs x) { return exp(x[0]); }, {param({5}, 1)});
  expect_gradcheck([](Xs x) { return log(x[0]); }, {param({5}, 1, 0.5, 3)});
  expect_gradcheck([](Xs x) { return sqrt(x[0]); }, {param({5}, 1, 0.5, 3)});
  expect_gradcheck([](Xs x) { return rsqrt(x[0]); }, {param({5}, 1, 0.5, 3)});
  expect_gradcheck([](Xs x) { return tanh(x[0]); }, {param({5}, 1)});
  expect_gradcheck([](Xs x) { return erf(x[0]); }, {param({5}, 1)});
  expect_gradcheck([](Xs x) { return abs(x[0]); }, {param({5}, 1)});
  expect_gradcheck([](Xs x) { return relu(x[0]); }, {param({5}, 2)});
  expect_gradcheck([](Xs x) { return sigmoid(x[0]); }, {param({5}, 1)});
}

TEST(Gradcheck, Reductions) {
  for (int d : {0, 1, 2})
    for (bool keep : {false, true}) {
      expect_gradcheck([=](Xs x) { return sum(x[0], d, keep); }, {param({2, 3, 4}, 1)});
      expect_gradcheck([=](Xs x) { return mean(x[0], d, keep); }, {param({2, 3, 4}, 1)});
      expect_gradcheck([=](Xs x) { return max(x[0], d, keep); }, {param({2, 3, 4}, 1)});
    }
  expect_gradcheck([](Xs x) { return sum(x[0]); }, {param({2, 3}, 1)});
  expect_gradcheck([](Xs x) { return mean(x[0]); }, {param({2, 3}, 1)});
}

TEST(Gradcheck, Movement) {
  expect_gradcheck([](Xs x) { return reshape(x[0], {3, -1}); }, {param({2, 3, 2}, 1)});
  expect_gradcheck([](Xs x) { return permute(x[0], {2, 0, 1}); }, {param({2, 3, 4}, 1)});
  expect_gradcheck([](Xs x) { return transpose(x[0], 0, 1); }, {param({2, 3}, 1)});
  expect_gradcheck([](Xs x) { return slice(x[0], 1, 1, 5, 2); }, {param({2, 6}, 1)});
  expect_gradcheck([](Xs x) { return select(x[0], 0, -1); }, {param({3, 2}, 1)});
  expect_gradcheck([](Xs x) { return expand(x[0], {4, 2, 3}); }, {param({2, 1}, 1)});
  expect_gradcheck([](Xs x) { return squeeze(x[0], 1); }, {param({2, 1, 3}, 1)});
  expect_gradcheck([](Xs x) { return unsqueeze(x[0], 0); }, {param({2, 3}, 1)});
  expect_gradcheck([](Xs x) { return contiguous(transpose(x[0], 0, 1)); }, {param({2, 3}, 1)});
  expect_gradcheck([](Xs x) { return cat({x[0], x[1]}, 1); }, {param({2, 3}, 1), param({2, 2}, 2)});
  expect_gradcheck([](Xs x) { return stack({x[0], x[1]}, 0); }, {param({2, 3}, 1), param({2, 3}, 2)});
  Tensor idx = ops::from_vector<int64_t>({2, 0, 2}, {3});
  expect_gradcheck([idx](Xs x) { return index_select(x[0], 0, idx); }, {param({3, 2}, 1)});
  Tensor gi = ops::from_vector<int64_t>({1, 0, 1, 1}, {2, 2});
  expect_gradcheck([gi](Xs x) { return gather(x[0], 1, gi); }, {param({2, 3}, 1)});
}

TEST(Gradcheck, MatmulAllTransposesAndBroadcasting) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Shape sa = ta ? Shape{4, 3} : Shape{3, 4}, sb = tb ? Shape{2, 4} : Shape{4, 2};
      expect_gradcheck([=](Xs x) { return matmul(x[0], x[1], ta, tb); }, {param(sa, 1), param(sb, 2)});
    }
  expect_gradcheck([](Xs x) { return matmul(x[0], x[1]); }, {param({2, 2, 3, 4}, 1), param({4, 2}, 2)});
  expect_gradcheck([](Xs x) { return matmul(x[0], x[1], false, true); }, {param({2, 3, 4}, 1), param({2, 4}, 2)});
  expect_gradcheck([](Xs x) { return matmul(x[0], x[1]); }, {param({2, 1, 3, 4}, 1), param({3, 4, 2}, 2)});
  expect_gradcheck([](Xs x) { return matmul(x[0], x[1], true, true); }, {param({2, 4, 3}, 1), param({2, 2, 4}, 2)});
}

// The expression docs/autograd.md follows, with the numbers it quotes.
TEST(Autograd, WalkthroughExample) {
  Tensor x = ops::from_vector<double>({1, 2}, {2});
  Tensor w = ops::scalar(0.5, DType::F64).requires_grad_();
  Tensor b = ops::scalar(0.1, DType::F64).requires_grad_();
  Tensor loss = sum(tanh(x * w + b));
  EXPECT_NEAR(loss.item(), 1.337548588758665, 1e-12);
  backward(loss);
  EXPECT_NEAR(w.grad().item(), 1.4299803949077725, 1e-12);
  EXPECT_NEAR(b.grad().item(), 1.0707790787474978, 1e-12);
  EXPECT_FALSE(x.grad().defined());
}

TEST(Gradcheck, DropoutWithAFixedMask) {
  // A fresh generator per call gives the same mask at every evaluation.
  expect_gradcheck(
      [](Xs x) {
        Generator g(5);
        return dropout(x[0], 0.3, true, g);
      },
      {param({4, 5}, 1)});
}

TEST(Autograd, LongChainsFreeWithoutRecursion) {
  // A running total that is never detached: 300k nodes, freed when `total` dies.
  Tensor x = ops::ones({1}, DType::F64).requires_grad_();
  {
    Tensor total = ops::zeros({1}, DType::F64);
    for (int i = 0; i < 300000; ++i) total = add(total, x);
    EXPECT_EQ(total.item(), 300000);
  }
  SUCCEED();
}

TEST(Autograd, SelectChecksItsIndexAndPowAtZero) {
  Tensor t = ops::from_vector<double>({10, 11, 12}, {3}).requires_grad_();
  expect_error([&] { select(t, 0, -5); }, {"select", "index -5"});
  expect_error([&] { select(t, 0, 3); }, {"select", "index 3"});
  Tensor s = select(t, 0, -1);
  backward(s);
  EXPECT_EQ(ops::to_vector<double>(t.grad()), (std::vector<double>{0, 0, 1}));
  // d(a^0)/da = 0 at a = 0 (not 0 · 0^-1 = NaN), as PyTorch
  Tensor a = ops::zeros({2}, DType::F64).requires_grad_();
  backward(sum(pow(a, 0.0)));
  EXPECT_EQ(ops::to_vector<double>(a.grad()), (std::vector<double>{0, 0}));
}
