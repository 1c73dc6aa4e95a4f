// CPU kernels behind tensor/ops.h, optim_ops.h and random.h: the CPU entries of the kernel table
// (tensor/backend.h). Outputs first, then inputs; each kernel trusts that the op in tensor/ already
// checked shapes and dtypes and allocated the output.
#pragma once
#include <cstdint>

#include "tensor/ops.h"
#include "tensor/optim_ops.h"

namespace hipt {
struct Backend;
struct MatrixOperand;
}  // namespace hipt

namespace hipt::cpu {

// Fills the CPU table with the kernels below and those of nn_kernels.h and image_kernels.h.
void register_kernels(Backend& table);

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

// out [batch..., M, N] contiguous = op(a) · op(b) for each batch element, f32 or f64. a.t is the
// matrix in memory, [batch..., M, K] (or [batch..., K, M] when a.trans) with unit stride on its last
// dim and row stride a.ld, batch dims those of out (stride 0 where broadcast); b likewise with K, N.
void matmul(const Tensor& out, const MatrixOperand& a, const MatrixOperand& b);

// The optimizer steps of tensor/optim_ops.h, in place; all tensors contiguous, of one shape and dtype.
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const ops::AdamWHyper& h);
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
              double weight_decay, bool first_step);

// Random fills of a contiguous f32/f64 `out` from Philox blocks first, first+1, ... of `seed`, in the
// layout tensor/random.cpp specifies (dropout_mask: any float dtype, always the 4-per-block layout).
void uniform(const Tensor& out, uint64_t seed, uint64_t first, double low, double high);
void normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std);
void trunc_normal(const Tensor& out, uint64_t seed, uint64_t first, double mean, double std, double a, double b);
void dropout_mask(const Tensor& out, uint64_t seed, uint64_t first, double p);

}  // namespace hipt::cpu
