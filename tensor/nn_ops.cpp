// The fused nn ops of tensor/nn_ops.h: argument checks (messages name the op and both shapes),
// layouts the kernels need, output allocation, then the device's kernels (tensor/backend.h; the
// CPU ones are in tensor/cpu/nn_kernels.h).
#include "tensor/nn_ops.h"

#include <limits>
#include <vector>

#include "tensor/backend.h"
#include "tensor/checks.h"
#include "tensor/ops.h"

namespace hipt::ops {
namespace {

// Moves `dim` last (a permuted copy), so every kernel works on contiguous rows.
Tensor dim_last(const Tensor& x, int d) {
  if (d == x.dim() - 1) return contiguous(x);
  std::vector<int> order;
  for (int i = 0; i < x.dim(); ++i)
    if (i != d) order.push_back(i);
  order.push_back(d);
  return contiguous(permute(x, order));
}

// The inverse of dim_last: y has `dim` last; returns it in x's dim order, contiguous.
Tensor dim_back(const Tensor& y, int d) {
  if (d == y.dim() - 1) return y;
  std::vector<int> order(static_cast<size_t>(y.dim()));
  for (int i = 0, j = 0; i < y.dim(); ++i) order[i] = i == d ? y.dim() - 1 : j++;
  return contiguous(permute(y, order));
}

// `cuda_bf16`: the op's forward also takes bf16 on a CUDA device (tensor/checks.h).
void check_float(const char* op, const Tensor& t, bool cuda_bf16 = false) {
  check_defined(op, t);
  if (cuda_bf16)
    check_floating_or_cuda_bf16(op, t);
  else
    check_floating(op, t);
}

void check_same(const char* op, const char* what_a, const Tensor& a, const char* what_b, const Tensor& b) {
  check_float(op, b);
  HIPT_CHECK(a.dtype() == b.dtype() && a.device() == b.device(), "{}: {} {} and {} {} differ in dtype or device", op,
             what_a, a.str(), what_b, b.str());
  HIPT_CHECK(a.shape() == b.shape(), "{}: {} {} does not match {} {}", op, what_a, a.shape().str(), what_b,
             b.shape().str());
}

Tensor softmax_impl(const char* op, const Tensor& x, int dim, bool log) {
  auto k = kernel(op, x, &Backend::softmax);
  check_floating_or_cuda_bf16(op, x);
  if (x.dim() == 0) return softmax_impl(op, reshape(x, {1}), 0, log).as_strided({}, {}, 0);
  const int d = wrap_dim(op, dim, x.dim());
  Tensor xc = dim_last(x, d);
  Tensor y = empty(xc.shape(), x.dtype(), x.device());
  if (y.numel()) k(y, xc, log);
  return dim_back(y, d);
}

Tensor softmax_backward_impl(const char* op, const Tensor& y, const Tensor& g, int dim, bool log) {
  auto k = kernel(op, y, &Backend::softmax_backward);
  check_floating(op, y);
  check_same(op, "output", y, "gradient", g);
  if (y.dim() == 0) return zeros({}, y.dtype(), y.device());  // softmax of one element is constant
  const int d = wrap_dim(op, dim, y.dim());
  Tensor yc = dim_last(y, d), gc = dim_last(g, d);
  Tensor dx = empty(yc.shape(), y.dtype(), y.device());
  if (dx.numel()) k(dx, yc, gc, log);
  return dim_back(dx, d);
}

void check_target(const Tensor& logits, const Tensor& target) {
  check_float("cross_entropy", logits);
  check_defined("cross_entropy", target);
  check_same_device("cross_entropy", logits, target);
  HIPT_CHECK(logits.dim() == 2, "cross_entropy: logits must be [N, C], got {}", logits.shape().str());
  HIPT_CHECK(target.dtype() == DType::I64 || target.dtype() == DType::I32,
             "cross_entropy: target must be i64 or i32 class indices, got {}", target.str());
  HIPT_CHECK(target.dim() == 1 && target.shape()[0] == logits.shape()[0],
             "cross_entropy: target {} does not match logits {} (want [N] with N = {})", target.shape().str(),
             logits.shape().str(), logits.shape()[0]);
  const int64_t C = logits.shape()[1];
  std::vector<int64_t> t = to_vector<int64_t>(target);
  for (size_t i = 0; i < t.size(); ++i)
    HIPT_CHECK(t[i] >= 0 && t[i] < C, "cross_entropy: target {} at index {} is out of range [0, {}) for logits {}",
               t[i], i, C, logits.shape().str());
}

// q/k/v need unit stride on D and a row stride GEMM accepts; anything else is copied.
Tensor gemm_rows(const Tensor& t) {
  const int64_t D = t.shape()[3];
  const bool ok = (t.strides()[3] == 1 || D == 1) && t.strides()[2] >= D;
  return ok ? t : contiguous(t);
}

}  // namespace

// ---------------------------------------------------------------- softmax family

Tensor softmax(const Tensor& x, int dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int dim) { return softmax_impl("log_softmax", x, dim, true); }

Tensor softmax_backward(const Tensor& y, const Tensor& g, int dim) {
  return softmax_backward_impl("softmax_backward", y, g, dim, false);
}
Tensor log_softmax_backward(const Tensor& y, const Tensor& g, int dim) {
  return softmax_backward_impl("log_softmax_backward", y, g, dim, true);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  auto k = kernel("cross_entropy", logits, &Backend::cross_entropy);
  check_target(logits, target);
  HIPT_CHECK(logits.shape()[0] > 0 && logits.shape()[1] > 0, "cross_entropy: empty logits {}",
             logits.shape().str());
  Tensor loss = empty({}, logits.dtype(), logits.device());
  k(loss, contiguous(logits), contiguous(target));
  return loss;
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& g) {
  auto k = kernel("cross_entropy_backward", logits, &Backend::cross_entropy_backward);
  check_target(logits, target);
  HIPT_CHECK(g.numel() == 1, "cross_entropy_backward: gradient {} is not a scalar", g.shape().str());
  Tensor dx = empty(logits.shape(), logits.dtype(), logits.device());
  k(dx, contiguous(logits), contiguous(target), g.item());
  return dx;
}

// ---------------------------------------------------------------- layer_norm

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* mean, Tensor* rstd) {
  auto k = kernel("layer_norm", x, &Backend::layer_norm);
  check_floating_or_cuda_bf16("layer_norm", x);
  HIPT_CHECK(x.dim() >= 1, "layer_norm: x must have at least 1 dim, got {}", x.shape().str());
  const int64_t D = x.shape()[x.dim() - 1];
  for (const auto& [name, p] : {std::pair<const char*, const Tensor*>{"weight", &weight}, {"bias", &bias}}) {
    if (!p->defined()) continue;
    check_float("layer_norm", *p, true);
    HIPT_CHECK(p->dim() == 1 && p->shape()[0] == D, "layer_norm: {} {} does not match the last dim of x {}", name,
               p->shape().str(), x.shape().str());
    HIPT_CHECK(p->dtype() == x.dtype() && p->device() == x.device(), "layer_norm: {} {} and x {} differ in dtype "
               "or device", name, p->str(), x.str());
  }
  HIPT_CHECK(eps >= 0, "layer_norm: eps must be >= 0, got {}", eps);
  Tensor xc = contiguous(x);
  const int64_t rows = D ? x.numel() / D : 0;
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  // Statistics stay f32 for a bf16 x (CUDA): the backward rebuilds x̂ from them.
  const DType stat = x.dtype() == DType::BF16 ? DType::F32 : x.dtype();
  Tensor m = empty({rows}, stat, x.device()), r = empty({rows}, stat, x.device());
  if (y.numel())
    k(y, m, r, xc, weight.defined() ? contiguous(weight) : weight, bias.defined() ? contiguous(bias) : bias, eps);
  if (mean) *mean = m;
  if (rstd) *rstd = r;
  return y;
}

void layer_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, Tensor* dx, Tensor* dweight, Tensor* dbias) {
  auto k = kernel("layer_norm_backward", x, &Backend::layer_norm_backward);
  check_floating("layer_norm_backward", x);
  check_same("layer_norm_backward", "x", x, "gradient", g);
  const int64_t D = x.shape()[x.dim() - 1], rows = D ? x.numel() / D : 0;
  HIPT_CHECK(mean.numel() == rows && rstd.numel() == rows, "layer_norm_backward: mean {} / rstd {} do not have {} "
             "rows of x {}", mean.shape().str(), rstd.shape().str(), rows, x.shape().str());
  if (weight.defined())
    HIPT_CHECK(weight.dim() == 1 && weight.shape()[0] == D, "layer_norm_backward: weight {} does not match the last "
               "dim of x {}", weight.shape().str(), x.shape().str());
  Tensor gx = dx ? empty(x.shape(), x.dtype(), x.device()) : Tensor();
  // dweight is only meaningful with a weight; dbias is asked for only when there is a bias.
  Tensor gw = dweight && weight.defined() ? empty({D}, x.dtype(), x.device()) : Tensor();
  Tensor gb = dbias ? empty({D}, x.dtype(), x.device()) : Tensor();
  if (rows) {
    k(gx, gw, gb, contiguous(g), contiguous(x), weight.defined() ? contiguous(weight) : weight, contiguous(mean),
      contiguous(rstd));
  } else {
    if (gw.defined()) fill_(gw, 0);
    if (gb.defined()) fill_(gb, 0);
  }
  if (dx) *dx = gx;
  if (dweight) *dweight = gw;
  if (dbias) *dbias = gb;
}

// ---------------------------------------------------------------- gelu

Tensor gelu(const Tensor& x) {
  auto k = kernel("gelu", x, &Backend::gelu);
  check_floating_or_cuda_bf16("gelu", x);
  Tensor xc = contiguous(x);
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  if (y.numel()) k(y, xc);
  return y;
}

Tensor gelu_backward(const Tensor& x, const Tensor& g) {
  auto k = kernel("gelu_backward", x, &Backend::gelu_backward);
  check_floating("gelu_backward", x);
  check_same("gelu_backward", "x", x, "gradient", g);
  Tensor dx = empty(x.shape(), x.dtype(), x.device());
  if (dx.numel()) k(dx, contiguous(x), contiguous(g));
  return dx;
}

// ---------------------------------------------------------------- attention

void check_attention(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, bool cuda_bf16) {
  for (const Tensor* t : {&q, &k, &v}) check_float(op, *t, cuda_bf16);
  HIPT_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "{}: q, k, v must be [B, H, T, D], got q {}, k {}, v {}",
             op, q.shape().str(), k.shape().str(), v.shape().str());
  HIPT_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype() && q.device() == k.device() && q.device() == v.device(),
             "{}: q {}, k {}, v {} differ in dtype or device", op, q.str(), k.str(), v.str());
  HIPT_CHECK(k.shape() == v.shape(), "{}: k {} and v {} must have the same shape", op, k.shape().str(),
             v.shape().str());
  HIPT_CHECK(q.shape()[0] == k.shape()[0] && q.shape()[1] == k.shape()[1] && q.shape()[3] == k.shape()[3],
             "{}: q {} does not match k {} (B, H and D must agree)", op, q.shape().str(), k.shape().str());
}

const char* attention_impl_name(AttentionImpl impl) {
  switch (impl) {
    case AttentionImpl::Auto: return "auto";
    case AttentionImpl::Composite: return "composite";
    case AttentionImpl::Fused: return "fused";
    case AttentionImpl::Flash: return "flash";
  }
  return "?";
}

AttentionImpl parse_attention_impl(const std::string& name) {
  for (AttentionImpl i : {AttentionImpl::Auto, AttentionImpl::Composite, AttentionImpl::Fused, AttentionImpl::Flash})
    if (name == attention_impl_name(i)) return i;
  throw Error(fmt::format("attention: unknown implementation '{}' (auto, composite, fused or flash)", name));
}

AttentionImpl resolve_attention_impl(AttentionImpl impl, const Tensor& q) {
  check_defined("attention", q);
  const bool cuda = q.device().type == DeviceType::CUDA;
  const std::string dev = q.device().str();
  HIPT_CHECK(cuda || q.dtype() != DType::BF16, "attention: bf16 inputs run on CUDA only; the {} implementation on {} "
             "takes f32 or f64", attention_impl_name(impl), dev);
  const int64_t D = q.dim() == 4 ? q.shape()[3] : 0;
  const bool flash_d = D == 32 || D == 64 || D == 128;
  switch (impl) {
    case AttentionImpl::Auto:
      if (!cuda) return AttentionImpl::Fused;
      return flash_d ? AttentionImpl::Flash : AttentionImpl::Composite;
    case AttentionImpl::Fused:
      HIPT_CHECK(!cuda, "attention: the fused implementation runs on the CPU, not on {} (flash is its CUDA "
                 "counterpart)", dev);
      return impl;
    case AttentionImpl::Flash:
      HIPT_CHECK(cuda, "attention: the flash implementation runs on CUDA, not on {} (fused is its CPU counterpart)",
                 dev);
      HIPT_CHECK(flash_d, "attention: the flash implementation on {} takes head dim D 32, 64 or 128, got q {}", dev,
                 q.shape().str());
      return impl;
    case AttentionImpl::Composite: return impl;
  }
  return impl;
}

Tensor causal_mask(int64_t Tq, int64_t Tk, DType dtype, Device device) {
  std::vector<float> m(static_cast<size_t>(Tq * Tk), 0.0f);
  for (int64_t i = 0; i < Tq; ++i)
    for (int64_t j = i + 1; j < Tk; ++j) m[static_cast<size_t>(i * Tk + j)] = -std::numeric_limits<float>::infinity();
  Tensor t = from_vector(m, {Tq, Tk}).to(device);
  return dtype == DType::F32 ? t : cast(t, dtype);
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, const AttentionOptions& options,
                 Tensor* lse) {
  const AttentionImpl impl = resolve_attention_impl(options.impl, q);
  check_attention("attention", q, k, v, true);
  if (impl != AttentionImpl::Composite) return attention_lse(q, k, v, scale, options.causal, lse);
  Tensor s = mul(matmul(q, k, false, true), scale);
  if (options.causal) s = add(s, causal_mask(q.shape()[2], k.shape()[2], q.dtype(), q.device()));
  if (lse) *lse = Tensor();
  return matmul(softmax(s, -1), v);
}

Tensor attention_lse(const Tensor& q, const Tensor& k, const Tensor& v, double scale, bool causal, Tensor* lse) {
  auto kern = kernel("attention_lse", q, &Backend::attention_lse);
  check_attention("attention_lse", q, k, v, true);
  const Shape& s = q.shape();
  const int64_t Tk = k.shape()[2];
  const DType stat = q.dtype() == DType::BF16 ? DType::F32 : q.dtype();
  Tensor out = empty(s, q.dtype(), q.device());
  Tensor l = empty({s[0], s[1], s[2]}, stat, q.device());
  if (out.numel() && Tk) {
    kern(out, l, gemm_rows(q), gemm_rows(k), gemm_rows(v), scale, causal);
  } else {
    HIPT_CHECK(Tk > 0 || s[2] == 0, "attention_lse: k {} has no keys to attend to", k.shape().str());
    fill_(out, 0);
    fill_(l, Tk ? 0.0 : -std::numeric_limits<double>::infinity());
  }
  if (lse) *lse = l;
  return out;
}

void attention_lse_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                            const Tensor& lse, double scale, bool causal, Tensor* dq, Tensor* dk, Tensor* dv) {
  const char* op = "attention_lse_backward";
  auto kern = kernel(op, q, &Backend::attention_lse_backward);
  check_attention(op, q, k, v, true);
  HIPT_CHECK(g.defined() && out.defined() && g.dtype() == q.dtype() && out.dtype() == q.dtype() &&
                 g.device() == q.device() && out.device() == q.device() && g.shape() == q.shape() &&
                 out.shape() == q.shape(),
             "{}: gradient {} and out {} must match q {}", op, g.defined() ? g.str() : "undefined",
             out.defined() ? out.str() : "undefined", q.str());
  const Shape& s = q.shape();
  const DType stat = q.dtype() == DType::BF16 ? DType::F32 : q.dtype();
  HIPT_CHECK(lse.defined() && lse.dtype() == stat && lse.device() == q.device() &&
                 lse.shape() == Shape({s[0], s[1], s[2]}),
             "{}: lse {} does not match q {} (want {} [{}, {}, {}])", op, lse.defined() ? lse.str() : "undefined",
             q.str(), dtype_name(stat), s[0], s[1], s[2]);
  Tensor gq = empty(s, q.dtype(), q.device());
  Tensor gk = empty(k.shape(), q.dtype(), q.device());
  Tensor gv = empty(k.shape(), q.dtype(), q.device());
  if (q.numel() && k.numel()) {
    kern(gq, gk, gv, gemm_rows(g), gemm_rows(q), gemm_rows(k), gemm_rows(v), contiguous(out), contiguous(lse), scale,
         causal);
  } else {
    for (Tensor* t : {&gq, &gk, &gv}) fill_(*t, 0);
  }
  if (dq) *dq = gq;
  if (dk) *dk = gk;
  if (dv) *dv = gv;
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, Tensor* probs) {
  auto kern = kernel("attention", q, &Backend::attention);
  check_attention("attention", q, k, v, true);
  const Shape& s = q.shape();
  const int64_t Tk = k.shape()[2];
  Tensor out = empty(s, q.dtype(), q.device());
  Tensor p = probs ? empty({s[0], s[1], s[2], Tk}, q.dtype(), q.device()) : Tensor();
  if (out.numel() && Tk) {
    kern(out, p, gemm_rows(q), gemm_rows(k), gemm_rows(v), scale);
  } else {
    HIPT_CHECK(Tk > 0 || s[2] == 0, "attention: k {} has no keys to attend to", k.shape().str());
    fill_(out, 0);
  }
  if (probs) *probs = p;
  return out;
}

void attention_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& probs,
                        double scale, Tensor* dq, Tensor* dk, Tensor* dv) {
  auto kern = kernel("attention_backward", q, &Backend::attention_backward);
  check_attention("attention_backward", q, k, v, false);
  check_same("attention_backward", "q", q, "gradient", g);
  const Shape& s = q.shape();
  const Shape ps{s[0], s[1], s[2], k.shape()[2]};
  HIPT_CHECK(probs.defined() && probs.shape() == ps, "attention_backward: probs {} do not match q {} and k {} (want "
             "{})", probs.defined() ? probs.shape().str() : "undefined", s.str(), k.shape().str(), ps.str());
  Tensor gq = dq ? empty(s, q.dtype(), q.device()) : Tensor();
  Tensor gk = dk ? empty(k.shape(), q.dtype(), q.device()) : Tensor();
  Tensor gv = dv ? empty(k.shape(), q.dtype(), q.device()) : Tensor();
  if (q.numel() && k.numel()) {
    kern(gq, gk, gv, gemm_rows(g), gemm_rows(q), gemm_rows(k), gemm_rows(v), contiguous(probs), scale);
  } else {
    for (Tensor* t : {&gq, &gk, &gv})
      if (t->defined()) fill_(*t, 0);
  }
  if (dq) *dq = gq;
  if (dk) *dk = gk;
  if (dv) *dv = gv;
}

}  // namespace hipt::ops
