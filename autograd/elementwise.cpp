// Elementwise ops: forward through tensor/ops.h, backward next to each. Broadcast inputs get
// their gradient summed back to their own shape (ops::sum_to).
#include <cmath>

#include "autograd/functions.h"

namespace hipt {
namespace {

Tensor zero_like_where(const Tensor& cond, const Tensor& g, bool keep_when_true) {
  Tensor z = ops::zeros({}, g.dtype(), g.device());
  return keep_when_true ? ops::where(cond, g, z) : ops::where(cond, z, g);
}

// What a backward rule reads besides the incoming gradient. The node keeps only these alive:
// add keeps nothing, exp keeps its output, mul its inputs.
enum Saves { kNothing = 0, kInputs = 1, kOutput = 2 };

Tensor saved(const Tensor& t, bool keep) { return keep ? t.detach() : Tensor(); }

// The common shape of every binary op's backward: the rule gives the full-size gradient of each
// input that needs one, then it is reduced to that input's shape.
template <class RuleA, class RuleB>
Tensor binary_op(const char* name, ops::Binary op, const Tensor& a, const Tensor& b, int saves, RuleA rule_a,
                 RuleB rule_b) {
  Tensor out = ops::binary(op, a, b);
  if (!needs_graph(a, b)) return out;
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Shape sa = a.shape(), sb = b.shape();
  return record(name, out, {&a, &b},
                [=, a = saved(a, saves & kInputs), b = saved(b, saves & kInputs),
                 y = saved(out, saves & kOutput)](const Tensor& g) -> Grads {
                  return {ga ? ops::sum_to(rule_a(g, a, b, y), sa) : Tensor(),
                          gb ? ops::sum_to(rule_b(g, a, b, y), sb) : Tensor()};
                });
}

using T3 = const Tensor&;

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op("add", ops::Binary::Add, a, b, kNothing, [](T3 g, T3, T3, T3) { return g; },
                   [](T3 g, T3, T3, T3) { return g; });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op("sub", ops::Binary::Sub, a, b, kNothing, [](T3 g, T3, T3, T3) { return g; },
                   [](T3 g, T3, T3, T3) { return ops::neg(g); });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op("mul", ops::Binary::Mul, a, b, kInputs, [](T3 g, T3, T3 b, T3) { return ops::mul(g, b); },
                   [](T3 g, T3 a, T3, T3) { return ops::mul(g, a); });
}

// d(a/b)/db = -a/b² = -y/b
Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op("div", ops::Binary::Div, a, b, kInputs | kOutput, [](T3 g, T3, T3 b, T3) { return ops::div(g, b); },
                   [](T3 g, T3, T3 b, T3 y) { return ops::neg(ops::div(ops::mul(g, y), b)); });
}

// d(a^b)/da = b·a^(b-1), d(a^b)/db = a^b·ln a
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary_op("pow", ops::Binary::Pow, a, b, kInputs | kOutput,
                   [](T3 g, T3 a, T3 b, T3) {  // b = 0 contributes 0, not 0·a^-1 = NaN at a = 0
                     Tensor d = ops::mul(g, ops::mul(b, ops::pow(a, ops::add(b, -1.0))));
                     return ops::where(ops::compare(ops::Compare::Eq, b, ops::zeros({}, b.dtype(), b.device())),
                                       ops::zeros({}, d.dtype(), d.device()), d);
                   },
                   [](T3 g, T3 a, T3, T3 y) { return ops::mul(g, ops::mul(y, ops::log(a))); });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary_op("maximum", ops::Binary::Max, a, b, kInputs,
                   [](T3 g, T3 a, T3 b, T3) { return zero_like_where(ops::compare(ops::Compare::Ge, a, b), g, true); },
                   [](T3 g, T3 a, T3 b, T3) { return zero_like_where(ops::compare(ops::Compare::Ge, a, b), g, false); });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary_op("minimum", ops::Binary::Min, a, b, kInputs,
                   [](T3 g, T3 a, T3 b, T3) { return zero_like_where(ops::compare(ops::Compare::Le, a, b), g, true); },
                   [](T3 g, T3 a, T3 b, T3) { return zero_like_where(ops::compare(ops::Compare::Le, a, b), g, false); });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor out = ops::where(cond, a, b);
  if (!needs_graph(a, b)) return out;
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Shape sa = a.shape(), sb = b.shape();
  return record("where", out, {&a, &b}, [=, c = cond.detach()](const Tensor& g) -> Grads {
    return {ga ? ops::sum_to(zero_like_where(c, g, true), sa) : Tensor(),
            gb ? ops::sum_to(zero_like_where(c, g, false), sb) : Tensor()};
  });
}

Tensor add(const Tensor& a, double s) { return add(a, ops::full({}, s, a.dtype(), a.device())); }
Tensor mul(const Tensor& a, double s) { return mul(a, ops::full({}, s, a.dtype(), a.device())); }
Tensor pow(const Tensor& a, double s) { return pow(a, ops::full({}, s, a.dtype(), a.device())); }

// ---------------------------------------------------------------- unary

namespace {
// rule(g, x, y) -> dL/dx, with y the forward's output; `saves` says which of x, y it reads.
template <class Rule> Tensor unary_op(ops::Unary op, const Tensor& x, int saves, Rule rule) {
  Tensor y = ops::unary(op, x);
  if (!needs_graph(x)) return y;
  return record(ops::op_name(op), y, {&x},
                [rule, x = saved(x, saves & kInputs), y = saved(y, saves & kOutput)](const Tensor& g) -> Grads {
                  return {rule(g, x, y)};
                });
}
}  // namespace

Tensor neg(const Tensor& x) { return unary_op(ops::Unary::Neg, x, kNothing, [](T3 g, T3, T3) { return ops::neg(g); }); }
Tensor exp(const Tensor& x) { return unary_op(ops::Unary::Exp, x, kOutput, [](T3 g, T3, T3 y) { return ops::mul(g, y); }); }
Tensor log(const Tensor& x) { return unary_op(ops::Unary::Log, x, kInputs, [](T3 g, T3 x, T3) { return ops::div(g, x); }); }

// d sqrt(x) = 1 / (2 sqrt(x))
Tensor sqrt(const Tensor& x) {
  return unary_op(ops::Unary::Sqrt, x, kOutput, [](T3 g, T3, T3 y) { return ops::mul(ops::div(g, y), 0.5); });
}

// d x^-1/2 = -1/2 x^-3/2 = -1/2 y³
Tensor rsqrt(const Tensor& x) {
  return unary_op(ops::Unary::Rsqrt, x, kOutput,
                  [](T3 g, T3, T3 y) { return ops::mul(ops::mul(g, ops::mul(y, ops::mul(y, y))), -0.5); });
}

// d tanh = 1 - y²
Tensor tanh(const Tensor& x) {
  return unary_op(ops::Unary::Tanh, x, kOutput,
                  [](T3 g, T3, T3 y) { return ops::mul(g, ops::add(ops::neg(ops::mul(y, y)), 1.0)); });
}

// d erf(x) = 2/√π · e^(-x²)
Tensor erf(const Tensor& x) {
  return unary_op(ops::Unary::Erf, x, kInputs, [](T3 g, T3 x, T3) {
    return ops::mul(ops::mul(g, ops::exp(ops::neg(ops::mul(x, x)))), 2.0 / std::sqrt(M_PI));
  });
}

// sign(x), with 0 at 0 as PyTorch
Tensor abs(const Tensor& x) {
  return unary_op(ops::Unary::Abs, x, kInputs, [](T3 g, T3 x, T3) {
    Tensor z = ops::zeros({}, x.dtype(), x.device());
    Tensor sign = ops::sub(ops::cast(ops::compare(ops::Compare::Gt, x, z), x.dtype()),
                           ops::cast(ops::compare(ops::Compare::Lt, x, z), x.dtype()));
    return ops::mul(g, sign);
  });
}

Tensor relu(const Tensor& x) {
  return unary_op(ops::Unary::Relu, x, kInputs, [](T3 g, T3 x, T3) {
    return zero_like_where(ops::compare(ops::Compare::Gt, x, ops::zeros({}, x.dtype(), x.device())), g, true);
  });
}

// d sigmoid = y (1 - y)
Tensor sigmoid(const Tensor& x) {
  return unary_op(ops::Unary::Sigmoid, x, kOutput,
                  [](T3 g, T3, T3 y) { return ops::mul(g, ops::mul(y, ops::add(ops::neg(y), 1.0))); });
}

}  // namespace hipt
