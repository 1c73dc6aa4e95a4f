// The CUDA kernel table's parts: each .cu file in cuda/ fills the entries of tensor/backend.h it
// implements, with the contract of the CPU kernel of the same name (tensor/cpu/kernels.h,
// nn_kernels.h, image_kernels.h). register_backend() (register.cpp) calls them all.
#pragma once

namespace hipt {
struct Backend;
class Tensor;
}

namespace hipt::cuda {

// allocator.cu: the caching device allocator, as the storage allocator of DeviceType::CUDA
void register_allocator();

void register_copy_kernels(Backend& table);         // copy.cu: copy (also across devices), fill
void register_elementwise_kernels(Backend& table);  // elementwise.cu: unary, binary, compare, where, axpy, scale
void register_reduce_kernels(Backend& table);       // reduce.cu: sum, max, index_select, index_add, gather, scatter_add
void register_matmul_kernels(Backend& table);       // matmul.cu: matmul (cuBLAS)
void register_nn_kernels(Backend& table);           // nn.cu: softmax, cross_entropy, layer_norm, gelu (+ backward)
void register_attention_kernels(Backend& table);    // attention.cu: attention (+ backward), as GEMM + softmax + GEMM
void register_image_kernels(Backend& table);        // resize.cu: bicubic_resize (+ backward)
void register_optim_kernels(Backend& table);        // optim.cu: adamw_step, sgd_step
void register_random_kernels(Backend& table);       // random.cu: uniform, normal, trunc_normal, dropout_mask

// flash_attention.cu (bf16 kernels: flash_attention_wmma.cu): tiled attention with the log-sum-exp,
// registered as attention_lse and attention_lse_backward (the signatures of those entries).
// D = 32, 64 or 128; f32, f64, bf16.
void flash_attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                             double scale, bool causal);
void flash_attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& g, const Tensor& q,
                              const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, double scale,
                              bool causal);

}  // namespace hipt::cuda
