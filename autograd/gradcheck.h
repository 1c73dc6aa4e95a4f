// Finite-difference gradient check, in double.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"

namespace hipt {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;  // over all checked elements
  std::string report;        // the first mismatches, for the test log
};

// Checks the backward rules behind `f` at `inputs` (f64 tensors; those with requires_grad are
// checked). With a fixed random projection r, L(x) = sum(f(x) * r); every element of dL/dx from
// backward() must match the central difference (L(x + eps) - L(x - eps)) / 2 eps within
// atol + rtol * |numeric|.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          double eps = 1e-6, double atol = 1e-7, double rtol = 1e-5);

}  // namespace hipt
