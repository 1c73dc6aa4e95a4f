// Reductions, views, joining, indexing and matmul, each with its backward rule.
#include <numeric>

#include "autograd/functions.h"

namespace hipt {

// ---------------------------------------------------------------- reductions

Tensor sum(const Tensor& t, int dim, bool keepdim) {
  Tensor out = ops::sum(t, dim, keepdim);
  if (!needs_graph(t)) return out;
  int d = wrap_dim("sum", dim, t.dim());
  return record("sum", out, {&t}, [=, shape = t.shape()](const Tensor& g) -> Grads {
    return {ops::expand(keepdim ? g : ops::unsqueeze(g, d), shape)};
  });
}

Tensor sum(const Tensor& t) {
  Tensor out = ops::sum(t);
  if (!needs_graph(t)) return out;
  return record("sum", out, {&t}, [shape = t.shape()](const Tensor& g) -> Grads { return {ops::expand(g, shape)}; });
}

Tensor mean(const Tensor& t, int dim, bool keepdim) {
  int d = wrap_dim("mean", dim, t.dim());
  return mul(sum(t, d, keepdim), 1.0 / static_cast<double>(t.shape()[d]));
}

Tensor mean(const Tensor& t) { return mul(sum(t), 1.0 / static_cast<double>(t.numel())); }

Tensor max(const Tensor& t, int dim, bool keepdim) {
  auto [out, arg] = ops::max_with_index(t, dim, keepdim);
  if (!needs_graph(t)) return out;
  int d = wrap_dim("max", dim, t.dim());
  if (!keepdim) arg = ops::unsqueeze(arg, d);
  return record("max", out, {&t}, [=, arg = arg, shape = t.shape()](const Tensor& g) -> Grads {
    return {ops::scatter_add(shape, d, arg, ops::contiguous(keepdim ? g : ops::unsqueeze(g, d)))};
  });
}

// ---------------------------------------------------------------- views

Tensor reshape(const Tensor& t, const Shape& shape) {
  Tensor out = ops::reshape(t, shape);
  if (!needs_graph(t)) return out;
  return record("reshape", out, {&t}, [s = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, s)}; });
}

Tensor permute(const Tensor& t, const std::vector<int>& order) {
  Tensor out = ops::permute(t, order);
  if (!needs_graph(t)) return out;
  std::vector<int> inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i) inverse[wrap_dim("permute", order[i], t.dim())] = static_cast<int>(i);
  return record("permute", out, {&t}, [inverse](const Tensor& g) -> Grads { return {ops::permute(g, inverse)}; });
}

Tensor transpose(const Tensor& t, int d0, int d1) {
  Tensor out = ops::transpose(t, d0, d1);
  if (!needs_graph(t)) return out;
  return record("transpose", out, {&t}, [=](const Tensor& g) -> Grads { return {ops::transpose(g, d0, d1)}; });
}

Tensor slice(const Tensor& t, int dim, int64_t start, int64_t end, int64_t step) {
  Tensor out = ops::slice(t, dim, start, end, step);
  if (!needs_graph(t)) return out;
  return record("slice", out, {&t}, [=, s = t.shape()](const Tensor& g) -> Grads {
    Tensor gx = ops::zeros(s, g.dtype(), g.device());
    ops::copy_(ops::slice(gx, dim, start, end, step), g);
    return {gx};
  });
}

Tensor select(const Tensor& t, int dim, int64_t index) {
  Tensor out = ops::select(t, dim, index);  // checks the index
  if (!needs_graph(t)) return out;
  int d = wrap_dim("select", dim, t.dim());
  int64_t i = index < 0 ? index + t.shape()[d] : index;
  return record("select", out, {&t}, [=, s = t.shape()](const Tensor& g) -> Grads {
    Tensor gx = ops::zeros(s, g.dtype(), g.device());
    ops::copy_(ops::select(gx, d, i), g);
    return {gx};
  });
}

Tensor expand(const Tensor& t, const Shape& shape) {
  Tensor out = ops::expand(t, shape);
  if (!needs_graph(t)) return out;
  return record("expand", out, {&t}, [s = t.shape()](const Tensor& g) -> Grads { return {ops::sum_to(g, s)}; });
}

Tensor squeeze(const Tensor& t, int dim) {
  Tensor out = ops::squeeze(t, dim);
  if (!needs_graph(t)) return out;
  return record("squeeze", out, {&t}, [s = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, s)}; });
}

Tensor unsqueeze(const Tensor& t, int dim) {
  Tensor out = ops::unsqueeze(t, dim);
  if (!needs_graph(t)) return out;
  return record("unsqueeze", out, {&t}, [s = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, s)}; });
}

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = ops::contiguous(t);
  if (!needs_graph(t)) return out;
  return record("contiguous", out, {&t}, [](const Tensor& g) -> Grads { return {g}; });
}

// ---------------------------------------------------------------- joining and indexing

Tensor cat(const std::vector<Tensor>& ts, int dim) {
  Tensor out = ops::cat(ts, dim);
  std::vector<const Tensor*> inputs;
  for (const Tensor& t : ts) inputs.push_back(&t);
  if (!needs_graph(inputs)) return out;
  int d = wrap_dim("cat", dim, ts[0].dim());
  std::vector<int64_t> sizes;
  for (const Tensor& t : ts) sizes.push_back(t.shape()[d]);
  return record("cat", out, inputs, [=](const Tensor& g) -> Grads {
    Grads grads;
    int64_t at = 0;
    for (int64_t n : sizes) {
      grads.push_back(ops::slice(g, d, at, at + n));
      at += n;
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& ts, int dim) {
  HIPT_CHECK(!ts.empty(), "stack: no tensors given");
  int d = wrap_dim("stack", dim, ts[0].dim() + 1);
  std::vector<Tensor> parts;
  for (const Tensor& t : ts) {
    HIPT_CHECK(t.shape() == ts[0].shape(), "stack: shapes {} and {} differ", ts[0].shape().str(), t.shape().str());
    parts.push_back(unsqueeze(t, d));
  }
  return cat(parts, d);
}

Tensor index_select(const Tensor& t, int dim, const Tensor& index) {
  Tensor out = ops::index_select(t, dim, index);
  if (!needs_graph(t)) return out;
  return record("index_select", out, {&t}, [=, s = t.shape(), idx = index.detach()](const Tensor& g) -> Grads {
    return {ops::index_add(s, dim, idx, g)};
  });
}

Tensor gather(const Tensor& t, int dim, const Tensor& index) {
  Tensor out = ops::gather(t, dim, index);
  if (!needs_graph(t)) return out;
  return record("gather", out, {&t}, [=, s = t.shape(), idx = index.detach()](const Tensor& g) -> Grads {
    return {ops::scatter_add(s, dim, idx, g)};
  });
}

// ---------------------------------------------------------------- matmul
//
// With op(X) = X or Xᵀ and C = op(A)·op(B):
//   d op(A) = G·op(B)ᵀ,  d op(B) = op(A)ᵀ·G,
// and transposing back gives the gradient of a stored transpose. Batch dims that were broadcast
// are summed out.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  Tensor out = ops::matmul(a, b, trans_a, trans_b);
  if (!needs_graph(a, b)) return out;
  bool ga = a.requires_grad(), gb = b.requires_grad();
  return record("matmul", out, {&a, &b},
                [=, a = a.detach(), b = b.detach()](const Tensor& g) -> Grads {
                  Tensor da, db;
                  if (ga) {
                    da = trans_a ? ops::matmul(b, g, trans_b, true) : ops::matmul(g, b, false, !trans_b);
                    da = ops::sum_to(da, a.shape());
                  }
                  if (gb) {
                    if (b.dim() == 2 && a.dim() > 2 && !trans_a) {
                      // x [..., M, K] · W: fold the batch into one GEMM instead of summing per-batch products.
                      Tensor a2 = ops::reshape(a, {-1, a.shape()[a.dim() - 1]});
                      Tensor g2 = ops::reshape(g, {-1, g.shape()[g.dim() - 1]});
                      db = trans_b ? ops::matmul(g2, a2, true, false) : ops::matmul(a2, g2, true, false);
                    } else {
                      db = trans_b ? ops::matmul(g, a, true, trans_a) : ops::matmul(a, g, !trans_a, false);
                      db = ops::sum_to(db, b.shape());
                    }
                  }
                  return {da, db};
                });
}

}  // namespace hipt
