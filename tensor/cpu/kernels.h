// CPU kernels behind tensor/ops.h. Outputs first, then inputs; each kernel trusts that the op in
// tensor/ already checked shapes and dtypes and allocated the output.
#pragma once
#include "tensor/ops.h"

namespace hipt::cpu {

// dst[...] = src[...] for any two layouts of one shape, converting dtype (RNE into f16/bf16).
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& dst, double value);

// out [out shape] = op(x), x already broadcast to out's shape by strides.
void unary(ops::Unary op, const Tensor& out, const Tensor& x);
void binary(ops::Binary op, const Tensor& out, const Tensor& a, const Tensor& b);
void compare(ops::Compare op, const Tensor& out, const Tensor& a, const Tensor& b);
void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
void axpy(const Tensor& dst, const Tensor& src, double alpha);  // dst += alpha * src, src broadcast
void scale(const Tensor& dst, double s);                          // dst *= s

// Reductions of a contiguous x viewed as [outer, R, inner] into out [outer, inner].
void sum(const Tensor& out, const Tensor& x, int64_t outer, int64_t R, int64_t inner);
void max(const Tensor& out_values, const Tensor& out_index, const Tensor& x, int64_t outer, int64_t R, int64_t inner);

// out [outer, n_index, inner] = x [outer, n_src, inner] at index; and the adjoint (out zeroed).
void index_select(const Tensor& out, const Tensor& x, const Tensor& index, int64_t outer, int64_t n_src, int64_t inner);
void index_add(const Tensor& out, const Tensor& src, const Tensor& index, int64_t outer, int64_t n_out, int64_t inner);
// gather / scatter_add along `dim`, all tensors contiguous, index and src of index's shape.
void gather(const Tensor& out, const Tensor& x, int dim, const Tensor& index);
void scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src);

}  // namespace hipt::cpu
