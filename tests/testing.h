// Helpers shared by the tests: random inputs, double-precision references, error assertions.
#pragma once
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"

namespace hipt::testing {

// Uniform values in [lo, hi) from a fixed-seed std::mt19937 (independent of the engine's RNG).
inline Tensor random_tensor(const Shape& shape, DType dtype = DType::F32, uint32_t seed = 1, double lo = -1,
                            double hi = 1) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (double& x : v) x = dist(gen);
  return ops::cast(ops::from_vector(v, shape), dtype);
}

// Every element of `got` within atol + rtol·|want| of `want` (any layout, any float dtype).
inline void expect_close(const Tensor& got, const std::vector<double>& want, double atol, double rtol,
                         const std::string& what = "") {
  std::vector<double> g = ops::to_vector<double>(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    bool ok = std::abs(g[i] - want[i]) <= atol + rtol * std::abs(want[i]) || (std::isnan(g[i]) && std::isnan(want[i]));
    if (!ok && reported++ < 5) ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", want " << want[i];
  }
}

inline void expect_close(const Tensor& got, const Tensor& want, double atol, double rtol, const std::string& what = "") {
  ASSERT_EQ(got.shape(), want.shape()) << what << ": " << got.shape().str() << " vs " << want.shape().str();
  expect_close(got, ops::to_vector<double>(want), atol, rtol, what);
}

// The call throws hipt::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected hipt::Error containing \"" << parts[0] << "\"";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_THAT(e.what(), ::testing::HasSubstr(p));
  }
}

inline void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                             double atol = 1e-7, double rtol = 1e-5) {
  for (Tensor& t : inputs)
    if (t.dtype() == DType::F64 && t.is_leaf() && !t.requires_grad()) t.requires_grad_();
  GradcheckResult r = gradcheck(f, inputs, 1e-6, atol, rtol);
  EXPECT_TRUE(r.ok) << r.report;
}

// Index helpers for references: flat row-major offset of a multi-index.
inline int64_t flat(const Shape& s, const std::vector<int64_t>& idx) {
  int64_t o = 0;
  for (int d = 0; d < s.size(); ++d) o = o * s[d] + idx[d];
  return o;
}

// Calls f(multi-index) for each element of `s` in row-major order.
inline void for_each_index(const Shape& s, const std::function<void(const std::vector<int64_t>&)>& f) {
  std::vector<int64_t> idx(static_cast<size_t>(s.size()), 0);
  for (int64_t n = 0; n < s.numel(); ++n) {
    f(idx);
    for (int d = s.size() - 1; d >= 0; --d) {
      if (++idx[d] < s[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace hipt::testing
