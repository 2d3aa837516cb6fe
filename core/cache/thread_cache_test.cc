// Thread caches: Netty's sizes and trim, frees by other threads going back to
// the owner's cache, double frees of cached blocks, and owners that exit.
#include <gtest/gtest.h>
#include <sched.h>

#include <cstring>
#include <future>
#include <tuple>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "npool.h"
#include "npool_buf.h"
#include "core/runtime/runtime.h"

namespace {

// Netty's cache exactly: one block per miss, Netty's trim amount. The tests
// that count cached blocks use it; npool's defaults (batches, the low-water
// trim) have tests of their own below.
np_config Netty() {
  np_config c = np_config_default();
  c.cache_refill_batch = 1;
  c.trim_low_water = 0;
  c.large_cache_bytes = 0;
  c.cache_grow_bytes = 0;
  c.transfer_cache_bytes = 0;
  return c;
}

struct Alloc {
  explicit Alloc(np_config cfg = Netty()) {
    EXPECT_EQ(np_allocator_create(&cfg, &a), NP_OK);
  }
  ~Alloc() { np_allocator_destroy(a); }
  np_stats Stats() { return StatsOf(a); }
  static np_stats StatsOf(np_allocator *a) {
    np_stats s;
    np_allocator_stats(a, &s);
    return s;
  }
  np_allocator *a = nullptr;
};

// Pins the calling thread to the CPU it runs on, until Restore() or the end of
// its scope: per-CPU caches then see one thread on one CPU.
class OnOneCpu {
 public:
  OnOneCpu() {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    sched_getaffinity(0, sizeof old_, &old_);
    sched_setaffinity(0, sizeof one, &one);
  }
  ~OnOneCpu() { Restore(); }
  void Restore() {
    if (pinned_) sched_setaffinity(0, sizeof old_, &old_);
    pinned_ = false;
  }

 private:
  cpu_set_t old_;
  bool pinned_ = true;
};

// These tests are about per-thread caches. With the rseq strategy they run
// where rseq is off (the fallback: GLIBC_TUNABLES=glibc.pthread.rseq=0, see
// core/BUILD); per-CPU caches have cpu_cache_test.
class ThreadCache : public ::testing::Test {
 protected:
  void SetUp() override {
    Alloc probe;
    if (std::string(probe.Stats().cache_mode) == "per-CPU")
      GTEST_SKIP() << "per-CPU caches are active: cpu_cache_test covers them";
  }
};

TEST_F(ThreadCache, DefaultsAreNettys) {
  np_config c = np_config_default();
  EXPECT_EQ(c.small_cache_size, 256u);
  EXPECT_EQ(c.normal_cache_size, 64u);
  EXPECT_EQ(c.max_cached_buffer_capacity, 32768u);
  EXPECT_EQ(c.cache_trim_interval, 8192u);
  c.cache_trim_interval = 0;
  np_allocator *a = nullptr;
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_CACHE);
  c = np_config_default();
  c.small_cache_size = 1u << 20;
  EXPECT_EQ(np_allocator_create(&c, &a), NP_ERR_CACHE);
  EXPECT_EQ(a, nullptr);
}

// A freed block is reused by the same thread's next allocation of its class,
// and while it sits in the cache it counts as neither active nor allocated.
TEST_F(ThreadCache, OwnFreeIsReusedAndNotActive) {
  Alloc al;
  void *p = np_alloc(al.a, 100);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  np_stats s = al.Stats();
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.small.active_bytes, 0u);
  EXPECT_EQ(s.cached_bytes, 112u);
  EXPECT_EQ(s.thread_caches, 1u);
  EXPECT_EQ(np_alloc(al.a, 100), p);
  s = al.Stats();
  EXPECT_EQ(s.small.active, 1u);
  EXPECT_EQ(s.small.allocations, 2u);
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(np_usable_size(al.a, p), 112u);
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  EXPECT_EQ(np_usable_size(al.a, p), 0u);  // cached: not a live block
}

TEST_F(ThreadCache, DoubleFreeOfCachedBlockIsRefused) {
  Alloc al;
  void *small = np_alloc(al.a, 64), *normal = np_alloc(al.a, 32768);
  ASSERT_EQ(np_free(al.a, small), NP_OK);
  ASSERT_EQ(np_free(al.a, normal), NP_OK);
  np_stats before = al.Stats();
  EXPECT_EQ(np_free(al.a, small), NP_ERR_DOUBLE_FREE);
  EXPECT_EQ(np_free(al.a, normal), NP_ERR_DOUBLE_FREE);
  np_stats after = al.Stats();
  EXPECT_EQ(after.invalid_frees, before.invalid_frees + 2);
  EXPECT_EQ(after.cached_bytes, before.cached_bytes);
  // Each comes back exactly once.
  EXPECT_EQ(np_alloc(al.a, 64), small);
  EXPECT_NE(np_alloc(al.a, 64), small);
}

// Normal sizes up to max_cached_buffer_capacity are cached as Netty does;
// larger ones (up to large_cache_bytes) only as many as fit in that many
// bytes; large_cache_bytes 0 gives Netty's behaviour: never cached.
TEST_F(ThreadCache, OnlyClassesUpToMaxCachedCapacity) {
  {
    np_config c = np_config_default();
    c.large_cache_bytes = 0;
    Alloc al(c);
    void *p = np_alloc(al.a, 40960);
    ASSERT_EQ(np_free(al.a, p), NP_OK);
    EXPECT_EQ(al.Stats().cached_bytes, 0u);
    p = np_alloc(al.a, 32768);
    ASSERT_EQ(np_free(al.a, p), NP_OK);
    EXPECT_EQ(al.Stats().cached_bytes, 32768u);
  }
  {
    np_config c = np_config_default();
    c.large_cache_bytes = 1u << 20;
    Alloc al(c);
    // 1 MiB: one fits. A second one freed goes to the arena.
    void *p = np_alloc(al.a, 1u << 20), *q = np_alloc(al.a, 1u << 20);
    ASSERT_EQ(np_free(al.a, p), NP_OK);
    EXPECT_EQ(al.Stats().cached_bytes, 1u << 20);
    ASSERT_EQ(np_free(al.a, q), NP_OK);
    EXPECT_LE(al.Stats().cached_bytes, 1u << 20);
    void *again = np_alloc(al.a, 1u << 20);
    EXPECT_TRUE(again == p || again == q) << "a cached block comes back";
    p = again;
    // Above large_cache_bytes: never cached.
    void *big = np_alloc(al.a, (1u << 20) + 8192);
    uint64_t before = al.Stats().cached_bytes;
    ASSERT_EQ(np_free(al.a, big), NP_OK);
    EXPECT_EQ(al.Stats().cached_bytes, before);
    // 40 KiB classes: at most 1 MiB of them.
    std::vector<void *> v;
    for (int i = 0; i < 64; i++) v.push_back(np_alloc(al.a, 40960));
    for (void *b : v) ASSERT_EQ(np_free(al.a, b), NP_OK);
    EXPECT_LE(al.Stats().cached_bytes, (1u << 20) + (1u << 20));
    EXPECT_GE(al.Stats().cached_bytes, 40960u);
    np_free(al.a, p);
  }
}

// Capacity: at most small_cache_size (rounded to a power of two) per class.
TEST_F(ThreadCache, CapacityIsBounded) {
  np_config c = Netty();
  c.small_cache_size = 5;  // rounded to 8
  Alloc al(c);
  std::vector<void *> v;
  for (int i = 0; i < 20; i++) v.push_back(np_alloc(al.a, 16));
  for (void *p : v) ASSERT_EQ(np_free(al.a, p), NP_OK);
  np_stats s = al.Stats();
  EXPECT_EQ(s.cached_bytes, 8u * 16);
  EXPECT_EQ(s.small.active, 0u);
}

TEST_F(ThreadCache, DisabledByZeroSizes) {
  np_config c = Netty();
  c.small_cache_size = c.normal_cache_size = 0;
  Alloc al(c);
  void *p = np_alloc(al.a, 16);
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  EXPECT_EQ(al.Stats().cached_bytes, 0u);
  // The thread still has a cache object: it binds the thread to its arena.
  EXPECT_EQ(al.Stats().thread_caches, 1u);
}

// Slot 0 of a thread's table is the one np_alloc and np_free check inline:
// an allocator that caches nothing (caching off, or the library's private
// one behind pooled buffers' objects) used first must not take it from the
// allocator used next. (Pooled buffers did: np_buf_alloc gets its object
// first, so every np_alloc of theirs took the slow path.)
TEST_F(ThreadCache, CachelessAllocatorLeavesSlotZero) {
  np_config off = Netty();
  off.small_cache_size = off.normal_cache_size = 0;
  Alloc cacheless(off);
  Alloc cached(Netty());
  std::thread([&] {
    ASSERT_EQ(np_free(cacheless.a, np_alloc(cacheless.a, 64)), NP_OK);
    ASSERT_EQ(np_free(cached.a, np_alloc(cached.a, 64)), NP_OK);
    EXPECT_EQ(np_tls_caches[0].uid, cached.a->uid);
  }).join();
  std::thread([&] {  // the same through a pooled buffer, the first thing the thread does
    np_buf *b = np_buf_alloc(cached.a, 64, 64);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(np_tls_caches[0].uid, cached.a->uid);
    EXPECT_EQ(np_buf_release(b), NP_OK);
  }).join();
}

// Netty's trim: every cache_trim_interval lookups each class frees its unused
// room (capacity - hits since the last trim).
TEST_F(ThreadCache, TrimFreesUnusedEntries) {
  np_config c = Netty();
  c.cache_trim_interval = 64;
  Alloc al(c);
  std::vector<void *> v;
  for (int i = 0; i < 100; i++) v.push_back(np_alloc(al.a, 1024));
  for (void *p : v) ASSERT_EQ(np_free(al.a, p), NP_OK);
  EXPECT_EQ(al.Stats().cached_bytes, 100u * 1024);
  // Lookups of another class only: class 1024 has no hits, so its whole
  // capacity (256 >= 100 entries) is unused room and it is emptied.
  for (int i = 0; i < 70; i++) ASSERT_EQ(np_free(al.a, np_alloc(al.a, 16)), NP_OK);
  np_stats s = al.Stats();
  EXPECT_LE(s.cached_bytes, 16u);  // at most the last 16-byte block
  EXPECT_EQ(s.small.active, 0u);
}

TEST_F(ThreadCache, FlushEmptiesTheCallersCache) {
  Alloc al;
  std::vector<void *> v;
  for (int i = 0; i < 50; i++) v.push_back(np_alloc(al.a, 300 + i * 200));
  for (void *p : v) ASSERT_EQ(np_free(al.a, p), NP_OK);
  EXPECT_GT(al.Stats().cached_bytes, 0u);
  np_thread_cache_flush(al.a);
  np_stats s = al.Stats();
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes, 0u);
}

// A block freed by another thread goes back to its owner's cache; the owner's
// next allocation of that class returns it.
TEST_F(ThreadCache, RemoteFreeReturnsToOwner) {
  Alloc al;
  void *p = np_alloc(al.a, 200);
  ASSERT_NE(p, nullptr);
  std::thread([&] { EXPECT_EQ(np_free(al.a, p), NP_OK); }).join();
  EXPECT_EQ(al.Stats().cached_bytes, 224u);  // 200 -> class 224
  EXPECT_EQ(np_alloc(al.a, 200), p);
  // A second remote free of the same cached block is a double free.
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  std::thread([&] { EXPECT_EQ(np_free(al.a, p), NP_ERR_DOUBLE_FREE); }).join();
}

// n blocks of `size` allocated by this thread, then freed by another one
// (which has exited when this returns).
std::vector<void *> FreedByAnotherThread(np_allocator *a, int n, size_t size) {
  std::vector<void *> blocks;
  for (int i = 0; i < n; i++) blocks.push_back(np_alloc(a, size));
  std::thread([&] {
    for (void *p : blocks) ASSERT_EQ(np_free(a, p), NP_OK);
  }).join();
  return blocks;
}

// Frees by another thread fill the owner's remote list up to the class's
// capacity (the rest go to the arena); the owner's next miss takes the whole
// list at once, and its allocations return those blocks. Nothing is lost.
TEST_F(ThreadCache, RemoteListIsBoundedAndTakenWhole) {
  np_config c = Netty();
  c.small_cache_size = 8;
  Alloc al(c);
  std::vector<void *> blocks = FreedByAnotherThread(al.a, 20, 64);
  np_stats s = al.Stats();
  EXPECT_EQ(s.cached_bytes, 8u * 64) << "the list holds the class's capacity";
  EXPECT_EQ(s.small.active, 0u);
  // (which 8: the first ones pushed, or with mutex's batched handover the
  // first 8 of the one batch the freeing thread sent at its exit)
  std::set<void *> listed(blocks.begin(), blocks.end());
  std::vector<void *> live;
  for (int i = 0; i < 8; i++) {
    void *p = np_alloc(al.a, 64);
    EXPECT_EQ(listed.count(p), 1u) << "allocation " << i << " should come from the remote list";
    listed.erase(p);
    live.push_back(p);
  }
  s = al.Stats();
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(s.small.active, 8u);
  // A double free of a block on the list is refused by the freeing thread.
  void *p = live.back();
  std::thread([&] {
    EXPECT_EQ(np_free(al.a, p), NP_OK);
    EXPECT_EQ(np_free(al.a, p), NP_ERR_DOUBLE_FREE);
  }).join();
  EXPECT_EQ(np_alloc(al.a, 64), p);
  for (void *q : live) ASSERT_EQ(np_free(al.a, q), NP_OK);
  np_thread_cache_flush(al.a);
  s = al.Stats();
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.cached_bytes, 0u);
}

// Blocks of a remote list the owner took stay cached until handed out:
// counted, refused when freed again by the owner or anyone else, given back
// by a flush. (Taking a list and popping it a block per miss instead of
// moving it onto the stack was measured slower: 0.4-0.9x on prodcons and
// xmalloc, every miss then takes the slow path.)
TEST_F(ThreadCache, TakenRemoteBlocksStayCachedAndGuarded) {
  np_config c = Netty();
  c.small_cache_size = 8;
  Alloc al(c);
  std::vector<void *> blocks = FreedByAnotherThread(al.a, 8, 64);
  std::set<void *> listed(blocks.begin(), blocks.end());
  void *first = np_alloc(al.a, 64);  // takes the list, pops one
  EXPECT_EQ(listed.count(first), 1u);
  listed.erase(first);
  EXPECT_EQ(al.Stats().cached_bytes, 7u * 64) << "seven still cached";
  void *still = *listed.begin();
  EXPECT_EQ(np_free(al.a, still), NP_ERR_DOUBLE_FREE) << "the owner's double free";
  std::thread([&] { EXPECT_EQ(np_free(al.a, still), NP_ERR_DOUBLE_FREE) << "another thread's"; }).join();
  void *second = np_alloc(al.a, 64);
  EXPECT_EQ(listed.count(second), 1u) << "the next allocation is one of them";
  np_thread_cache_flush(al.a);
  np_stats s = al.Stats();
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(s.small.active, 2u);
  EXPECT_EQ(s.invalid_frees, 2u);
  EXPECT_EQ(np_free(al.a, first), NP_OK);
  EXPECT_EQ(np_free(al.a, second), NP_OK);
  EXPECT_EQ(np_free(al.a, still), NP_ERR_DOUBLE_FREE) << "flushed to the arena: free there";
}

// Frees of another thread's blocks may wait in the freeing thread's outbox
// (mutex: batches per owner class, one lock per batch; ck hands each over at
// once): either way they count as cached, a second free is refused, and the
// freeing thread's flush gets them to their owner.
TEST_F(ThreadCache, RemoteFreesWaitingInAnOutboxAreCachedGuardedAndDelivered) {
  Alloc al(Netty());
  std::vector<void *> blocks;
  for (int i = 0; i < 40; i++) blocks.push_back(np_alloc(al.a, 64));
  std::promise<void> flushed, done;
  std::thread freer([&] {
    for (void *p : blocks) EXPECT_EQ(np_free(al.a, p), NP_OK);
    np_stats s = Alloc::StatsOf(al.a);
    EXPECT_EQ(s.cached_bytes, 40u * 64);
    EXPECT_EQ(s.small.active, 0u);
    EXPECT_EQ(np_free(al.a, blocks[7]), NP_ERR_DOUBLE_FREE);
    np_thread_cache_flush(al.a);  // this thread's: its outbox goes out
    flushed.set_value();
    done.get_future().wait();
  });
  flushed.get_future().wait();
  std::set<void *> mine(blocks.begin(), blocks.end());
  std::vector<void *> again;
  for (int i = 0; i < 40; i++) {
    again.push_back(np_alloc(al.a, 64));
    EXPECT_EQ(mine.count(again.back()), 1u) << "allocation " << i << " should be a block that came home";
  }
  done.set_value();
  freer.join();
  for (void *p : again) ASSERT_EQ(np_free(al.a, p), NP_OK);
  EXPECT_EQ(al.Stats().invalid_frees, 1u);
}

// The owner exits while its blocks wait in another thread's outbox: they go
// to the arena when that thread flushes. Nothing is lost or left cached.
TEST_F(ThreadCache, OwnerExitsWhileItsBlocksWaitInAnOutbox) {
  Alloc al(Netty());
  std::vector<void *> blocks;
  std::promise<void> allocated, freed;
  std::thread owner([&] {
    for (int i = 0; i < 20; i++) blocks.push_back(np_alloc(al.a, 96));
    allocated.set_value();
    freed.get_future().wait();  // alive while the main thread frees its blocks
  });
  allocated.get_future().wait();
  for (void *p : blocks) ASSERT_EQ(np_free(al.a, p), NP_OK);
  freed.set_value();
  owner.join();
  np_thread_cache_flush(al.a);
  np_stats s = al.Stats();
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(s.invalid_frees, 0u);
}

// The owner exits: its cache is emptied, and its blocks freed later by other
// threads go to the arena (or to the cache that reused its slot). Nothing
// stays active.
TEST_F(ThreadCache, OwnerExitedFreesGoToArena) {
  Alloc al;
  std::vector<void *> blocks;
  std::thread([&] {
    for (int i = 0; i < 300; i++) blocks.push_back(np_alloc(al.a, 16 + (i % 40) * 100));
    for (int i = 0; i < 100; i++) ASSERT_EQ(np_free(al.a, blocks[i]), NP_OK);  // cached
  }).join();
  np_stats s = al.Stats();
  EXPECT_EQ(s.cached_bytes, 0u) << "the exiting thread's cache was emptied";
  EXPECT_EQ(s.thread_caches, 0u);
  EXPECT_EQ(s.small.active, 200u);
  for (int i = 100; i < 300; i++) ASSERT_EQ(np_free(al.a, blocks[i]), NP_OK);
  s = al.Stats();
  EXPECT_EQ(s.small.active + s.normal.active, 0u);
  EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes, 0u);
  // The main thread's frees made it a cache, maybe the dead thread's own
  // (reused, same owner id: then the blocks are its own); flushed, nothing stays.
  EXPECT_EQ(s.thread_caches, 1u);
  np_thread_cache_flush(al.a);
  EXPECT_EQ(al.Stats().cached_bytes, 0u);
}

// ---- The owner's flush of its remote list, while chunks empty and are unmapped

// How the chunk that the remote list's blocks empty is given back.
enum class Unmapped { kDecayZero, kDecayZeroSmallChunks, kRetainedFull };

np_config UnmappingConfig(Unmapped how) {
  np_config c = np_config_default();
  if (how != Unmapped::kRetainedFull) c.dirty_decay_ms = 0;  // released chunks unmapped at once
  if (how == Unmapped::kDecayZeroSmallChunks) c.max_order = 3;  // 64 KiB chunks: 2 blocks each
  return c;
}

// With retained memory full, a chunk that empties is unmapped: a freed huge
// block of the arena's whole retained_max fills it (this thread's arena).
void FillRetained(np_allocator *a) {
  np_config c = np_config_default();
  void *huge = np_alloc(a, c.retained_max - 4096);
  ASSERT_NE(huge, nullptr);
  ASSERT_EQ(np_free(a, huge), NP_OK);
  ASSERT_GE(Alloc::StatsOf(a).retained_bytes, c.retained_max - (4u << 20));
}

// The owner's blocks (32 KiB, a cached normal class) all freed by another
// thread onto the owner's remote list; then the owner flushes (or exits),
// which gives the list to the arena in batches: the batch empties chunks,
// which are unmapped. Reading a block's link after its batch went back
// faulted there (or followed a block another thread already had back).
class RemoteListFlush : public ThreadCache, public ::testing::WithParamInterface<std::tuple<Unmapped, bool>> {};

TEST_P(RemoteListFlush, NeverReadsABlockGivenBack) {
  const Unmapped how = std::get<0>(GetParam());
  const bool owner_exits = std::get<1>(GetParam());
  Alloc al(UnmappingConfig(how));
  const int kBlocks = 64;  // the class's remote list holds them all: one flush batch
  for (int round = 0; round < 4; round++) {
    std::vector<void *> blocks;
    std::promise<void> allocated, freed;
    std::thread owner([&] {
      for (int i = 0; i < kBlocks; i++) {
        void *p = np_alloc(al.a, 32 * 1024);
        ASSERT_NE(p, nullptr);
        memset(p, 0xA5, 32 * 1024);
        blocks.push_back(p);
      }
      if (how == Unmapped::kRetainedFull) FillRetained(al.a);  // (after: no chunk comes from it)
      np_thread_cache_flush(al.a);  // no block of theirs stays cached here: their chunks can empty
      allocated.set_value();
      freed.get_future().wait();
      if (!owner_exits) np_thread_cache_flush(al.a);
    });
    allocated.get_future().wait();
    std::thread([&] {
      for (void *p : blocks) ASSERT_EQ(np_free(al.a, p), NP_OK);
    }).join();
    freed.set_value();
    owner.join();
    np_stats s = al.Stats();
    EXPECT_EQ(s.normal.active, 0u) << round;
    EXPECT_EQ(s.cached_bytes, 0u) << round;
    EXPECT_EQ(s.invalid_frees, 0u) << round;
    EXPECT_GT(s.chunk_deallocations, 0u) << "the chunks emptied and were given back";
  }
}

std::string RemoteListFlushName(const testing::TestParamInfo<std::tuple<Unmapped, bool>> &i) {
  const char *names[] = {"DecayZero", "DecayZeroSmallChunks", "RetainedFull"};
  return std::string(names[int(std::get<0>(i.param))]) + (std::get<1>(i.param) ? "_OwnerExits" : "_OwnerFlushes");
}

INSTANTIATE_TEST_SUITE_P(Configs, RemoteListFlush,
                         testing::Combine(testing::Values(Unmapped::kDecayZero,
                                                          Unmapped::kDecayZeroSmallChunks,
                                                          Unmapped::kRetainedFull),
                                          testing::Bool()),
                         RemoteListFlushName);

// Threads bind to the least-used arena: with 4 arenas, 4 live threads use 4
// different arenas.
TEST_F(ThreadCache, ThreadsBindToLeastUsedArena) {
  np_config c = np_config_default();
  c.arenas = 4;
  Alloc al(c);
  std::vector<std::thread> ts;
  std::vector<void *> first(4);
  std::promise<void> go;
  std::shared_future<void> all_bound = go.get_future().share();
  std::atomic<int> bound{0};
  for (int i = 0; i < 4; i++)
    ts.emplace_back([&, i] {
      first[i] = np_alloc(al.a, 65536);  // normal, uncached: a chunk of its arena
      bound++;
      all_bound.wait();
      np_free(al.a, first[i]);
    });
  while (bound.load() < 4) std::this_thread::yield();
  np_stats s = al.Stats();
  EXPECT_EQ(s.chunk_allocations, 4u) << "one chunk in each of 4 arenas";
  go.set_value();
  for (auto &t : ts) t.join();
}

// npool's defaults, for every cache kind (thread caches, per-CPU caches):

// Arena traffic: blocks the arenas handed out or took back (caches' refills
// and flushes included), summed over the arenas.
uint64_t ArenaTraffic(np_allocator *a) {
  uint64_t n = 0;
  for (unsigned i = 0; i < Alloc::StatsOf(a).arenas; i++) {
    np_stats s;
    np_allocator_arena_stats(a, i, &s);
    n += s.small.allocations + s.small.deallocations + s.normal.allocations + s.normal.deallocations;
  }
  return n;
}

// Loops over a working set of 200 blocks of many classes; returns the arena
// traffic of the last rounds, after a warm-up, with trims happening all along.
uint64_t SteadyStateTraffic(np_config c) {
  c.cache_trim_interval = 1024;
  Alloc al(c);
  OnOneCpu pin;
  std::vector<void *> v(200);
  uint64_t before = 0;
  for (int round = 0; round < 60; round++) {
    if (round == 20) before = ArenaTraffic(al.a);
    for (int i = 0; i < 200; i++) v[i] = np_alloc(al.a, 16 + (size_t)(i % 40) * 700);
    for (int i = 0; i < 200; i++) EXPECT_EQ(np_free(al.a, v[i]), NP_OK);
  }
  return ArenaTraffic(al.a) - before;
}

TEST(CachePolicy, TrimKeepsAWorkingSetInUse) {
  EXPECT_EQ(SteadyStateTraffic(np_config_default()), 0u);
  np_config netty = np_config_default();
  netty.trim_low_water = 0; /* Netty's amount: the working set goes back and comes again */
  EXPECT_GT(SteadyStateTraffic(netty), 0u);
}

// Arena traffic of one round over a working set of n blocks of one size:
// all allocated, then all freed.
uint64_t RoundTraffic(np_allocator *a, size_t size, int n) {
  uint64_t before = ArenaTraffic(a);
  std::vector<void *> v(n);
  for (int i = 0; i < n; i++) v[i] = np_alloc(a, size);
  for (int i = 0; i < n; i++) EXPECT_EQ(np_free(a, v[i]), NP_OK);
  return ArenaTraffic(a) - before;
}

// A burst larger than a class's capacity (256) grows the class (doubling, up
// to 8x) within the cache's cache_grow_bytes, so the next round of the same
// burst stays out of the arena; a class that cannot grow for want of budget
// keeps Netty's round trips until trims that find the grown class's entries
// unused give its growth back.
TEST(CachePolicy, ABurstGrowsItsClassWithinTheBudgetAndTrimsGiveItBack) {
  np_config c = np_config_default();
  c.cache_trim_interval = 4096;
  c.cache_grow_bytes = 768 * 64; /* 64 B: 256 -> 1024 entries; then 48 B cannot grow */
  c.transfer_cache_bytes = 0;    /* rseq: arena traffic shows the CPU's own capacity */
  Alloc al(c);
  OnOneCpu pin;
  EXPECT_GT(RoundTraffic(al.a, 64, 1000), 0u);  // the first round fills the cache
  EXPECT_EQ(RoundTraffic(al.a, 64, 1000), 0u) << "grown to 1024: the burst stays cached";
  EXPECT_GE(al.Stats().cached_bytes, 1000u * 64);
  RoundTraffic(al.a, 48, 1000);
  EXPECT_GT(RoundTraffic(al.a, 48, 1000), 0u) << "no budget left for the 48 B class";
  // Lookups of a third class only: the trims find both classes unused.
  for (int i = 0; i < 5 * 4096; i++) ASSERT_EQ(np_free(al.a, np_alloc(al.a, 16)), NP_OK);
  EXPECT_LE(al.Stats().cached_bytes, 256u * 64 + 256u * 48 + 256u * 16);
  RoundTraffic(al.a, 48, 1000);
  EXPECT_EQ(RoundTraffic(al.a, 48, 1000), 0u) << "the 64 B class gave its growth back";
  pin.Restore();
  // Netty's fixed capacity: every round takes the arena's locks.
  np_config fixed = c;
  fixed.cache_grow_bytes = 0;
  Alloc netty(fixed);
  RoundTraffic(netty.a, 64, 1000);
  EXPECT_GT(RoundTraffic(netty.a, 64, 1000), 1000u);
}

// cache_max_bytes: a cache (the thread's, or its CPU's) that holds its byte
// budget does not grow a class that overflows; the class holding the most
// gives up half its capacity and what no longer fits, so a stream of frees
// brings what the cache holds down to about the budget. Without the budget
// the capacities alone keep hundreds of KiB.
size_t HeldAfterStream(np_config c) {
  Alloc al(c);
  std::vector<void *> kib(256), two(2000);
  for (void *&p : kib) p = np_alloc(al.a, 1024);
  for (void *&p : two) p = np_alloc(al.a, 2048);
  for (void *p : kib) EXPECT_EQ(np_free(al.a, p), NP_OK);  // 256 KiB, no overflow
  for (void *p : two) EXPECT_EQ(np_free(al.a, p), NP_OK);  // overflows, again and again
  np_stats s = al.Stats();
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.invalid_frees, 0u);
  // Everything cached is still whole: handed out again, written, freed.
  std::vector<void *> again(2256);
  for (size_t i = 0; i < again.size(); i++) {
    again[i] = np_alloc(al.a, i < 256 ? 1024 : 2048);
    EXPECT_NE(again[i], nullptr);
    memset(again[i], 0x5a, i < 256 ? 1024 : 2048);
  }
  EXPECT_EQ(std::set<void *>(again.begin(), again.end()).size(), again.size()) << "a block handed out twice";
  for (void *p : again) EXPECT_EQ(np_free(al.a, p), NP_OK);
  return s.thread_cached_bytes + s.cpu_cached_bytes;
}

TEST(CachePolicy, AByteBudgetBoundsWhatACacheHolds) {
  OnOneCpu pin;
  np_config c = np_config_default();
  c.transfer_cache_bytes = 0; /* rseq: what a CPU gives back goes to the arena */
  c.cache_max_bytes = 64 << 10;
  size_t bounded = HeldAfterStream(c);
  c.cache_max_bytes = 0;
  size_t unbounded = HeldAfterStream(c);
  pin.Restore();
  EXPECT_LE(bounded, 2u * (64 << 10)) << "about the budget";
  EXPECT_GE(unbounded, 256u << 10) << "the capacities alone";
}

// A large class (above max_cached_buffer_capacity) starts at one block and
// grows to its room (large_cache_bytes) as its stack overflows, while the
// cache is under its byte budget: a reused class is cached whole, and classes
// freed past the budget hold about one block each, not their room.
TEST(CachePolicy, LargeClassesGrowToTheirRoomOnlyUnderTheBudget) {
  OnOneCpu pin;
  np_config c = np_config_default();
  c.transfer_cache_bytes = 0; /* rseq: what a CPU gives back goes to the arena */
  ASSERT_EQ(c.large_cache_bytes, 1u << 20);
  {
    Alloc al(c);
    std::vector<void *> b(16);  // the 64 KiB class's room: 16 blocks
    for (void *&p : b) p = np_alloc(al.a, 65536);
    for (void *p : b) EXPECT_EQ(np_free(al.a, p), NP_OK);
    np_stats s = al.Stats();
    EXPECT_EQ(s.thread_cached_bytes + s.cpu_cached_bytes, 16u * 65536) << "grown to its room";
    for (void *&p : b) p = np_alloc(al.a, 65536);
    EXPECT_EQ(al.Stats().thread_cached_bytes + al.Stats().cpu_cached_bytes, 0u) << "all from the cache";
    for (void *p : b) EXPECT_EQ(np_free(al.a, p), NP_OK);
  }
  c.cache_max_bytes = 512 << 10;
  std::vector<size_t> sizes;  // 12 large classes, 4 blocks each: 5.6 MiB
  for (size_t kib : {40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256})
    for (int k = 0; k < 4; k++) sizes.push_back(kib << 10);
  size_t one_each = 0;
  for (size_t i = 0; i < sizes.size(); i += 4) one_each += sizes[i];
  Alloc al(c);
  std::vector<void *> b;
  for (size_t size : sizes) b.push_back(np_alloc(al.a, size));
  for (void *p : b) EXPECT_EQ(np_free(al.a, p), NP_OK);
  np_stats s = al.Stats();
  pin.Restore();
  EXPECT_EQ(s.invalid_frees, 0u);
  EXPECT_LE(s.thread_cached_bytes + s.cpu_cached_bytes, (512u << 10) + one_each)
      << "the budget and about one block per class";
}

// A miss takes a batch from the arena: one acquisition of its locks, many blocks.
TEST(CachePolicy, MissRefillsABatch) {
  Alloc al(np_config_default());
  void *p = np_alloc(al.a, 64);
  np_stats s = Alloc::StatsOf(al.a);
  EXPECT_EQ(s.small.active, 1u);
  EXPECT_EQ(s.cached_bytes, 63u * 64) << "a batch of 64: one handed out, 63 cached";
  EXPECT_EQ(ArenaTraffic(al.a), 64u);
  EXPECT_EQ(np_free(al.a, p), NP_OK);
  np_config one = np_config_default();
  one.cache_refill_batch = 1;
  Alloc netty(one);
  void *q = np_alloc(netty.a, 64);
  EXPECT_EQ(Alloc::StatsOf(netty.a).cached_bytes, 0u);
  EXPECT_EQ(np_free(netty.a, q), NP_OK);
}

}  // namespace
