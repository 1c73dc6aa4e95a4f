// `hipt bench-attention`: the attention implementations (tensor/nn_ops.h) timed side by side on
// one shape: median milliseconds over repetitions (CUDA events on a GPU), achieved TFLOP/s and,
// on a GPU whose dense peak is known, the percentage of that peak. docs/attention.md.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "autograd/nn_functions.h"
#include "cuda/runtime.h"
#include "hipt/cli/commands.h"
#include "tensor/nn_ops.h"
#include "tensor/parallel.h"

namespace hipt {
namespace {

struct BenchAttentionOptions {
  int64_t batch = 8, heads = 6, seq = 257, dim = 64;
  std::string dtype = "f32";
  bool causal = false, backward = false, json = false;
  std::string impl = "all";
  std::string device = "cpu";
  int64_t reps = 10, warmup = 2;
};

// Dense peak TFLOP/s by device name (the first pattern the name contains), from the vendors'
// published figures: bf16 on tensor cores, f32 without them. 0: not in the table.
struct Peak {
  const char* pattern;
  double bf16, f32;
};
constexpr Peak kPeaks[] = {
    {"H200", 989, 67},           // H200 SXM
    {"H100 NVL", 0, 0},          // a different clock and power: not listed
    {"H100 PCIe", 756, 51},      //
    {"H100", 989, 67},           // H100 SXM ("NVIDIA H100 80GB HBM3")
    {"A100", 312, 19.5},         // A100 SXM and PCIe
};
double peak_tflops(const std::string& device_name, DType dtype) {
  for (const Peak& p : kPeaks)
    if (device_name.find(p.pattern) != std::string::npos) return dtype == DType::BF16 ? p.bf16 : p.f32;
  return 0;
}

// Uniform [-1, 1) inputs made on the CPU in f32, then moved and cast.
Tensor input(const Shape& shape, uint32_t seed, DType dtype, Device device) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  for (float& x : v) x = dist(gen);
  Tensor t = ops::from_vector(v, shape).to(device);
  return dtype == DType::F32 ? t : ops::cast(t, dtype);
}

struct Row {
  std::string impl;  // as run (auto resolved)
  double median_ms, min_ms, tflops, percent;  // percent < 0: no known peak
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run_bench_attention(const BenchAttentionOptions& o) {
  const Device device = check_device_flag(o.device);
  HIPT_CHECK(o.dtype == "f32" || o.dtype == "bf16", "bench-attention: --dtype '{}': expected f32 or bf16", o.dtype);
  HIPT_CHECK(o.dtype == "f32" || device.type == DeviceType::CUDA,
             "bench-attention: --dtype {} runs on CUDA only (--device cuda); on the CPU use --dtype f32", o.dtype);
  const DType dtype = o.dtype == "bf16" ? DType::BF16 : DType::F32;
  const Shape shape{o.batch, o.heads, o.seq, o.dim};
  const Tensor q = input(shape, 1, dtype, device), k = input(shape, 2, dtype, device), v = input(shape, 3, dtype, device);
  const Tensor g = input(shape, 4, dtype, device);

  // The implementations asked for, each checked against the device before anything runs.
  std::vector<ops::AttentionImpl> impls;
  if (o.impl == "all") {
    for (ops::AttentionImpl i : {ops::AttentionImpl::Composite, ops::AttentionImpl::Fused, ops::AttentionImpl::Flash}) {
      try {
        ops::resolve_attention_impl(i, q);
        impls.push_back(i);
      } catch (const Error&) {
        // not on this device (or not for this D): --impl all runs what the device has
      }
    }
    if (impls.empty()) ops::resolve_attention_impl(ops::AttentionImpl::Composite, q);  // says why in one line
  } else {
    impls.push_back(ops::resolve_attention_impl(ops::parse_attention_impl(o.impl), q));
  }

  // composite's backward runs the primitive ops' backward kernels, which take f32 and f64 only.
  const bool no_composite = o.backward && dtype == DType::BF16;
  const size_t asked = impls.size();
  impls.erase(std::remove_if(impls.begin(), impls.end(),
                             [&](ops::AttentionImpl i) { return no_composite && i == ops::AttentionImpl::Composite; }),
              impls.end());
  HIPT_CHECK(!impls.empty(), "bench-attention: composite has no bf16 backward (its softmax_backward takes f32 and "
             "f64); use --impl flash or --dtype f32");
  const double scale = 1.0 / std::sqrt(static_cast<double>(o.dim));
  const double forward_flops = 4.0 * static_cast<double>(o.batch * o.heads) * static_cast<double>(o.seq) *
                               static_cast<double>(o.seq) * static_cast<double>(o.dim) * (o.causal ? 0.5 : 1.0);
  const double flops = o.backward ? 2.5 * forward_flops : forward_flops;
  const std::string name = device.type == DeviceType::CUDA ? cuda::device_name(device.index)
                                                            : fmt::format("{} threads", num_threads());
  const double peak = device.type == DeviceType::CUDA ? peak_tflops(name, dtype) : 0;

  std::vector<Row> rows;
  for (ops::AttentionImpl impl : impls) {
    const ops::AttentionOptions opts{o.causal, impl};
    std::vector<double> ms;
    for (int64_t rep = 0; rep < o.warmup + o.reps; ++rep) {
      double t;
      if (!o.backward) {
        t = cuda::elapsed_ms(device, [&] { ops::attention(q, k, v, scale, opts); });
      } else {
        // The backward alone: a fresh forward with a graph, then backward() timed.
        Tensor ql = q.detach(), kl = k.detach(), vl = v.detach();
        for (Tensor* x : {&ql, &kl, &vl}) x->requires_grad_();
        Tensor y = hipt::attention(ql, kl, vl, scale, opts);
        cuda::synchronize(device);
        t = cuda::elapsed_ms(device, [&] { hipt::backward(y, g); });
      }
      if (rep >= o.warmup) ms.push_back(t);
    }
    const double med = median(ms);
    const double tflops = flops / (med * 1e-3) / 1e12;
    rows.push_back({ops::attention_impl_name(ops::resolve_attention_impl(impl, q)), med,
                    *std::min_element(ms.begin(), ms.end()), tflops, peak > 0 ? 100.0 * tflops / peak : -1});
  }

  const char* pass = o.backward ? "backward" : "forward";
  if (o.json) {
    nlohmann::ordered_json j;
    j["batch"] = o.batch;
    j["heads"] = o.heads;
    j["seq"] = o.seq;
    j["dim"] = o.dim;
    j["dtype"] = o.dtype;
    j["causal"] = o.causal;
    j["pass"] = pass;
    j["device"] = device.str();
    j["device_name"] = name;
    j["threads"] = device.type == DeviceType::CPU ? num_threads() : 0;
    j["reps"] = o.reps;
    j["flops"] = flops;
    j["peak_tflops"] = peak > 0 ? nlohmann::ordered_json(peak) : nlohmann::ordered_json(nullptr);
    j["results"] = nlohmann::ordered_json::array();
    for (const Row& r : rows) {
      nlohmann::ordered_json e;
      e["impl"] = r.impl;
      e["median_ms"] = r.median_ms;
      e["min_ms"] = r.min_ms;
      e["tflops"] = r.tflops;
      e["percent_of_peak"] = r.percent >= 0 ? nlohmann::ordered_json(r.percent) : nlohmann::ordered_json(nullptr);
      j["results"].push_back(e);
    }
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("attention {}: B={} H={} T={} D={} {}{} on {} ({}), median of {}\n", pass, o.batch, o.heads, o.seq,
             o.dim, o.dtype, o.causal ? " causal" : "", device.str(), name, o.reps);
  fmt::print("{:<10} {:>11} {:>11} {:>9} {:>10}\n", "impl", "median ms", "min ms", "TFLOP/s", "% of peak");
  for (const Row& r : rows)
    fmt::print("{:<10} {:>11.3f} {:>11.3f} {:>9.3f} {:>10}\n", r.impl, r.median_ms, r.min_ms, r.tflops,
               r.percent >= 0 ? fmt::format("{:.1f}", r.percent) : "");
  if (impls.size() < asked) fmt::print("(composite left out: no bf16 backward)\n");
  if (device.type == DeviceType::CUDA && peak <= 0)
    fmt::print("(no dense peak known for {}: no percentage)\n", name);
  return 0;
}

}  // namespace

Command add_bench_attention_command(CLI::App& app) {
  auto opts = std::make_shared<BenchAttentionOptions>();
  BenchAttentionOptions& o = *opts;
  CLI::App* cmd = app.add_subcommand(
      "bench-attention",
      "Time the attention implementations side by side on one [B, H, T, D] shape: median ms, TFLOP/s (4·B·H·T²·D "
      "forward, 2.5x for the backward, half when causal) and the share of the GPU's dense peak");
  add_bounded_option<int64_t>(cmd, "--batch", o.batch, "B, batch size", 1);
  add_bounded_option<int64_t>(cmd, "--heads", o.heads, "H, attention heads", 1);
  add_bounded_option<int64_t>(cmd, "--seq", o.seq, "T, tokens (queries = keys)", 1);
  add_bounded_option<int64_t>(cmd, "--dim", o.dim, "D, head dim", 1);
  cmd->add_option("--dtype", o.dtype, "f32, or bf16 (GPU only)")->capture_default_str();
  cmd->add_flag("--causal", o.causal, "Query i sees keys j <= i only");
  cmd->add_flag("--backward", o.backward, "Time the backward pass (dq, dk, dv) instead of the forward");
  cmd->add_option("--impl", o.impl, "composite, fused (CPU), flash (GPU), auto, or all that the device has")
      ->capture_default_str();
  cmd->add_option("--device", o.device, "cpu, cuda or cuda:N")->capture_default_str();
  add_bounded_option<int64_t>(cmd, "--reps", o.reps, "Timed repetitions (the median is reported)", 1);
  add_bounded_option<int64_t>(cmd, "--warmup", o.warmup, "Untimed repetitions first", 0);
  cmd->add_flag("--json", o.json, "One JSON object on stdout instead of the table");
  return {cmd, [opts] { return run_bench_attention(*opts); }};
}

}  // namespace hipt
