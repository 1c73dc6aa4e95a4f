#include "tensor/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tensor/error.h"

namespace hipt {
namespace {

thread_local bool t_in_region = false;

int default_threads() {
  if (const char* env = std::getenv("HIPT_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Workers sleep on a condition variable between jobs. Each job is a fresh object that workers
// pick up under the lock; they claim chunk indices from its atomic counter, so uneven chunks
// balance themselves, and a worker that wakes late only finds an exhausted counter.
struct Job {
  const std::function<void(int64_t)>* fn;
  int64_t chunks;
  std::atomic<int64_t> next{0};
  int64_t pending;  // guarded by Pool::m_
  std::exception_ptr error;
};

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() {
    std::lock_guard<std::mutex> one_job(job_mutex_);
    stop();
  }

  int size() const { return size_.load(); }

  // Waits for a running job to finish first: kernels on other threads read size() and run jobs.
  void resize(int threads) {
    std::lock_guard<std::mutex> one_job(job_mutex_);
    stop();
    stopping_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
    size_.store(threads);
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& chunk_fn) {
    std::lock_guard<std::mutex> one_job(job_mutex_);  // outside threads queue up here
    auto job = std::make_shared<Job>();
    job->fn = &chunk_fn;
    job->chunks = chunks;
    job->pending = chunks;
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = job;
      ++generation_;
    }
    cv_.notify_all();
    drain(*job);
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return job->pending == 0; });
    job_.reset();
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void work() {
    t_in_region = true;
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      if (job) drain(*job);
    }
  }

  void drain(Job& job) {
    for (;;) {
      int64_t i = job.next.fetch_add(1);
      if (i >= job.chunks) return;
      std::exception_ptr err;
      try {
        (*job.fn)(i);
      } catch (...) {
        err = std::current_exception();
      }
      std::lock_guard<std::mutex> lk(m_);
      if (err && !job.error) job.error = err;
      if (--job.pending == 0) done_cv_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex m_, job_mutex_;
  std::condition_variable cv_, done_cv_;
  std::shared_ptr<Job> job_;
  std::atomic<int> size_{1};
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  HIPT_CHECK(n >= 1, "set_num_threads: {} threads requested, need at least 1", n);
  HIPT_CHECK(!t_in_region, "set_num_threads: cannot resize the pool from inside a parallel region");
  if (n != pool().size()) pool().resize(n);
}

bool in_parallel_region() { return t_in_region; }

void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t n = end - begin;
  int64_t threads = t_in_region ? 1 : pool().size();
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1) {
    f(begin, end);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  std::function<void(int64_t)> chunk_fn = [&](int64_t i) {
    int64_t lo = begin + i * step, hi = std::min(end, lo + step);
    struct RegionFlag {  // restored even when f throws
      bool was = t_in_region;
      RegionFlag() { t_in_region = true; }
      ~RegionFlag() { t_in_region = was; }
    } flag;
    if (lo < hi) f(lo, hi);
  };
  pool().run(chunks, chunk_fn);
}

}  // namespace hipt
