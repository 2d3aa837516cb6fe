// Per-CPU caches (the rseq strategy): which cache path is active, reuse on one
// CPU, double frees of cached blocks, cross-CPU flushes while other threads
// run, and threads migrated or preempted inside sequences.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/runtime/runtime.h"
#include "npool.h"

namespace {

np_stats Stats(np_allocator *a) {
  np_stats s;
  np_allocator_stats(a, &s);
  return s;
}

bool PinTo(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(0, sizeof one, &one) == 0 && sched_getcpu() == cpu;
}

// Lets the calling thread run on every CPU again.
void UnpinAll() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int i = 0; i < CPU_SETSIZE; i++) CPU_SET(i, &all);
  sched_setaffinity(0, sizeof all, &all);
}

bool RseqTurnedOff() {
  const char *t = getenv("GLIBC_TUNABLES");
  return t && strstr(t, "glibc.pthread.rseq=0");
}

class CpuCache : public ::testing::Test {
 protected:
  void SetUp() override {
    np_config c = np_config_default();
    c.arenas = 2;
    ASSERT_EQ(np_allocator_create(&c, &a_), NP_OK);
    mode_ = Stats(a_).cache_mode;
  }
  void TearDown() override { np_allocator_destroy(a_); }
  bool PerCpu() const { return mode_ == "per-CPU"; }
  np_allocator *a_ = nullptr;
  std::string mode_;
};

// The stats say which cache path runs, and why per-CPU caches are off.
TEST_F(CpuCache, ModeIsReported) {
  np_stats s = Stats(a_);
  if (std::string(np_strategy_name()) != "rseq") {
    EXPECT_EQ(mode_, "per-thread");
    EXPECT_STREQ(s.per_cpu_unavailable, "");
  } else if (RseqTurnedOff()) {
    EXPECT_EQ(mode_, "per-thread (per-CPU fallback)");
    EXPECT_NE(std::string(s.per_cpu_unavailable).find("rseq"), std::string::npos)
        << s.per_cpu_unavailable;
  } else {
    EXPECT_EQ(mode_, "per-CPU") << s.per_cpu_unavailable;
  }
}

// Pinned to one CPU, a freed block is the next one handed out.
TEST_F(CpuCache, ReuseOnOneCpu) {
  if (!PerCpu()) GTEST_SKIP() << "per-CPU caches not active (" << mode_ << ")";
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  void *p = np_alloc(a_, 64);
  ASSERT_EQ(np_free(a_, p), NP_OK);
  EXPECT_EQ(np_alloc(a_, 64), p);
  ASSERT_EQ(np_free(a_, p), NP_OK);
  EXPECT_EQ(np_free(a_, p), NP_ERR_DOUBLE_FREE) << "a block in a per-CPU cache";
  EXPECT_EQ(np_usable_size(a_, p), 0u);
  np_stats s = Stats(a_);
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_GT(s.cached_bytes, 0u);  // the refill batch and the freed block
  np_thread_cache_flush(a_);
  s = Stats(a_);
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(s.small.active_bytes, 0u);
  EXPECT_EQ(s.small.allocations, s.small.deallocations);
  UnpinAll();
}

// A CPU under maintenance (np_percpu_lock_cpu: every stack stopped, the
// sequences on it restarted) gives no block out and takes none in: an
// allocation and a free there go to the arenas. Unlocking gives each stack
// its capacity back, and the sequences use it again.
TEST_F(CpuCache, StoppedCpuTakesNothingAndKeepsItsCapacities) {
  if (!PerCpu()) GTEST_SKIP() << "per-CPU caches not active (" << mode_ << ")";
  const int cpu = sched_getcpu();
  ASSERT_TRUE(PinTo(cpu));
  np_percpu *pc = &a_->caches.percpu;
  const unsigned idx = np_size_to_index(&a_->pool.sc, 64);
  void *p = np_alloc(a_, 64);  // a refill: the stack holds the rest of the batch
  ASSERT_EQ(np_free(a_, p), NP_OK);
  np_percpu_stack *s = &np_percpu_stacks_of(pc, (unsigned)cpu)[idx];
  const uint32_t count = np_percpu_count(s);
  const uint32_t cap = np_percpu_cap(s);
  ASSERT_GT(count, 1u);
  ASSERT_GT(cap, 0u);
  if (np_percpu_lock_cpu(pc, (unsigned)cpu) != 0) GTEST_SKIP() << "no membarrier RSEQ here";
  EXPECT_EQ(s->end, 0u);
  EXPECT_EQ(s->floor, NP_PERCPU_STOPPED_FLOOR);
  EXPECT_EQ(np_percpu_cap(s), 0u);
  void *q = np_alloc(a_, 64);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p) << "the stopped stack's top block";
  EXPECT_EQ(np_free(a_, q), NP_OK);
  EXPECT_EQ(np_free(a_, q), NP_ERR_DOUBLE_FREE);
  EXPECT_EQ(np_percpu_count(s), count) << "nothing in or out";
  np_percpu_unlock_cpu(pc, (unsigned)cpu);
  EXPECT_EQ(np_percpu_cap(s), cap);
  EXPECT_EQ(s->floor, s->begin);
  EXPECT_EQ(np_alloc(a_, 64), p) << "the stack's top again";
  EXPECT_EQ(np_percpu_count(s), count - 1);
  ASSERT_EQ(np_free(a_, p), NP_OK);
  np_thread_cache_flush(a_);
  np_stats st = Stats(a_);
  EXPECT_EQ(st.cached_bytes, 0u);
  EXPECT_EQ(st.small.active, 0u);
  EXPECT_EQ(st.small.allocations, st.small.deallocations);
  UnpinAll();
}

// Many threads on few cores hammer one size class, migrating themselves
// between CPUs and yielding while they hold blocks, while another thread keeps
// flushing every CPU's cache. Every block carries its holder's mark and is
// checked after a yield; at the end the user-side counts match the stats.
TEST_F(CpuCache, MigrationPreemptionAndFlushesNeverCorrupt) {
  const int threads = 8;
  const int ops = 20000;
  unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> allocs{0}, corrupt{0};
  std::thread flusher([&] {
    while (!stop.load()) {
      np_thread_cache_flush(a_);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      uint64_t mark = (uint64_t)(t + 1) << 40;
      void *held[4] = {};
      for (int i = 0; i < ops; i++) {
        if (i % 97 == 0) {  // move to another CPU now and then
          cpu_set_t one;
          CPU_ZERO(&one);
          CPU_SET((t + i / 97) % ncpu, &one);
          sched_setaffinity(0, sizeof one, &one);
        }
        int slot = i % 4;
        if (held[slot]) {
          uint64_t *w = (uint64_t *)held[slot];
          if (w[0] != mark + (uint64_t)i - 4 || w[7] != ~(mark + (uint64_t)i - 4)) corrupt++;
          if (np_free(a_, held[slot]) != NP_OK) corrupt++;
        }
        uint64_t *w = (uint64_t *)np_alloc(a_, 64);
        if (w == nullptr) {
          corrupt++;
          held[slot] = nullptr;
          continue;
        }
        allocs++;
        w[0] = mark + (uint64_t)i;
        w[7] = ~(mark + (uint64_t)i);
        held[slot] = w;
        if (i % 16 == 0) sched_yield();
      }
      for (void *p : held)
        if (p && np_free(a_, p) != NP_OK) corrupt++;
    });
  for (auto &t : ts) t.join();
  stop = true;
  flusher.join();
  EXPECT_EQ(corrupt.load(), 0u);
  np_thread_cache_flush(a_);
  np_stats s = Stats(a_);
  EXPECT_EQ(s.small.allocations, allocs.load()) << mode_;
  EXPECT_EQ(s.small.deallocations, allocs.load());
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.small.active_bytes, 0u);
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(s.invalid_frees, 0u);
}

// Threads moved between CPUs by another thread (sched_setaffinity on their
// thread ids, at any point of a burst), forks while all of this runs, and
// half of the blocks freed by a thread other than the one that wrote them
// (through a shared mailbox). Every block carries its writer's pattern over
// its whole size, checked before its free; no block is handed out twice
// while live (the mailbox would see it); every child of a fork allocates,
// checks and frees on its own and exits 0; at the end the stats balance.
TEST_F(CpuCache, FlipsFromAnotherThreadForksAndCrossFreesNeverCorrupt) {
  const int workers = 4, rounds = 600, burst = 64;
  unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> corrupt{0};
  std::vector<std::atomic<pid_t>> tids(workers);
  for (auto &t : tids) t = 0;
  std::vector<std::atomic<void *>> mailbox(256);
  for (auto &m : mailbox) m = nullptr;
  auto fill = [](void *p, size_t n, uint64_t v) {
    for (size_t i = 0; i < n / 8; i++) static_cast<uint64_t *>(p)[i] = v + i;
  };
  auto intact = [](const void *p, size_t n, uint64_t v) {
    for (size_t i = 0; i < n / 8; i++)
      if (static_cast<const uint64_t *>(p)[i] != v + i) return false;
    return true;
  };
  // A block's size and pattern seed travel in its first two words' image: the
  // size is a function of the seed.
  auto size_of = [](uint64_t seed) { return (size_t)16 << (seed % 7); };  // 16 B .. 1 KiB
  std::vector<std::thread> ts;
  for (int t = 0; t < workers; t++)
    ts.emplace_back([&, t] {
      tids[t] = (pid_t)syscall(SYS_gettid);
      uint64_t seed = (uint64_t)(t + 1) << 48;
      std::vector<std::pair<void *, uint64_t>> held;
      for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < burst; i++) {
          uint64_t s = ++seed;
          void *p = np_alloc(a_, size_of(s));
          if (p == nullptr) {
            corrupt++;
            continue;
          }
          fill(p, size_of(s), s);
          held.emplace_back(p, s);
        }
        for (size_t i = 0; i < held.size(); i++) {
          auto [p, s] = held[i];
          if (!intact(p, size_of(s), s)) corrupt++;
          if (i % 2) {  // through the mailbox: another thread frees it
            static_cast<uint64_t *>(p)[0] = s;  // (the seed, for the taker: the pattern's first word)
            void *old = mailbox[(s * 0x9e3779b97f4a7c15ull) >> 56].exchange(p);
            if (old) {
              uint64_t os = static_cast<uint64_t *>(old)[0];
              if (!intact(static_cast<uint64_t *>(old) + 1, size_of(os) - 8, os + 1)) corrupt++;
              if (np_free(a_, old) != NP_OK) corrupt++;
            }
          } else if (np_free(a_, p) != NP_OK) {
            corrupt++;
          }
        }
        held.clear();
      }
    });
  std::thread flipper([&] {
    for (unsigned i = 0; !stop.load(); i++) {
      for (int t = 0; t < workers; t++) {
        pid_t tid = tids[t].load();
        if (tid == 0) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET((i + (unsigned)t) % ncpu, &one);
        sched_setaffinity(tid, sizeof one, &one);  // (fails once the thread exited: fine)
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  int forks = 0, children_failed = 0;
  std::thread forker([&] {
    while (!stop.load() && forks < 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      pid_t pid = fork();
      if (pid == 0) {  // the child: its own traffic through every path it still has
        // (no malloc here: another thread may have held a sanitizer's or libc's
        // allocator lock at the fork)
        static void *v[500];
        for (uint64_t i = 0; i < 500; i++) {
          void *p = np_alloc(a_, size_of(i));
          if (p == nullptr) _exit(2);
          fill(p, size_of(i), i);
          v[i] = p;
        }
        for (uint64_t i = 0; i < 500; i++) {
          if (!intact(v[i], size_of(i), i)) _exit(3);
          if (np_free(a_, v[i]) != NP_OK) _exit(4);
        }
        _exit(0);
      }
      if (pid < 0) break;
      int status = 0;
      if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        children_failed++;
      forks++;
    }
  });
  for (auto &t : ts) t.join();
  stop = true;
  flipper.join();
  forker.join();
  UnpinAll();
  for (auto &m : mailbox) {  // what is still waiting there
    void *p = m.exchange(nullptr);
    if (p == nullptr) continue;
    uint64_t s = static_cast<uint64_t *>(p)[0];
    if (!intact(static_cast<uint64_t *>(p) + 1, size_of(s) - 8, s + 1)) corrupt++;
    if (np_free(a_, p) != NP_OK) corrupt++;
  }
  EXPECT_EQ(corrupt.load(), 0u) << mode_;
  EXPECT_GT(forks, 0);
  EXPECT_EQ(children_failed, 0) << "of " << forks << " forks";
  np_thread_cache_flush(a_);
  np_stats s = Stats(a_);
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.invalid_frees, 0u);
  EXPECT_EQ(s.small.allocations, s.small.deallocations);
}

// A CPU that no thread trims for dirty_decay_ms is emptied by another CPU's
// trim: blocks freed on CPU B while nothing runs there later go back to the
// arena (their pages can be purged) instead of waiting for B's next thread.
TEST_F(CpuCache, IdleCpusCachesDecay) {
  std::vector<int> cpus;
  cpu_set_t old;
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  for (int i = 0; i < CPU_SETSIZE && cpus.size() < 2; i++)
    if (CPU_ISSET(i, &old)) cpus.push_back(i);
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  for (unsigned decay_ms : {30u, 3600000u}) {
    SCOPED_TRACE(decay_ms);
    np_config c = np_config_default();
    c.arenas = 1;
    c.dirty_decay_ms = decay_ms;
    c.cache_trim_interval = 64;
    np_allocator *a = nullptr;
    ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
    if (std::string(Stats(a).cache_mode) != "per-CPU") {
      np_allocator_destroy(a);
      GTEST_SKIP() << "per-CPU caches not active";
    }
    ASSERT_TRUE(PinTo(cpus[1]));
    std::vector<void *> v(200);
    for (void *&p : v) ASSERT_NE(p = np_alloc(a, 64), nullptr);
    for (void *p : v) ASSERT_EQ(np_free(a, p), NP_OK);  // on B's stacks
    ASSERT_TRUE(PinTo(cpus[0]));
    uint64_t on_b = Stats(a).cpu_cached_bytes;
    EXPECT_GE(on_b, 200u * 64);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (int i = 0; i < 64 * 8; i++) ASSERT_EQ(np_free(a, np_alloc(a, 1024)), NP_OK);  // trims on A
    np_stats s = Stats(a);
    if (decay_ms < 1000) EXPECT_LT(s.cpu_cached_bytes, 200u * 64) << "B was idle past the decay: emptied";
    else EXPECT_GE(s.cpu_cached_bytes, on_b) << "B within the decay: kept";
    // Whatever happened, every block is still whole and handed out once.
    for (void *&p : v) ASSERT_NE(p = np_alloc(a, 64), nullptr);
    EXPECT_EQ(std::set<void *>(v.begin(), v.end()).size(), v.size());
    for (void *p : v) ASSERT_EQ(np_free(a, p), NP_OK);
    np_thread_cache_flush(a);
    EXPECT_EQ(Stats(a).small.active, 0u);
    np_allocator_destroy(a);
  }
  sched_setaffinity(0, sizeof old, &old);
}

// Blocks freed on one CPU reach another CPU that allocates through the
// transfer cache, not the arenas: one thread allocates 2000 blocks on CPU A,
// frees them on CPU B (B's stack overflows), allocates 2000 again on A. With
// the transfer cache the second round takes at least 900 fewer blocks from
// the arenas than without it. Blocks waiting there are cached: not active,
// counted in cached_bytes, refused when freed again, returned by a flush.
uint64_t ArenaAllocations(np_allocator *a) {
  uint64_t n = 0;
  for (unsigned i = 0; i < Stats(a).arenas; i++) {
    np_stats s;
    EXPECT_EQ(np_allocator_arena_stats(a, i, &s), NP_OK);
    n += s.small.allocations;
  }
  return n;
}

TEST(TransferCache, AnotherCpusOverflowServesThisCpusMisses) {
  cpu_set_t old;
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  std::vector<int> cpus;
  for (int i = 0; i < CPU_SETSIZE && cpus.size() < 2; i++)
    if (CPU_ISSET(i, &old)) cpus.push_back(i);
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  uint64_t second_round[2] = {0, 0};
  for (size_t transfer : {size_t(64) << 10, size_t(0)}) {
    SCOPED_TRACE(transfer ? "transfer cache" : "none");
    np_config c = np_config_default();
    c.arenas = 1;
    c.cache_grow_bytes = 0; /* B's stack overflows at its configured size */
    c.transfer_cache_bytes = transfer;
    np_allocator *a = nullptr;
    ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
    if (std::string(Stats(a).cache_mode) != "per-CPU") {
      np_allocator_destroy(a);
      sched_setaffinity(0, sizeof old, &old);
      GTEST_SKIP() << "per-CPU caches not active";
    }
    std::vector<void *> blocks(2000);
    ASSERT_TRUE(PinTo(cpus[0]));
    for (void *&p : blocks) ASSERT_NE(p = np_alloc(a, 64), nullptr);
    ASSERT_TRUE(PinTo(cpus[1]));
    for (void *p : blocks) ASSERT_EQ(np_free(a, p), NP_OK);
    np_stats s = Stats(a);
    EXPECT_EQ(s.small.active, 0u);
    EXPECT_GE(s.cached_bytes, transfer ? 1000u * 64 : 256u * 64);
    for (void *p : blocks) EXPECT_NE(np_free(a, p), NP_OK) << "freed twice";
    ASSERT_TRUE(PinTo(cpus[0]));
    uint64_t before = ArenaAllocations(a);
    for (void *&p : blocks) ASSERT_NE(p = np_alloc(a, 64), nullptr);
    second_round[transfer ? 0 : 1] = ArenaAllocations(a) - before;
    for (void *p : blocks) ASSERT_EQ(np_free(a, p), NP_OK);
    np_thread_cache_flush(a);
    s = Stats(a);
    EXPECT_EQ(s.cached_bytes, 0u) << "the flush empties the transfer cache too";
    EXPECT_EQ(s.small.allocations, s.small.deallocations);
    EXPECT_EQ(s.invalid_frees, 2000u);
    np_allocator_destroy(a);
  }
  sched_setaffinity(0, sizeof old, &old);
  printf("second round from the arena: %llu with the transfer cache, %llu without\n", (unsigned long long)second_round[0], (unsigned long long)second_round[1]);
  EXPECT_LE(second_round[0] + 900, second_round[1])
      << "with the transfer cache " << second_round[0] << " from the arena, without " << second_round[1];
}

}  // namespace
