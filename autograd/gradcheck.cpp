#include "autograd/gradcheck.h"

#include <cmath>

#include "autograd/functions.h"

namespace hipt {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          double eps, double atol, double rtol) {
  for (const Tensor& t : inputs)
    HIPT_CHECK(t.dtype() == DType::F64 || !t.requires_grad(), "gradcheck: inputs must be f64, got {}", t.str());

  // A fixed pseudo-random projection (no RNG dependence): r_i in [-1, 1), never all equal.
  Tensor out0;
  {
    NoGradGuard ng;
    out0 = f(inputs);
  }
  std::vector<double> r(static_cast<size_t>(out0.numel()));
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (double& v : r) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<double>(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  }
  Tensor proj = ops::from_vector(r, out0.shape());
  auto loss = [&](const std::vector<Tensor>& xs) { return sum(mul(f(xs), proj)); };

  for (Tensor& t : inputs) t.zero_grad();
  backward(loss(inputs));

  GradcheckResult res;
  NoGradGuard ng;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    HIPT_CHECK(x.is_contiguous(), "gradcheck: input {} must be contiguous", k);
    std::vector<double> analytic = x.grad().defined() ? ops::to_vector<double>(x.grad())
                                                      : std::vector<double>(static_cast<size_t>(x.numel()), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double keep = p[i];
      struct Restore {  // even when f throws, the caller gets its input back unchanged
        double* at;
        double value;
        ~Restore() { *at = value; }
      } restore{p + i, keep};
      p[i] = keep + eps;
      double up = loss(inputs).item();
      p[i] = keep - eps;
      double down = loss(inputs).item();
      p[i] = keep;
      double numeric = (up - down) / (2 * eps);
      double err = std::abs(numeric - analytic[i]);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (err > atol + rtol * std::abs(numeric)) {
        if (res.ok || res.report.size() < 600)
          res.report += fmt::format("input {} element {}: backward {:.10g}, finite difference {:.10g}\n", k, i,
                                    analytic[i], numeric);
        res.ok = false;
      }
    }
  }
  return res;
}

}  // namespace hipt
