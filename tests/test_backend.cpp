// The kernel tables (tensor/backend.h): the CPU table is complete, and every public op on a device
// whose table lacks the kernel fails with one hipt::Error naming the op, the device and the reason.
// The CUDA tensors here are host memory labelled cuda:0: no kernel ever reads them, because each op
// asks its table before it touches data.
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cuda/runtime.h"
#include "tensor/backend.h"
#include "tensor/image_ops.h"
#include "tensor/nn_ops.h"
#include "tensor/optim_ops.h"
#include "tensor/random.h"
#include "testing.h"

namespace hipt {
namespace {

const Device kCuda{DeviceType::CUDA, 0};

// `t`'s bytes under a cuda:0 label (the cpu tensor stays alive with it).
Tensor as_cuda(const Tensor& t) {
  auto keep = t.storage();
  auto s = std::make_shared<Storage>(keep->data(), keep->nbytes(), kCuda, [keep](void*) {});
  return Tensor(s, t.shape(), t.strides(), t.offset(), t.dtype());
}
Tensor cuda_rand(const Shape& shape) { return as_cuda(testing::random_tensor(shape)); }
Tensor cuda_index(const std::vector<int64_t>& v) { return as_cuda(ops::from_vector(v, {static_cast<int64_t>(v.size())})); }

// Swaps in a CUDA table, without the CUDA allocator, for one test and puts the real ones back
// afterwards (factories ask the table before the allocator, so no device memory is touched).
class CudaTable {
 public:
  explicit CudaTable(Backend table)
      : saved_(std::move(backend(DeviceType::CUDA))), saved_allocator_(allocator(DeviceType::CUDA)) {
    backend(DeviceType::CUDA) = std::move(table);
    set_allocator(DeviceType::CUDA, nullptr);
  }
  ~CudaTable() {
    backend(DeviceType::CUDA) = std::move(saved_);
    set_allocator(DeviceType::CUDA, saved_allocator_);
  }

 private:
  Backend saved_;
  Allocator* saved_allocator_;
};

Backend registered_empty() {
  Backend b;
  b.registered = true;
  return b;
}

// Every public op of ops.h, nn_ops.h, image_ops.h, optim_ops.h and random.h, called on cuda:0 inputs
// (or asked to create its result there), with the name its error must carry.
std::vector<std::pair<std::string, std::function<void()>>> every_op() {
  const Tensor x = cuda_rand({2, 3}), y = cuda_rand({2, 3}), row = cuda_rand({3});
  const Tensor cond = as_cuda(ops::compare(ops::Compare::Gt, testing::random_tensor({2, 3}), ops::zeros({2, 3})));
  const Tensor idx = cuda_index({1, 0}), idx2 = as_cuda(ops::from_vector<int64_t>({0, 1, 1, 0, 1, 0}, {2, 3}));
  const Tensor q = cuda_rand({1, 2, 4, 3}), probs = cuda_rand({1, 2, 4, 4}), img = cuda_rand({1, 1, 4, 4});
  const Tensor lse = cuda_rand({1, 2, 4});
  const Tensor logits = cuda_rand({2, 3}), target = cuda_index({2, 0}), g0 = as_cuda(ops::scalar(1.0));
  Generator gen(1);
  Tensor m, r;
  return {
      {"empty", [] { ops::empty({2}, DType::F32, kCuda); }},
      {"zeros", [] { ops::zeros({2}, DType::F32, kCuda); }},
      {"ones", [] { ops::ones({2}, DType::F32, kCuda); }},
      {"full", [] { ops::full({2}, 3.0, DType::F32, kCuda); }},
      {"zeros_like", [=] { ops::zeros_like(x); }},
      {"ones_like", [=] { ops::ones_like(x); }},
      {"contiguous", [=] { ops::contiguous(ops::transpose(x, 0, 1)); }},
      {"clone", [=] { ops::clone(x); }},
      {"copy_", [=] { ops::copy_(x, y); }},
      {"cast", [=] { ops::cast(x, DType::F64); }},
      {"cat", [=] { ops::cat({x, y}, 0); }},
      {"stack", [=] { ops::stack({x, y}, 0); }},
      {"index_select", [=] { ops::index_select(x, 0, idx); }},
      {"index_add", [=] { ops::index_add({2, 3}, 0, idx, y); }},
      {"gather", [=] { ops::gather(x, 0, idx2); }},
      {"scatter_add", [=] { ops::scatter_add({2, 3}, 0, idx2, y); }},
      {"exp", [=] { ops::unary(ops::Unary::Exp, x); }},
      {"add", [=] { ops::binary(ops::Binary::Add, x, y); }},
      {"lt", [=] { ops::compare(ops::Compare::Lt, x, y); }},
      {"where", [=] { ops::where(cond, x, y); }},
      {"mul", [=] { ops::mul(x, 2.0); }},
      {"pow", [=] { ops::pow(x, 2.0); }},
      {"add_", [=] { ops::add_(x, y, 0.5); }},
      {"mul_", [=] { ops::mul_(x, 0.5); }},
      {"fill_", [=] { ops::fill_(x, 1.0); }},
      {"sum", [=] { ops::sum(x, 1); }},
      {"mean", [=] { ops::mean(x, 1); }},
      {"max", [=] { ops::max_with_index(x, 1); }},
      {"argmax", [=] { ops::argmax(x, 1); }},
      {"sum_to", [=] { ops::sum_to(x, {1, 3}); }},
      {"matmul", [=] { ops::matmul(x, y, false, true); }},
      {"softmax", [=] { ops::softmax(x, -1); }},
      {"log_softmax", [=] { ops::log_softmax(x, -1); }},
      {"softmax_backward", [=] { ops::softmax_backward(x, y, -1); }},
      {"log_softmax_backward", [=] { ops::log_softmax_backward(x, y, -1); }},
      {"cross_entropy", [=] { ops::cross_entropy(logits, target); }},
      {"cross_entropy_backward", [=] { ops::cross_entropy_backward(logits, target, g0); }},
      {"layer_norm", [=] { ops::layer_norm(x, row, row, 1e-6); }},
      {"layer_norm_backward", [=]() mutable { ops::layer_norm_backward(y, x, row, row, row, &m, nullptr, nullptr); }},
      {"gelu", [=] { ops::gelu(x); }},
      {"gelu_backward", [=] { ops::gelu_backward(x, y); }},
      {"attention", [=] { ops::attention(q, q, q, 0.5); }},
      {"attention_backward", [=]() mutable { ops::attention_backward(q, q, q, q, probs, 0.5, &m, &r, nullptr); }},
      {"attention_lse", [=] { ops::attention_lse(q, q, q, 0.5, true, nullptr); }},
      {"attention_lse_backward",
       [=]() mutable { ops::attention_lse_backward(q, q, q, q, q, lse, 0.5, false, &m, &r, nullptr); }},
      {"bicubic_resize", [=] { ops::bicubic_resize(img, 2.0, 2.0); }},
      {"bicubic_resize_backward", [=] { ops::bicubic_resize_backward(img, 2, 2, 2.0, 2.0); }},
      {"adamw_step", [=] { ops::adamw_step(x, y, x, y, {1e-3, 0.9, 0.999, 1e-8, 0.0, 1}); }},
      {"sgd_step", [=] { ops::sgd_step(x, y, x, 0.1, 0.9, 0.0, true); }},
      {"uniform", [=]() mutable { ops::uniform({2}, 0, 1, gen, DType::F32, kCuda); }},
      {"normal", [=]() mutable { ops::normal({2}, 0, 1, gen, DType::F32, kCuda); }},
      {"trunc_normal", [=]() mutable { ops::trunc_normal({2}, 0, 1, -2, 2, gen, DType::F32, kCuda); }},
      {"dropout_mask", [=]() mutable { ops::dropout_mask({2}, 0.5, gen, DType::F32, kCuda); }},
  };
}

// Runs every op and expects "<op>: no kernel for cuda:0 (<reason>...".
void expect_every_op_refused(const std::string& reason) {
  for (const auto& [name, run] : every_op()) {
    try {
      run();
      ADD_FAILURE() << name << " ran on a device without kernels";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), ::testing::StartsWith(name + ": no kernel for cuda:0 (" + reason)) << name;
    }
  }
}

TEST(KernelTable, CpuTableHasEveryKernel) {
  const auto entries = kernel_entries(backend(DeviceType::CPU));
  EXPECT_EQ(entries.size(), 35u) << "a new kernel: add its op to every_op() above";
  for (const KernelEntry& e : entries) EXPECT_TRUE(e.present) << e.name;
  EXPECT_TRUE(backend(DeviceType::CPU).registered);
}

// In a build with CUDA, every kernel of the CPU table has its CUDA twin: an op that runs on the CPU
// runs on the GPU. An entry allowed to be missing would be listed here with its reason; none is.
TEST(KernelTable, CudaTableHasEveryKernelOfTheCpuTable) {
  if (!cuda::compiled()) GTEST_SKIP() << "this build has no CUDA backend (built without CUDA)";
  cuda::register_backend();
  const std::map<std::string, std::string> missing_by_design;  // kernel name -> why
  const auto cpu = kernel_entries(backend(DeviceType::CPU));
  const auto gpu = kernel_entries(backend(DeviceType::CUDA));
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].present || gpu[i].present) continue;
    EXPECT_TRUE(missing_by_design.count(cpu[i].name)) << cpu[i].name << ": in the CPU table, missing from the CUDA table";
  }
}

TEST(KernelTable, EveryOpNamesItselfOnADeviceWithoutKernels) {
  CudaTable empty(registered_empty());
  expect_every_op_refused("the CUDA backend has no kernel for it yet");
}

TEST(KernelTable, UnregisteredTableSaysRegisterBackendWasNotCalled) {
  CudaTable unregistered{Backend{}};
  expect_every_op_refused("register_backend() not called");
}

TEST(KernelTable, BuildWithoutCudaSaysSo) {
  if (cuda::compiled()) GTEST_SKIP() << "this build has the CUDA backend; its table is not the stub's";
  CudaTable fresh{Backend{}};
  cuda::register_backend();
  EXPECT_TRUE(backend(DeviceType::CUDA).registered);
  expect_every_op_refused("this build has no CUDA backend: built without CUDA");
}

TEST(KernelTable, ViewsAndHostReadsOfDeviceTensors) {
  CudaTable empty(registered_empty());
  const Tensor x = cuda_rand({2, 3});
  // Views need no kernel: they keep the device.
  EXPECT_EQ(ops::transpose(x, 0, 1).device(), kCuda);
  EXPECT_EQ(ops::reshape(x, {3, 2}).device(), kCuda);
  EXPECT_EQ(ops::slice(x, 1, 0, 2).device(), kCuda);
  // Host reads copy to the cpu first, through the CUDA table's copy kernel.
  testing::expect_error([&] { ops::to_vector<float>(x); }, {"copy_: no kernel for cuda:0"});
  testing::expect_error([&] { ops::slice(ops::reshape(x, {6}), 0, 0, 1).item(); }, {"copy_: no kernel for cuda:0"});
  testing::expect_error([&] { x.to(Device{}); }, {"copy_: no kernel for cuda:0"});
}

TEST(KernelTable, MixedDevicesAreRefused) {
  const Tensor c = testing::random_tensor({2, 3});
  const Tensor g = cuda_rand({2, 3});
  CudaTable empty(registered_empty());
  testing::expect_error([&] { ops::add(c, g); }, {"add: device mismatch"});
  // A copy across devices is the one mixed op; it goes to the GPU side's table and needs equal shapes.
  testing::expect_error([&] { ops::copy_(c, g); }, {"copy_: no kernel for cuda:0"});
  Backend with_copy = registered_empty();
  with_copy.copy = [](const Tensor&, const Tensor&) {};
  CudaTable copying(with_copy);
  testing::expect_error([&] { ops::copy_(c, ops::slice(g, 1, 0, 1)); },
                        {"copy_: a copy between cuda:0 and cpu needs equal shapes: [2, 1] vs [2, 3]"});
  testing::expect_error([&] { ops::matmul(c, g, false, true); }, {"matmul: device mismatch"});
}

}  // namespace
}  // namespace hipt
