// Reductions, views, joining and indexing vs plain references.
#include "tensor/parallel.h"
#include "testing.h"

using namespace hipt;
using namespace hipt::testing;

// Sums accumulate in double: f32 results within one f32 rounding of the exact sum (rtol 1e-6).
TEST(Reduce, SumMeanMaxArgmaxOverEveryDim) {
  Shape s{3, 4, 5};
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = random_tensor(s, dt, 7);
    std::vector<double> v = ops::to_vector<double>(x);
    for (int d = 0; d < 3; ++d) {
      for (bool keep : {false, true}) {
        Shape rs = s;
        rs[d] = 1;
        std::vector<double> sum(rs.numel(), 0), mx(rs.numel(), -1e300), arg(rs.numel(), 0);
        for_each_index(s, [&](const std::vector<int64_t>& idx) {
          std::vector<int64_t> r = idx;
          r[d] = 0;
          int64_t o = flat(rs, r);
          double val = v[flat(s, idx)];
          sum[o] += val;
          if (val > mx[o]) {
            mx[o] = val;
            arg[o] = static_cast<double>(idx[d]);
          }
        });
        std::vector<double> mean = sum;
        for (double& m : mean) m /= s[d];
        double rtol = dt == DType::F32 ? 1e-6 : 1e-14;
        Tensor got = ops::sum(x, d, keep);
        EXPECT_EQ(got.dim(), keep ? 3 : 2);
        expect_close(got, sum, 1e-7, rtol, "sum");
        expect_close(ops::mean(x, d, keep), mean, 1e-7, rtol, "mean");
        expect_close(ops::max(x, d, keep), mx, 0, 0, "max");
        expect_close(ops::argmax(x, d, keep), arg, 0, 0, "argmax");
        // the same on a non-contiguous view
        Tensor xt = ops::contiguous(ops::transpose(x, 0, 2));
        expect_close(ops::sum(ops::transpose(xt, 0, 2), d, keep), sum, 1e-7, rtol, "sum strided");
      }
    }
    double total = 0;
    for (double e : v) total += e;
    EXPECT_NEAR(ops::sum(x).item(), total, 1e-5);
    EXPECT_NEAR(ops::mean(x).item(), total / 60, 1e-6);
  }
}

TEST(Reduce, ArgmaxFirstOfTiesAndSumTo) {
  Tensor x = ops::from_vector<float>({1, 3, 3, 2}, {4});
  EXPECT_EQ(ops::argmax(x, 0).item(), 1);
  Tensor g = ops::ones({2, 3, 4});
  EXPECT_EQ(ops::to_vector<float>(ops::sum_to(g, {3, 1})), (std::vector<float>{8, 8, 8}));
  EXPECT_EQ(ops::to_vector<float>(ops::sum_to(g, {4})), (std::vector<float>(4, 6)));
  EXPECT_EQ(ops::sum_to(g, {}).item(), 24);
  expect_error([&] { ops::sum_to(g, {5}); }, {"sum_to", "[2, 3, 4]", "[5]"});
  expect_error([&] { ops::sum(g, 3); }, {"sum", "dim 3 out of range"});
}

TEST(Views, ShareStorageAndIndexCorrectly) {
  Tensor x = ops::arange(0, 24, 1, DType::F32);
  Tensor r = ops::reshape(x, {2, 3, -1});
  EXPECT_EQ(r.shape(), Shape({2, 3, 4}));
  EXPECT_EQ(r.storage(), x.storage());
  Tensor p = ops::permute(r, {2, 0, 1});  // [4, 2, 3]
  EXPECT_FALSE(p.is_contiguous());
  std::vector<float> pv = ops::to_vector<float>(p), want;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) want.push_back(static_cast<float>(i * 12 + j * 4 + k));
  EXPECT_EQ(pv, want);
  // reshape of a non-contiguous view copies, in the view's logical order
  EXPECT_EQ(ops::to_vector<float>(ops::reshape(p, {24})), want);

  Tensor s = ops::slice(r, 2, 1, 4, 2);  // [2, 3, 2]: columns 1 and 3
  EXPECT_EQ(ops::to_vector<float>(s), (std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}));
  EXPECT_EQ(ops::to_vector<float>(ops::slice(x, 0, -3, 100)), (std::vector<float>{21, 22, 23}));
  EXPECT_EQ(ops::to_vector<float>(ops::select(r, 1, -1)), (std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23}));
  Tensor e = ops::expand(ops::from_vector<float>({1, 2}, {2, 1}), {3, 2, 2});
  EXPECT_EQ(ops::to_vector<float>(e), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2}));
  EXPECT_EQ(ops::unsqueeze(r, 1).shape(), Shape({2, 1, 3, 4}));
  EXPECT_EQ(ops::unsqueeze(r, -1).shape(), Shape({2, 3, 4, 1}));
  EXPECT_EQ(ops::squeeze(ops::unsqueeze(r, 3), 3).shape(), r.shape());
  Tensor t = ops::transpose(r, 0, 2);
  EXPECT_EQ(t.shape(), Shape({4, 3, 2}));
  EXPECT_EQ(ops::to_vector<float>(ops::contiguous(t))[1], 12.f);
}

TEST(Views, Errors) {
  Tensor x = ops::zeros({2, 3});
  expect_error([&] { ops::reshape(x, {4, 2}); }, {"reshape", "[2, 3]", "[4, 2]"});
  expect_error([&] { ops::permute(x, {0}); }, {"permute", "[2, 3]"});
  expect_error([&] { ops::permute(x, {0, 0}); }, {"permute", "repeated"});
  expect_error([&] { ops::expand(x, {2, 4}); }, {"expand", "[2, 3]", "[2, 4]"});
  expect_error([&] { ops::squeeze(x, 0); }, {"squeeze", "size 2"});
  expect_error([&] { ops::select(x, 1, 3); }, {"select", "index 3"});
}

TEST(Join, CatAndStack) {
  Tensor a = ops::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = ops::from_vector<float>({5, 6}, {2, 1});
  EXPECT_EQ(ops::to_vector<float>(ops::cat({a, b}, 1)), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(ops::to_vector<float>(ops::cat({a, ops::transpose(a, 0, 1)}, 0)),
            (std::vector<float>{1, 2, 3, 4, 1, 3, 2, 4}));
  Tensor s = ops::stack({a, a}, 1);
  EXPECT_EQ(s.shape(), Shape({2, 2, 2}));
  EXPECT_EQ(ops::to_vector<float>(s), (std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4}));
  expect_error([&] { ops::cat({a, b}, 0); }, {"cat", "[2, 2]", "[2, 1]"});
  expect_error([&] { ops::stack({a, b}, 0); }, {"stack", "[2, 2]", "[2, 1]"});
  expect_error([&] { ops::cat({a, ops::zeros({2, 2}, DType::F64)}, 0); }, {"cat", "dtype mismatch"});
}

TEST(Index, SelectGatherAndTheirAdjoints) {
  Tensor x = ops::reshape(ops::arange(0, 12, 1, DType::F32), {3, 4});
  Tensor idx = ops::from_vector<int64_t>({2, 0, -1}, {3});
  EXPECT_EQ(ops::to_vector<float>(ops::index_select(x, 0, idx)),
            (std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  EXPECT_EQ(ops::to_vector<float>(ops::index_select(x, 1, ops::from_vector<int32_t>({3, 3}, {2}))),
            (std::vector<float>{3, 3, 7, 7, 11, 11}));
  // index_select works on any dtype (u8 images)
  Tensor u = ops::cast(x, DType::U8);
  EXPECT_EQ(ops::to_vector<uint8_t>(ops::index_select(u, 0, ops::from_vector<int64_t>({1}, {1}))),
            (std::vector<uint8_t>{4, 5, 6, 7}));

  Tensor src = ops::ones({3, 4});
  EXPECT_EQ(ops::to_vector<float>(ops::index_add({3, 4}, 0, idx, src)),
            (std::vector<float>{1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2}));

  Tensor gi = ops::from_vector<int64_t>({3, 0, 1, 1, 2, 2}, {3, 2});
  EXPECT_EQ(ops::to_vector<float>(ops::gather(x, 1, gi)), (std::vector<float>{3, 0, 5, 5, 10, 10}));
  EXPECT_EQ(ops::to_vector<float>(ops::scatter_add({3, 4}, 1, gi, ops::ones({3, 2}))),
            (std::vector<float>{1, 0, 0, 1, 0, 2, 0, 0, 0, 0, 2, 0}));

  expect_error([&] { ops::index_select(x, 0, ops::from_vector<int64_t>({3}, {1})); },
               {"index_select", "index 3 out of range", "size 3"});
  expect_error([&] { ops::index_select(x, 0, ops::zeros({1})); }, {"index_select", "i64 or i32"});
  expect_error([&] { ops::gather(x, 1, ops::zeros({2, 2}, DType::I64)); }, {"gather", "[2, 2]", "[3, 4]"});
}

TEST(Creation, FullArangeCastAndVectors) {
  EXPECT_EQ(ops::to_vector<int64_t>(ops::arange(2, 11, 3)), (std::vector<int64_t>{2, 5, 8}));
  EXPECT_EQ(ops::to_vector<int64_t>(ops::arange(5, 0, -2)), (std::vector<int64_t>{5, 3, 1}));
  EXPECT_EQ(ops::arange(3, 3).numel(), 0);
  EXPECT_EQ(ops::to_vector<double>(ops::full({2}, 2.5, DType::F64)), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(ops::to_vector<int32_t>(ops::cast(ops::from_vector<float>({-1.7f, 2.9f}, {2}), DType::I32)),
            (std::vector<int32_t>{-1, 2}));  // truncation toward zero, as C++ and PyTorch
  EXPECT_EQ(ops::to_vector<uint8_t>(ops::cast(ops::from_vector<double>({0.0, 1e-300, -2.0}, {3}), DType::Bool)),
            (std::vector<uint8_t>{0, 1, 1}));
  EXPECT_EQ(ops::scalar(3).dim(), 0);
  EXPECT_EQ(ops::scalar(3).item(), 3);
  expect_error([&] { ops::from_vector<float>({1, 2, 3}, {2, 2}); }, {"from_vector", "3 values", "[2, 2]"});
  expect_error([&] { ops::zeros({2}).item(); }, {"item", "2 elements"});
  expect_error([&] { ops::empty({-1, 2}); }, {"empty", "negative"});
}

TEST(EdgeCases, EmptyAndZeroDimTensors) {
  // K = 0: an empty sum, zeros of [M, N]
  EXPECT_EQ(ops::to_vector<float>(ops::matmul(ops::zeros({2, 0}), ops::zeros({0, 3}))), std::vector<float>(6, 0.f));
  // broadcasting with an empty dim gives an empty result, touching nothing
  EXPECT_EQ(ops::add(ops::zeros({0, 1}), ops::zeros({1, 3})).shape(), Shape({0, 3}));
  // a 0-dim tensor has no axis 0
  expect_error([] { ops::cat({ops::scalar(1), ops::scalar(2)}, 0); }, {"cat", "dim 0 out of range", "0 dims"});
  expect_error([] { ops::sum(ops::scalar(1), 0); }, {"sum", "dim 0 out of range"});
  expect_error([] { ops::scalar(1).size(0); }, {"size", "out of range"});
  expect_error([] { ops::empty({int64_t(1) << 40, int64_t(1) << 40}); }, {"overflows"});
}

TEST(EdgeCases, IndexAddChecksEveryDimAndWritesNeedDistinctElements) {
  Tensor idx = ops::from_vector<int64_t>({0, 1}, {2});
  expect_error([&] { ops::index_add({3, 40}, 0, idx, ops::ones({2, 2})); }, {"index_add", "[2, 2]", "[3, 40]"});
  Tensor e = ops::expand(ops::zeros({1, 3}), {4, 3});
  expect_error([&] { ops::fill_(e, 1); }, {"fill_", "expanded view"});
  expect_error([&] { ops::add_(e, ops::ones({4, 3})); }, {"add_", "expanded view"});
  expect_error([&] { ops::copy_(e, ops::ones({4, 3})); }, {"copy_", "expanded view"});
}

TEST(EdgeCases, LongContiguousRowsUseTheSameResultOnAnyThreadCount) {
  Tensor x = random_tensor({1 << 18}, DType::F32, 9, -3, 3);
  set_num_threads(1);
  std::vector<float> one = ops::to_vector<float>(ops::exp(x));
  set_num_threads(2);
  std::vector<float> two = ops::to_vector<float>(ops::exp(x));
  EXPECT_EQ(one, two);
}
