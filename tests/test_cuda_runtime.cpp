// The CUDA runtime layer: the caching allocator's logic on the CPU (a counting malloc backing),
// the errors asking for a GPU that is not there, and, on a GPU, copies between devices and dtypes,
// fill, and allocation reuse.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "cuda/caching_allocator.h"
#include "cuda/runtime.h"
#include "devices.h"
#include "nn/layers.h"
#include "testing.h"

using namespace hipt;
using hipt::cuda::CachingAllocator;
using hipt::testing::expect_error;

namespace {

// malloc/free with counts, an optional capacity (a simulated device memory) and failures on demand.
struct Backing {
  std::mutex mu;
  int mallocs = 0, frees = 0;
  int fail_next = 0;     // this many allocations fail before the next succeeds
  size_t capacity = 0;   // 0: unlimited
  size_t live_bytes = 0;
  std::map<void*, size_t> live;
  std::vector<size_t> sizes;  // each successful allocation's size

  std::unique_ptr<CachingAllocator> make(bool caching = true) {
    return std::make_unique<CachingAllocator>(
        [this](size_t n, int) -> void* {
          std::lock_guard<std::mutex> lock(mu);
          if (fail_next > 0) {
            --fail_next;
            return nullptr;
          }
          if (capacity && live_bytes + n > capacity) return nullptr;
          void* p = std::malloc(n);
          live.emplace(p, n);
          live_bytes += n;
          sizes.push_back(n);
          ++mallocs;
          return p;
        },
        [this](void* p, int) {
          std::lock_guard<std::mutex> lock(mu);
          auto it = live.find(p);
          ASSERT_NE(it, live.end());
          live_bytes -= it->second;
          live.erase(it);
          std::free(p);
          ++frees;
        },
        caching);
  }
};

constexpr size_t kMiB = size_t{1} << 20;

}  // namespace

TEST(CachingAllocator, SizeClasses) {
  EXPECT_EQ(CachingAllocator::round_size(0), 0u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(kMiB), kMiB);
  EXPECT_EQ(CachingAllocator::round_size(kMiB + 1), 2 * kMiB);
  EXPECT_EQ(CachingAllocator::round_size(3 * kMiB), 4 * kMiB);
  EXPECT_EQ(CachingAllocator::round_size(17 * kMiB), 18 * kMiB);   // 2 MiB steps up to 32 MiB
  EXPECT_EQ(CachingAllocator::round_size(33 * kMiB), 36 * kMiB);   // then 1/8 of the power of two
  EXPECT_EQ(CachingAllocator::round_size(1000 * kMiB), 1024 * kMiB);
  EXPECT_EQ(CachingAllocator::round_size(SIZE_MAX - 5), SIZE_MAX - 5);  // no overflow
  for (size_t n : {size_t{1}, size_t{700}, 5 * kMiB + 3, 100 * kMiB + 1, 3000 * kMiB}) {
    const size_t r = CachingAllocator::round_size(n);
    EXPECT_GE(r, n);
    EXPECT_LE(r - n, std::max<size_t>(2 * kMiB, n / 8)) << n;
  }
}

TEST(CachingAllocator, ReusesAFreedBlockOfTheSameClass) {
  Backing b;
  auto a = b.make();
  void* p = a->allocate(1000, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(b.mallocs, 1);
  EXPECT_EQ(b.sizes[0], 1024u);  // the class, not the request
  a->deallocate(p, 0);
  EXPECT_EQ(b.frees, 0);  // kept
  void* q = a->allocate(600, 0);  // same 1024-byte class
  EXPECT_EQ(q, p);
  EXPECT_EQ(b.mallocs, 1);
  void* r = a->allocate(2000, 0);  // another class: a new block
  EXPECT_NE(r, p);
  EXPECT_EQ(b.mallocs, 2);

  const auto s = a->stats();
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.cache_hits, 1u);
  EXPECT_EQ(s.device_mallocs, 2u);
  EXPECT_EQ(s.device_frees, 0u);
  EXPECT_EQ(s.bytes_in_use, 1024u + 2048u);
  EXPECT_EQ(s.bytes_cached, 0u);
  EXPECT_EQ(s.peak_bytes_in_use, 1024u + 2048u);
  a->deallocate(q, 0);
  a->deallocate(r, 0);
  EXPECT_EQ(a->stats().bytes_in_use, 0u);
  EXPECT_EQ(a->stats().bytes_cached, 1024u + 2048u);
  EXPECT_EQ(a->stats().peak_bytes_in_use, 1024u + 2048u);
  a->reset_peak();
  EXPECT_EQ(a->stats().peak_bytes_in_use, 0u);
}

TEST(CachingAllocator, DevicesKeepSeparateCaches) {
  Backing b;
  auto a = b.make();
  void* p = a->allocate(100, 0);
  a->deallocate(p, 0);
  void* q = a->allocate(100, 1);  // cuda:1 cannot use cuda:0's block
  EXPECT_EQ(b.mallocs, 2);
  EXPECT_EQ(a->stats(0).bytes_cached, 512u);
  EXPECT_EQ(a->stats(1).bytes_in_use, 512u);
  a->deallocate(q, 1);
  a->release_cached(0);
  EXPECT_EQ(b.frees, 1);
  EXPECT_EQ(a->stats(1).bytes_cached, 512u);
}

TEST(CachingAllocator, ReleaseCachedReturnsOnlyFreeBlocks) {
  Backing b;
  auto a = b.make();
  void* keep = a->allocate(3 * kMiB, 0);
  for (size_t n : {size_t{10}, size_t{5000}, 2 * kMiB}) a->deallocate(a->allocate(n, 0), 0);
  EXPECT_EQ(b.mallocs, 4);
  a->release_cached();
  EXPECT_EQ(b.frees, 3);
  EXPECT_EQ(b.live.size(), 1u);
  EXPECT_EQ(a->stats().bytes_cached, 0u);
  EXPECT_EQ(a->stats().device_frees, 3u);
  EXPECT_EQ(a->stats().bytes_in_use, 4 * kMiB);
  a->deallocate(keep, 0);
  a.reset();  // the destructor releases the cache
  EXPECT_EQ(b.frees, 4);
  EXPECT_TRUE(b.live.empty());
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheAndRetriesOnce) {
  Backing b;
  auto a = b.make();
  a->deallocate(a->allocate(2048, 0), 0);
  a->deallocate(a->allocate(4096, 0), 0);
  b.fail_next = 1;
  void* p = a->allocate(1500, 0);  // fails once, succeeds after the release
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(b.frees, 2);
  EXPECT_EQ(a->stats().bytes_cached, 0u);
  EXPECT_EQ(a->stats().bytes_in_use, 1536u);
  a->deallocate(p, 0);
}

TEST(CachingAllocator, OutOfMemoryAfterTheRetryNamesDeviceAndSizes) {
  Backing b;
  b.capacity = 8192;
  auto a = b.make();
  void* live = a->allocate(3000, 2);  // 3072 in use
  a->deallocate(a->allocate(4096, 2), 2);  // 4096 cached
  expect_error([&] { a->allocate(6000, 2); },
               {"out of memory on cuda:2", "asked for 6000 bytes", "3072 in use", "4096 cached", "retried"});
  EXPECT_EQ(a->stats(2).bytes_cached, 0u);  // released on the way
  EXPECT_EQ(b.frees, 1);
  // Within what is left, allocation works again.
  void* p = a->allocate(5000, 2);
  a->deallocate(p, 2);
  a->deallocate(live, 2);
}

TEST(CachingAllocator, WithoutCachingEveryCallGoesToTheBacking) {
  Backing b;
  auto a = b.make(/*caching=*/false);
  EXPECT_FALSE(a->caching());
  void* p = a->allocate(1000, 0);
  EXPECT_EQ(b.sizes.back(), 1000u);  // the exact size, for memory checkers
  a->deallocate(p, 0);
  EXPECT_EQ(b.frees, 1);
  void* q = a->allocate(1000, 0);
  EXPECT_EQ(b.mallocs, 2);
  a->deallocate(q, 0);
  const auto s = a->stats();
  EXPECT_EQ(s.device_mallocs, 2u);
  EXPECT_EQ(s.device_frees, 2u);
  EXPECT_EQ(s.cache_hits, 0u);
  EXPECT_EQ(s.bytes_cached, 0u);
  EXPECT_EQ(s.peak_bytes_in_use, 1000u);
  b.fail_next = 1;
  expect_error([&] { a->allocate(10, 0); }, {"out of memory on cuda:0", "asked for 10 bytes", "0 cached"});
  EXPECT_EQ(b.fail_next, 0);  // nothing cached, so no retry
}

TEST(CachingAllocator, EnvironmentVariableTurnsCachingOff) {
  const char* old = std::getenv("HIPT_NO_CACHING_ALLOCATOR");
  const std::string saved = old ? old : "";
  ::unsetenv("HIPT_NO_CACHING_ALLOCATOR");
  EXPECT_FALSE(CachingAllocator::disabled_by_environment());
  ::setenv("HIPT_NO_CACHING_ALLOCATOR", "1", 1);
  EXPECT_TRUE(CachingAllocator::disabled_by_environment());
  ::setenv("HIPT_NO_CACHING_ALLOCATOR", "0", 1);
  EXPECT_FALSE(CachingAllocator::disabled_by_environment());
  if (old) ::setenv("HIPT_NO_CACHING_ALLOCATOR", saved.c_str(), 1);
  else ::unsetenv("HIPT_NO_CACHING_ALLOCATOR");
}

TEST(CachingAllocator, ZeroBytesAndBadFrees) {
  Backing b;
  auto a = b.make();
  EXPECT_EQ(a->allocate(0, 0), nullptr);
  a->deallocate(nullptr, 0);
  EXPECT_EQ(b.mallocs, 0);
  EXPECT_EQ(a->stats().requests, 0u);
  int x = 0;
  expect_error([&] { a->deallocate(&x, 0); }, {"cuda allocator", "did not allocate", "cuda:0"});
  void* p = a->allocate(8, 0);
  expect_error([&] { a->deallocate(p, 1); }, {"cuda:1"});  // freed on the wrong device
  a->deallocate(p, 0);
}

TEST(CachingAllocator, ThreadsShareItSafely) {
  Backing b;
  auto a = b.make();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        void* p = a->allocate(static_cast<size_t>(100 + (i % 7) * 700 + t), 0);
        std::memset(p, t, 100);
        a->deallocate(p, 0);
      }
    });
  for (auto& th : threads) th.join();
  const auto s = a->stats();
  EXPECT_EQ(s.requests, 2000u);
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.cache_hits + s.device_mallocs, 2000u);
  EXPECT_LE(s.device_mallocs, 4u * 7u);  // at most one block per class and thread
}

// ---------------------------------------------------------------- without a GPU

namespace {
// The reason an allocation on cuda gives where it cannot work.
std::string expected_reason() { return cuda::compiled() ? cuda::why_no_gpu() : "built without CUDA"; }
void expect_one_line_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected hipt::Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_THAT(what, ::testing::HasSubstr(p));
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}
}  // namespace

TEST(CudaRuntime, AllocatingWithoutAGpuNamesTheDeviceAndTheReason) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is usable here";
  ASSERT_FALSE(cuda::why_no_gpu().empty());
  expect_one_line_error([] { ops::empty({2}, DType::F32, Device{DeviceType::CUDA, 0}); }, {"cuda:0", expected_reason()});
  expect_one_line_error([] { ops::zeros({2, 3}, DType::F64, Device{DeviceType::CUDA, 0}); }, {"cuda:0", expected_reason()});
  expect_one_line_error([] { hipt::testing::random_tensor({2, 3}).to(Device{DeviceType::CUDA, 0}); },
                        {"cuda:0", expected_reason()});
  if (cuda::compiled()) {
    expect_one_line_error([] { ops::empty({2}, DType::F32, Device{DeviceType::CUDA, 0}); }, {"no usable GPU"});
  } else {
    EXPECT_EQ(cuda::allocator_stats().device_mallocs, 0u);
    EXPECT_EQ(cuda::allocator_stats().requests, 0u);
  }
}

TEST(CudaRuntime, ADeviceBeyondTheCountIsNamed) {
  const int index = cuda::device_count() + 3;
  const std::string name = "cuda:" + std::to_string(index);
  expect_one_line_error([&] { ops::empty({4}, DType::F32, Device{DeviceType::CUDA, index}); }, {name});
  if (cuda::compiled() && cuda::device_count() > 0) {
    EXPECT_THAT(cuda::why_unusable(index), ::testing::HasSubstr("no device " + name));
  }
}

TEST(CudaRuntime, SynchronizeOnTheCpuIsANoOp) {
  cuda::synchronize(Device{});
  cuda::release_cached_memory();  // harmless with nothing cached
  cuda::reset_allocator_peak();
  const auto s = cuda::allocator_stats();
  EXPECT_EQ(s.bytes_cached, 0u);
  EXPECT_EQ(s.peak_bytes_in_use, s.bytes_in_use);
}

// ---------------------------------------------------------------- on a device

namespace {

const DType kAllDtypes[] = {DType::F32, DType::F64, DType::F16, DType::BF16,
                            DType::I32, DType::I64, DType::U8,  DType::Bool};

// Values every dtype holds: small integers and halves (exact in f16/bf16), negatives only where
// signed, some zeros for bool.
Tensor sample(const Shape& shape, DType dtype, uint32_t seed) {
  const bool unsigned_ = dtype == DType::U8 || dtype == DType::Bool;
  Tensor x = hipt::testing::random_tensor(shape, DType::F64, seed, unsigned_ ? 0 : -60, 60);
  std::vector<double> v = ops::to_vector<double>(x);
  for (double& e : v) e = std::round(e * 2) / 2;
  if (!is_floating(dtype))
    for (double& e : v) e = std::trunc(e);
  return ops::cast(ops::from_vector(v, shape), dtype);
}

void expect_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_EQ(got.dtype(), want.dtype()) << what;
  const auto g = ops::to_vector<double>(got), w = ops::to_vector<double>(want);
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i]))) && bad++ < 5)
      ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", want " << w[i];
}

}  // namespace

class CudaCopy : public hipt::testing::OnDevice {};

TEST_P(CudaCopy, RoundTripEveryDtype) {
  for (DType dt : kAllDtypes) {
    const Tensor x = sample({3, 5, 7}, dt, 3);
    const Tensor d = x.to(device());
    EXPECT_EQ(d.device(), device());
    EXPECT_EQ(d.dtype(), dt);
    expect_equal(d.to(Device{}), x, std::string(dtype_name(dt)));
  }
}

TEST_P(CudaCopy, LargeRoundTripCrossesTheStagingBufferInChunks) {
  // 10.5 MB: more than two staging halves, with a ragged last chunk.
  const int64_t n = 2'625'001;
  const Tensor x = hipt::testing::random_tensor({n}, DType::F32, 5);
  const Tensor back = x.to(device()).to(Device{});
  EXPECT_EQ(std::memcmp(back.raw_data(), x.raw_data(), static_cast<size_t>(n) * 4), 0);
  // Non-contiguous on both ends, and a dtype change on the way.
  const Tensor xt = ops::transpose(ops::reshape(x.to(device()), {1, n}), 0, 1);  // [n, 1] with strides (1, n)
  Tensor dst = ops::transpose(ops::empty({1, n}, DType::F64), 0, 1);
  ops::copy_(dst, xt);
  expect_equal(dst, ops::cast(ops::reshape(x, {n, 1}), DType::F64), "f32 device -> strided f64 host");
}

TEST_P(CudaCopy, NonContiguousSourceAndDestination) {
  for (DType dt : kAllDtypes) {
    const std::string what(dtype_name(dt));
    const Tensor x = sample({4, 6, 5}, dt, 7);
    const Tensor xp = ops::permute(x, {2, 0, 1});  // non-contiguous host source
    const Tensor d = xp.to(device());
    expect_equal(d.to(Device{}), ops::contiguous(xp), what + " permuted source");

    // A strided device destination: every other column of a wider tensor.
    Tensor wide = ops::zeros({5, 4, 12}, dt, device());
    Tensor cols = ops::slice(wide, 2, 0, 12, 2);
    ops::copy_(cols, xp);
    expect_equal(cols.to(Device{}), ops::contiguous(xp), what + " host -> strided device");
    const Tensor other = ops::slice(wide, 2, 1, 12, 2).to(Device{});
    expect_equal(other, ops::zeros({5, 4, 6}, dt), what + " the columns between stay zero");

    // A strided host destination from a strided device source.
    Tensor host = ops::zeros({6, 5, 4}, dt);
    Tensor host_view = ops::permute(host, {1, 2, 0});  // [5, 4, 6]
    ops::copy_(host_view, cols);
    expect_equal(host_view, ops::contiguous(xp), what + " strided device -> strided host");
  }
}

TEST_P(CudaCopy, DtypeConversionsMatchTheCpu) {
  std::vector<double> tricky = {0.0, -0.0, 1.0, -1.5, 2.5, 65504.0, 70000.0, 1e-8, 3.14159265358979, -7.0,
                                0.333333333333, 255.0, 1.00048828125, 1.0009765625, 100.5, -3.0};
  // Into u8 only what it holds: a float outside [0, 256) has no defined conversion in C++.
  std::vector<double> tricky_u8 = {0.0, -0.0, 1.0, 1.5, 2.5, 255.0, 254.75, 0.25, 100.5, 7.0, 3.99, 128.0,
                                   1.00048828125, 64.5, 0.5, 200.0};
  const Tensor base = ops::from_vector(tricky, {4, 4}), base_u8 = ops::from_vector(tricky_u8, {4, 4});
  for (DType from : kAllDtypes) {
    // Integer and bool sources: whole values in [-60, 60) (non-negative for u8 and bool).
    for (DType to : kAllDtypes) {
      const Tensor src_cpu = !is_floating(from) ? sample({4, 4}, from, 11)
                             : to == DType::U8  ? ops::cast(base_u8, from)
                                                : ops::cast(base, from);
      const Tensor src_dev = src_cpu.to(device());
      const std::string what = std::string(dtype_name(from)) + " -> " + std::string(dtype_name(to));
      expect_equal(ops::cast(src_dev, to).to(Device{}), ops::cast(src_cpu, to), what);
      // Transposed, so the strided kernel runs too.
      expect_equal(ops::contiguous(ops::cast(ops::transpose(src_dev, 0, 1), to)).to(Device{}),
                   ops::cast(ops::transpose(src_cpu, 0, 1), to), what + " transposed");
      // Across devices with a change of dtype, both ways.
      Tensor d = ops::empty({4, 4}, to, device());
      ops::copy_(d, src_cpu);
      expect_equal(d.to(Device{}), ops::cast(src_cpu, to), what + " host -> device");
      Tensor h = ops::empty({4, 4}, to);
      ops::copy_(h, src_dev);
      expect_equal(h, ops::cast(src_cpu, to), what + " device -> host");
    }
  }
}

TEST_P(CudaCopy, BroadcastCopyOnTheDevice) {
  const Tensor row = hipt::testing::random_tensor({5}, DType::F32, 2);
  Tensor dst = ops::empty({3, 5}, DType::BF16, device());
  ops::copy_(dst, row.to(device()));
  expect_equal(dst.to(Device{}), ops::cast(ops::expand(row, {3, 5}), DType::BF16), "broadcast row");
  // An expanded (stride 0) source crossing devices.
  const Tensor col = ops::expand(hipt::testing::random_tensor({4, 1}, DType::F64, 3), {4, 6});
  expect_equal(col.to(device()).to(Device{}), ops::contiguous(col), "expanded source");
}

TEST_P(CudaCopy, FillEveryDtypeAndLayout) {
  for (DType dt : kAllDtypes) {
    for (double v : {0.0, -0.0, 1.0, 2.5, -3.0, 0.1}) {
      if (dt == DType::U8 && v < 0) continue;  // no defined conversion
      const std::string what = std::string(dtype_name(dt)) + " fill " + std::to_string(v);
      Tensor full = ops::full({7, 9}, 5.0, dt, device());
      ops::fill_(full, v);
      expect_equal(full.to(Device{}), ops::full({7, 9}, v, dt), what);
      Tensor strided = ops::full({7, 9}, 5.0, dt, device());
      ops::fill_(ops::slice(ops::transpose(strided, 0, 1), 0, 1, 9, 3), v);
      Tensor want = ops::full({7, 9}, 5.0, dt);
      ops::fill_(ops::slice(ops::transpose(want, 0, 1), 0, 1, 9, 3), v);
      expect_equal(strided.to(Device{}), want, what + " strided");
    }
  }
  const Tensor z = ops::zeros({1000}, DType::F32, device());
  EXPECT_EQ(ops::to_vector<float>(z), std::vector<float>(1000, 0.0f));
  const Tensor negz = ops::full({3}, -0.0, DType::F32, device());
  for (float f : ops::to_vector<float>(negz)) EXPECT_TRUE(std::signbit(f));
}

TEST_P(CudaCopy, ItemAndToVector) {
  const Tensor s = ops::full({}, 2.75, DType::F64, device());
  EXPECT_EQ(s.item(), 2.75);
  EXPECT_EQ(ops::full({1, 1}, 3.0, DType::BF16, device()).item(), 3.0);
  const Tensor x = ops::from_vector<int32_t>({1, -2, 3, -4, 5, -6}, {2, 3});
  const Tensor d = x.to(device());
  EXPECT_EQ(ops::to_vector<int32_t>(d), (std::vector<int32_t>{1, -2, 3, -4, 5, -6}));
  EXPECT_EQ(ops::to_vector<int32_t>(ops::transpose(d, 0, 1)), (std::vector<int32_t>{1, -4, -2, 5, 3, -6}));
  EXPECT_EQ(ops::to_vector<double>(d), (std::vector<double>{1, -2, 3, -4, 5, -6}));
}

TEST_P(CudaCopy, ModuleToRoundTripKeepsValuesAndHandles) {
  Generator gen(4);
  nn::Linear lin(6, 3, true, gen);
  const std::vector<float> w0 = ops::to_vector<float>(lin.weight), b0 = ops::to_vector<float>(lin.bias);
  const Tensor handle = lin.weight;  // taken before the move
  lin.to(device());
  EXPECT_EQ(lin.weight.device(), device());
  EXPECT_EQ(handle.device(), device());
  EXPECT_EQ(lin.bias.device(), device());
  EXPECT_EQ(ops::to_vector<float>(handle), w0);
  lin.to(Device{});
  EXPECT_EQ(handle.device(), Device{});
  EXPECT_EQ(ops::to_vector<float>(lin.weight), w0);
  EXPECT_EQ(ops::to_vector<float>(lin.bias), b0);
}

TEST_P(CudaCopy, RepeatingAnAllocationPatternMakesNoNewDeviceMalloc) {
  if (!on_gpu()) GTEST_SKIP() << "the device allocator's cache";
  if (CachingAllocator::disabled_by_environment()) GTEST_SKIP() << "HIPT_NO_CACHING_ALLOCATOR is set";
  auto pattern = [&] {
    std::vector<Tensor> keep;
    for (int64_t n : {1, 100, 4097, 300000, 1 << 22}) keep.push_back(ops::zeros({n}, DType::F32, device()));
    const Tensor t = hipt::testing::random_tensor({64, 33}).to(device());
    return ops::to_vector<float>(ops::contiguous(ops::transpose(t, 0, 1))).size();
  };
  pattern();  // warm-up
  const auto before = cuda::allocator_stats();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pattern(), 64u * 33u);
  const auto after = cuda::allocator_stats();
  EXPECT_EQ(after.device_mallocs, before.device_mallocs);
  EXPECT_GT(after.cache_hits, before.cache_hits);
  EXPECT_EQ(after.requests - before.requests, after.cache_hits - before.cache_hits);
  EXPECT_GE(after.peak_bytes_in_use, size_t{1} << 24);
  cuda::release_cached_memory();
  EXPECT_EQ(cuda::allocator_stats().bytes_cached, 0u);
}

TEST_P(CudaCopy, OutOfDeviceMemoryIsOneClearError) {
  if (!on_gpu()) GTEST_SKIP() << "device memory";
  // 256 TiB: no GPU has it; the cache is released, the allocation retried, then refused.
  expect_error([&] { ops::empty({int64_t{1} << 48}, DType::U8, device()); },
               {"out of memory on cuda:0", "asked for"});
  Tensor fine = ops::ones({10}, DType::F32, device());  // the device still works afterwards
  EXPECT_EQ(fine.item() + ops::slice(fine, 0, 9, 10).item(), 2.0);
}

HIPT_INSTANTIATE_ON_DEVICES(CudaCopy);
