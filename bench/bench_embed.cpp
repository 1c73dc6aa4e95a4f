// One full HIPT-4K region (4096² at 20x) split into its stages, counters in regions/s, real time:
//   decode: read_region_at_target_mag from a synthetic JPEG pyramid (hipt/pipeline/synthetic_slide.h),
//           at 20x (a 4096² read) and at 40x (an 8192² read + 2x2 box), tile cache off as in
//           `hipt embed`, which reads each region once;
//   ViT-256 over the region's 256 patches in batches of 64; ViT-4K on the 16x16 grid;
//   RegionEncoder::encode, the whole region from u8 pixels (no attention maps kept);
// and, for the demo, making and writing the synthetic slide.
// Random-init weights: values do not change the speed. bench/embed_side_by_side.sh runs this next
// to PyTorch (bench/hipt4k_torch.py).
//
//   HIPT_NUM_THREADS=2 ./build/bin/bench_embed
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include "hipt/models/region_encoder.h"
#include "hipt/pipeline/synthetic_slide.h"
#include "io/magnification.h"
#include "io/slide.h"
#include "io/tiff_writer.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

using namespace hipt;

namespace {

constexpr int64_t kRegion = 4096, kPatch = 256, kBatch = 64;

// The two pyramids, written once per run into a temp folder removed at exit.
struct Pyramids {
  std::string dir, slide20x, slide40x;
  Pyramids() {
    dir = (std::filesystem::temp_directory_path() / ("hipt_bench_embed_" + std::to_string(getpid()))).string();
    std::filesystem::create_directories(dir);
    slide20x = dir + "/synthetic20x.svs";
    write_synthetic_slide(slide20x);  // 12288 x 6144: three regions of tissue
    SyntheticSlideOptions big;
    big.width = big.height = 2 * kRegion;  // one region at 40x
    io::TiffWriteOptions w;
    w.aperio = true, w.objective_power = 40, w.mpp = 0.25, w.jpeg_quality = 80;
    slide40x = dir + "/synthetic40x.svs";
    io::write_tiff_pyramid(slide40x, synthetic_slide(big), w);
  }
  ~Pyramids() { std::filesystem::remove_all(dir); }
};
const Pyramids& pyramids() {
  static Pyramids p;
  return p;
}

void count_regions(benchmark::State& state) {
  state.counters["regions/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["threads"] = num_threads();
}

void BM_Decode(benchmark::State& state, bool forty) {
  const std::string& path = forty ? pyramids().slide40x : pyramids().slide20x;
  io::SlideOptions so;
  so.cache_bytes = 0;
  auto slide = io::Slide::open(path, so);
  const double mag = forty ? 40 : 20;
  int64_t i = 0;
  for (auto _ : state) {  // 20x: three regions across the tissue in turn
    const int64_t x = forty ? 0 : (i++ % 3) * kRegion, y = forty ? 0 : 1024;
    benchmark::DoNotOptimize(io::read_region_at_target_mag(*slide, x, y, mag, kRegion));
  }
  count_regions(state);
}

Tensor region_pixels() {
  SyntheticSlideOptions o;
  o.width = o.height = kRegion;
  return synthetic_slide(o);
}

void BM_Vit256Patches(benchmark::State& state) {
  auto vit = vit256_small(0, /*init=*/false);
  vit->eval();
  NoGradGuard ng;
  Generator gen(1);
  Tensor batch = ops::uniform({kBatch, 3, kPatch, kPatch}, -1, 1, gen);
  vit->forward(batch);  // warm-up: pos-embed cache, packing buffers
  constexpr int64_t batches = (kRegion / kPatch) * (kRegion / kPatch) / kBatch;
  for (auto _ : state)
    for (int64_t b = 0; b < batches; ++b) benchmark::DoNotOptimize(vit->forward(batch));
  count_regions(state);
}

void BM_Vit4kGrid(benchmark::State& state) {
  auto vit = vit4k_xs(0, /*init=*/false);
  vit->eval();
  NoGradGuard ng;
  Generator gen(2);
  Tensor grid = ops::uniform({1, 384, kRegion / kPatch, kRegion / kPatch}, -1, 1, gen);
  vit->forward(grid);
  for (auto _ : state) benchmark::DoNotOptimize(vit->forward(grid));
  count_regions(state);
}

void BM_RegionEncoder(benchmark::State& state) {
  RegionEncoderOptions ro;
  ro.batch = kBatch;
  ro.attention = AttentionMaps::None;
  RegionEncoder enc(vit256_small(0, false), vit4k_xs(0, false), ro);
  const Tensor region = region_pixels();
  double vit256 = 0, vit4k = 0;
  for (auto _ : state) {
    RegionEmbedding e = enc.encode(region);
    vit256 += e.seconds_vit256, vit4k += e.seconds_vit4k;
  }
  count_regions(state);
  const double n = static_cast<double>(state.iterations());
  state.counters["vit256_s"] = vit256 / n;
  state.counters["vit4k_s"] = vit4k / n;
}

// Not a region stage: the demo's slide (12288 x 6144) made in memory, then written as the JPEG pyramid.
void BM_SyntheticSlide(benchmark::State& state, bool write) {
  const std::string path = pyramids().dir + "/written.svs";
  for (auto _ : state) {
    if (write)
      write_synthetic_slide(path);
    else
      benchmark::DoNotOptimize(synthetic_slide());
  }
  state.counters["threads"] = num_threads();
}

}  // namespace

BENCHMARK_CAPTURE(BM_SyntheticSlide, make, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_SyntheticSlide, make_and_write, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Decode, 20x, false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);
BENCHMARK_CAPTURE(BM_Decode, 40x, true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);
BENCHMARK(BM_Vit256Patches)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Vit4kGrid)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RegionEncoder)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
