// The two model timings of the GPU check, on any device, median of --iters timed runs after
// --warmup untimed ones:
//   vit256_forward  ViT-256 (vit_small, patch 16) on a batch of --batch 256-px patches
//   region_forward  the model part of one HIPT-4K region: ViT-256 over the 256 patches of a 4096²
//                   region in batches of --batch, then ViT-4K on the 16x16 grid of [CLS] features
// Each run ends by copying the (small) output to the host, which waits for the device, so a host
// clock times the device work. Random-init weights: values do not change the speed.
// bench/gpu_side_by_side.py runs this next to PyTorch on the same shapes.
//
//   bench_cuda_models --device cuda [--precision f32] [--batch 64] [--iters 10] [--warmup 2] [--json]
//
// --json prints one JSON object per line; otherwise a small table. --precision as the CLI's: f32
// (exact f32 products), tf32 (f32 weights, TF32 tensor-core products) or bf16 (bf16 weights and
// activations, f32 statistics and accumulation); tf32 and bf16 on the GPU only. A combination hipt
// cannot run prints a line saying why and exits with status 3 (bench/gpu_side_by_side.py reads it).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "cuda/runtime.h"
#include "hipt/models/vit.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using namespace hipt;

namespace {

constexpr int64_t kPatch = 256, kGrid = 16;  // a 4096² region is 16x16 patches

struct Options {
  std::string device = "cpu", precision = "f32";
  int64_t batch = 64;
  int iters = 10, warmup = 2;
  bool json = false;
};

struct Timing {
  std::string name;
  int64_t images = 0;  // ViT-256 inputs per run
  std::vector<double> ms;
};

Options parse(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    HIPT_CHECK(i + 1 < argc, "bench_cuda_models: {} needs a value", argv[i]);
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device") o.device = value(i);
    else if (a == "--precision") o.precision = value(i);
    else if (a == "--batch") o.batch = std::stoll(value(i));
    else if (a == "--iters") o.iters = std::stoi(value(i));
    else if (a == "--warmup") o.warmup = std::stoi(value(i));
    else if (a == "--json") o.json = true;
    else throw Error(fmt::format("bench_cuda_models: unknown argument '{}'", a));
  }
  HIPT_CHECK(o.device == "cpu" || o.device == "cuda", "bench_cuda_models: --device '{}': expected cpu or cuda",
             o.device);
  HIPT_CHECK(o.precision == "f32" || o.precision == "tf32" || o.precision == "bf16",
             "bench_cuda_models: --precision '{}': expected f32, tf32 or bf16", o.precision);
  HIPT_CHECK(o.batch > 0 && (kGrid * kGrid) % o.batch == 0, "bench_cuda_models: --batch {} must divide {}", o.batch,
             kGrid * kGrid);
  HIPT_CHECK(o.iters > 0 && o.warmup >= 0, "bench_cuda_models: --iters must be positive and --warmup not negative");
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Runs `f` warmup + iters times; `f` must end by reading its result on the host.
Timing time_runs(const std::string& name, int64_t images, const Options& o, const std::function<void()>& f) {
  Timing t{name, images, {}};
  for (int i = 0; i < o.warmup; ++i) f();
  for (int i = 0; i < o.iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return t;
}

void report(const Timing& t, const Options& o, const std::string& card) {
  const double med = median(t.ms), lo = *std::min_element(t.ms.begin(), t.ms.end());
  const double rate = 1000.0 * static_cast<double>(t.images) / med;
  if (o.json)
    fmt::print("{{\"bench\": \"{}\", \"impl\": \"hipt\", \"device\": \"{}\", \"card\": \"{}\", \"precision\": \"{}\", "
               "\"batch\": {}, \"iters\": {}, \"median_ms\": {:.4f}, \"min_ms\": {:.4f}, \"img_per_s\": {:.2f}}}\n",
               t.name, o.device, card, o.precision, o.batch, o.iters, med, lo, rate);
  else
    fmt::print("{:<16} {:>5} {:>5} {:>10.3f} ms {:>10.3f} ms {:>10.1f} img/s\n", t.name, o.device, o.precision, med,
               lo, rate);
}

int run(const Options& o) {
  if (o.precision != "f32" && o.device != "cuda") {
    const std::string why = "tf32 and bf16 run on a GPU only";
    if (o.json)
      fmt::print("{{\"impl\": \"hipt\", \"device\": \"{}\", \"precision\": \"{}\", \"status\": \"unsupported\", "
                 "\"why\": \"{}\"}}\n",
                 o.device, o.precision, why);
    else
      fmt::print("--precision {}: {}\n", o.precision, why);
    return 3;
  }
  Device device;
  std::string card = "cpu";
  if (o.device == "cuda") {
    HIPT_CHECK(cuda::device_count() > 0, "bench_cuda_models: --device cuda: {}", cuda::why_no_gpu());
    device = Device{DeviceType::CUDA, 0};
    card = cuda::device_name(0);
  }
  NoGradGuard no_grad;
  const DType dtype = o.precision == "bf16" ? DType::BF16 : DType::F32;
  ops::MatmulPrecisionGuard products(o.precision == "tf32" ? ops::MatmulPrecision::TF32 : ops::MatmulPrecision::F32);
  auto vit256 = vit256_small(0, /*init=*/false, dtype);
  auto vit4k = vit4k_xs(0, /*init=*/false, dtype);
  vit256->eval(), vit4k->eval();
  vit256->to(device), vit4k->to(device);

  Generator gen(1);
  std::vector<Tensor> batches;  // the region's patches, batch by batch, already on the device
  for (int64_t b = 0; b < kGrid * kGrid / o.batch; ++b)
    batches.push_back(ops::cast(ops::uniform({o.batch, 3, kPatch, kPatch}, -1, 1, gen), dtype).to(device));
  // Reading the (small) result on the host waits for the device.
  auto read = [](const Tensor& t) { ops::to_vector<float>(ops::cast(t, DType::F32)); };

  if (!o.json)
    fmt::print("{:<16} {:>5} {:>5} {:>13} {:>13} {:>16}\n", "bench", "dev", "prec", "median", "min", "rate");
  report(time_runs("vit256_forward", o.batch, o, [&] { read(vit256->forward(batches[0])); }), o,
         card);
  report(time_runs("region_forward", kGrid * kGrid, o,
                   [&] {
                     std::vector<Tensor> features;
                     for (const Tensor& b : batches) features.push_back(vit256->forward(b));
                     Tensor f = ops::reshape(ops::cat(features, 0), {1, kGrid, kGrid, 384});
                     Tensor grid = ops::contiguous(ops::permute(f, {0, 3, 1, 2}));  // [1, 384, 16, 16]
                     read(vit4k->forward(grid));
                   }),
         o, card);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cuda::register_backend();
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
