// hipt's Slide::read_region_into against libopenslide's openslide_read_region, same files, same
// positions, same process (cases interleaved hipt/OpenSlide so both see the same background load).
//
//   bench_slide [google-benchmark flags] <slide> [<slide> ...]
//
// Cases per slide, all at level 0 with positions from a fixed-seed generator:
//   read256/fresh     256x256 at random tile-aligned positions, a new position every read (a
//                     sequence of 65536, so on a big slide nearly every read decodes new tiles)
//   read256/repeated  256x256 cycling over 8 of those positions (every read a cache hit)
//   region4096        4096x4096 (clipped to the level) at random tile-aligned positions
// Both libraries keep a 32 MiB decoded-tile cache (OpenSlide 3.4.1's fixed size; hipt is opened
// with cache_bytes = 32 MiB to match), plus hipt "nocache" variants (cache_bytes = 0: every read
// decodes). Threads: "/threads:2" is two concurrent callers on one open slide (OpenSlide's only
// way to use two cores); hipt "pool2" is one caller whose tile decode runs on the engine's pool of
// 2 threads. Outputs are reused buffers: hipt's RGBA, OpenSlide's premultiplied ARGB (no
// conversion timed). Counters: reads/s and MB/s of output pixels (4 bytes each), wall time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/slide.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

#ifdef HIPT_HAVE_OPENSLIDE
#include <openslide.h>
#endif

namespace {

constexpr size_t kCacheBytes = size_t{32} << 20;

struct Position {
  int64_t x, y;
};

struct Region {
  int64_t w, h;
  std::vector<Position> fresh;     // 65536 random tile-aligned positions
  std::vector<Position> repeated;  // the first 8 of them
};

// Random tile-aligned positions whose w x h region starts inside level 0.
Region make_region(const hipt::io::SlideLevel& l0, int64_t w, int64_t h, uint32_t seed) {
  Region r{std::min(w, l0.width), std::min(h, l0.height), {}, {}};
  const int64_t cols = std::max<int64_t>(1, (l0.width - r.w) / l0.tile_width + 1);
  const int64_t rows = std::max<int64_t>(1, (l0.height - r.h) / l0.tile_height + 1);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 65536; ++i)
    r.fresh.push_back({static_cast<int64_t>(rng() % static_cast<uint64_t>(cols)) * l0.tile_width,
                       static_cast<int64_t>(rng() % static_cast<uint64_t>(rows)) * l0.tile_height});
  r.repeated.assign(r.fresh.begin(), r.fresh.begin() + 8);
  return r;
}

struct SlideFiles {
  std::string path, name;
  // Decode on the caller (threads = 1) or on the pool (threads = 0); 32 MiB cache or none.
  std::unique_ptr<hipt::io::Slide> cached, nocache, pool_cached, pool_nocache;
#ifdef HIPT_HAVE_OPENSLIDE
  openslide_t* osr = nullptr;
#endif
  Region small, big;
};

void set_counters(benchmark::State& state, const Region& r) {
  const double reads = static_cast<double>(state.iterations());
  state.counters["reads/s"] = benchmark::Counter(reads, benchmark::Counter::kIsRate);
  state.counters["MB/s"] = benchmark::Counter(reads * static_cast<double>(r.w * r.h * 4) / 1e6,
                                              benchmark::Counter::kIsRate);
}

// Each thread walks its own stretch of the position list.
const Position& next(const std::vector<Position>& ps, size_t* i) { return ps[(*i)++ % ps.size()]; }

void bm_hipt(benchmark::State& state, const hipt::io::Slide* slide, const Region* r, bool repeated, int pool_threads) {
  if (pool_threads) hipt::set_num_threads(pool_threads);
  const std::vector<Position>& ps = repeated ? r->repeated : r->fresh;
  std::vector<uint8_t> out(static_cast<size_t>(r->w * r->h * 4));
  size_t i = static_cast<size_t>(state.thread_index()) * 20011;
  for (auto _ : state) {
    const Position& p = next(ps, &i);
    slide->read_region_into(out.data(), p.x, p.y, 0, r->w, r->h);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, *r);
}

#ifdef HIPT_HAVE_OPENSLIDE
void bm_openslide(benchmark::State& state, openslide_t* osr, const Region* r, bool repeated) {
  const std::vector<Position>& ps = repeated ? r->repeated : r->fresh;
  std::vector<uint32_t> out(static_cast<size_t>(r->w * r->h));
  size_t i = static_cast<size_t>(state.thread_index()) * 20011;
  for (auto _ : state) {
    const Position& p = next(ps, &i);
    openslide_read_region(osr, out.data(), p.x, p.y, 0, r->w, r->h);
    benchmark::DoNotOptimize(out.data());
  }
  if (const char* err = openslide_get_error(osr)) state.SkipWithError(err);
  set_counters(state, *r);
}
#endif

void register_slide(SlideFiles& f) {
  auto reg = [&](const std::string& name, auto&& fn, int threads) {
    benchmark::RegisterBenchmark(("slide/" + f.name + "/" + name).c_str(), fn)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->Threads(threads);
  };
  struct Case {
    const char* name;
    const Region* region;
    bool repeated;
  };
  const Case cases[] = {{"read256_fresh", &f.small, false},
                        {"read256_repeated", &f.small, true},
                        {"region4096", &f.big, false}};
  for (const Case& c : cases) {
    for (int threads : {1, 2}) {
      const std::string base = std::string(c.name) + "/";
      reg(base + "hipt", [&f, c](benchmark::State& s) { bm_hipt(s, f.cached.get(), c.region, c.repeated, 0); },
          threads);
#ifdef HIPT_HAVE_OPENSLIDE
      reg(base + "openslide", [&f, c](benchmark::State& s) { bm_openslide(s, f.osr, c.region, c.repeated); }, threads);
#endif
      if (!c.repeated)
        reg(base + "hipt_nocache", [&f, c](benchmark::State& s) { bm_hipt(s, f.nocache.get(), c.region, false, 0); },
            threads);
    }
    if (c.region == &f.big) {
      const std::string base = std::string(c.name) + "/";
      reg(base + "hipt_pool2",
          [&f, c](benchmark::State& s) { bm_hipt(s, f.pool_cached.get(), c.region, false, 2); }, 1);
      reg(base + "hipt_nocache_pool2",
          [&f, c](benchmark::State& s) { bm_hipt(s, f.pool_nocache.get(), c.region, false, 2); }, 1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_slide [benchmark flags] <slide> [<slide> ...]\n");
    return 2;
  }
#ifndef HIPT_HAVE_OPENSLIDE
  std::fprintf(stderr, "bench_slide: built without libopenslide (pkg-config openslide not found): hipt cases only\n");
#endif
  std::vector<std::unique_ptr<SlideFiles>> files;
  try {
    for (int a = 1; a < argc; ++a) {
      auto f = std::make_unique<SlideFiles>();
      f->path = argv[a];
      f->name = f->path.substr(f->path.find_last_of('/') + 1);
      auto open = [&](int threads, size_t cache_bytes) {
        hipt::io::SlideOptions o;
        o.threads = threads;
        o.cache_bytes = cache_bytes;
        return hipt::io::Slide::open(f->path, o);
      };
      f->cached = open(1, kCacheBytes);
      f->nocache = open(1, 0);
      f->pool_cached = open(0, kCacheBytes);
      f->pool_nocache = open(0, 0);
#ifdef HIPT_HAVE_OPENSLIDE
      f->osr = openslide_open(f->path.c_str());
      if (!f->osr || openslide_get_error(f->osr)) {
        std::fprintf(stderr, "error: openslide cannot open %s\n", f->path.c_str());
        return 1;
      }
#endif
      const hipt::io::SlideLevel& l0 = f->cached->level(0);
      f->small = make_region(l0, 256, 256, 1234);
      f->big = make_region(l0, 4096, 4096, 5678);
      files.push_back(std::move(f));
    }
  } catch (const hipt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  for (auto& f : files) register_slide(*f);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
#ifdef HIPT_HAVE_OPENSLIDE
  for (auto& f : files) openslide_close(f->osr);
#endif
  return 0;
}
