// Double and invalid frees with the caches on, on every path a block can be
// on: a thread cache, a per-CPU cache, a remote queue, the arena after a
// flush, a released chunk, a deleted subpage, and two threads freeing one
// block at the same instant (exactly one wins). Each bad free is refused with
// its code, counted, and changes nothing: the next allocations never return
// one block twice. Built for every strategy (and rseq's fallback), so each
// cache design is covered.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "npool.h"
#include "core/test_support.h"

namespace {

using np_test::Stats;

struct Alloc {
  explicit Alloc(np_config cfg = np_config_default()) {
    EXPECT_EQ(np_allocator_create(&cfg, &a), NP_OK);
  }
  ~Alloc() { np_allocator_destroy(a); }
  np_allocator *a = nullptr;
};

// n allocations of size are n different blocks (none handed out twice).
void ExpectDistinct(np_allocator *a, size_t size, int n, std::vector<void *> *keep) {
  std::set<void *> seen(keep->begin(), keep->end());
  for (int i = 0; i < n; i++) {
    void *p = np_alloc(a, size);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(seen.insert(p).second) << "block " << p << " handed out twice";
    keep->push_back(p);
  }
}

void FreeAll(np_allocator *a, std::vector<void *> *v) {
  for (void *p : *v) EXPECT_EQ(np_free(a, p), NP_OK);
  v->clear();
}

// Freed twice while it sits in the cache (the thread's, or this CPU's), with
// the default claim (a load and a store) and with exact_double_free's swap.
TEST(DoubleFree, WhileCached) {
  for (int exact : {0, 1}) {
    for (size_t size : {16, 64, 1000, 8192, 32768}) {
      SCOPED_TRACE(testing::Message() << "exact " << exact << ", size " << size);
      np_config c = np_config_default();
      c.exact_double_free = exact;
      Alloc al(c);
      void *p = np_alloc(al.a, size);
      ASSERT_EQ(np_free(al.a, p), NP_OK);
      uint64_t invalid = Stats(al.a).invalid_frees;
      EXPECT_EQ(np_free(al.a, p), NP_ERR_DOUBLE_FREE);
      EXPECT_EQ(Stats(al.a).invalid_frees, invalid + 1);
      EXPECT_EQ(np_usable_size(al.a, p), 0u);
      std::vector<void *> v;
      ExpectDistinct(al.a, size, 300, &v);
      FreeAll(al.a, &v);
    }
  }
}

// Regression (rseq accepted it): freed, flushed to the arena, freed again.
TEST(DoubleFree, AfterFlushToTheArena) {
  np_config c = np_config_default();
  c.small_cache_size = 2;
  Alloc al(c);
  std::vector<void *> v;
  for (int i = 0; i < 8; i++) v.push_back(np_alloc(al.a, 64));
  for (void *p : v) ASSERT_EQ(np_free(al.a, p), NP_OK);
  np_thread_cache_flush(al.a);
  EXPECT_EQ(np_free(al.a, v[0]), NP_ERR_DOUBLE_FREE);
  EXPECT_EQ(np_free(al.a, v[7]), NP_ERR_DOUBLE_FREE);
  void *x = np_alloc(al.a, 64), *y = np_alloc(al.a, 64);
  EXPECT_NE(x, y);
  np_free(al.a, x);
  np_free(al.a, y);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.invalid_frees, 2u);
}

// Freed by another thread (into the owner's queue, or that thread's CPU
// cache), then freed again by either thread.
TEST(DoubleFree, AfterARemoteFree) {
  Alloc al;
  void *p = np_alloc(al.a, 200);
  std::thread([&] { EXPECT_EQ(np_free(al.a, p), NP_OK); }).join();
  EXPECT_EQ(np_free(al.a, p), NP_ERR_DOUBLE_FREE);
  std::thread([&] { EXPECT_EQ(np_free(al.a, p), NP_ERR_DOUBLE_FREE); }).join();
  std::vector<void *> v;
  ExpectDistinct(al.a, 200, 100, &v);
  FreeAll(al.a, &v);
}

// The chunk went back to the system: the pointer is no longer npool's.
TEST(DoubleFree, AfterItsChunkWasReleased) {
  np_config c = np_config_default();
  c.release_empty_init_chunks = 1;
  Alloc al(c);
  void *keep = np_alloc(al.a, 64); /* the first chunk stays */
  std::vector<void *> v;
  for (int i = 0; i < 2; i++) v.push_back(np_alloc(al.a, 3 << 20)); /* a second chunk */
  for (void *p : v) ASSERT_EQ(np_free(al.a, p), NP_OK);
  np_thread_cache_flush(al.a);
  np_stats s = Stats(al.a);
  ASSERT_EQ(s.chunk_allocations - s.chunk_deallocations, 1u);
  EXPECT_EQ(np_free(al.a, v[1]), NP_ERR_FOREIGN_POINTER);
  EXPECT_EQ(np_free(al.a, keep), NP_OK);
}

// Regression: a stale pointer into a subpage that was deleted and whose run
// now holds another class. Refused, and nothing is written (the stats and
// the new blocks stay as they are).
TEST(DoubleFree, IntoADeletedSubpage) {
  Alloc al;
  std::vector<void *> first, second;
  for (int i = 0; i < 128; i++) first.push_back(np_alloc(al.a, 64)); /* a page: 128 elements */
  for (int i = 0; i < 128; i++) second.push_back(np_alloc(al.a, 64)); /* the next page */
  for (void *p : second) ASSERT_EQ(np_free(al.a, p), NP_OK);
  ASSERT_EQ(np_free(al.a, first[0]), NP_OK); /* the first subpage back on its list ... */
  first.erase(first.begin());
  np_thread_cache_flush(al.a); /* ... so the emptied second one is deleted */
  /* Its page, for 128-byte blocks now: one live, the rest (a refill) cached. */
  char *live = static_cast<char *>(np_alloc(al.a, 128));
  memset(live, 0x5a, 128);
  np_stats before = Stats(al.a);
  int stale = 0, refused = 0;
  for (void *p : second) {
    if (p == live) continue; /* the same address is a live block again: not a stale pointer */
    stale++;
    refused += np_free(al.a, p) != NP_OK;
  }
  EXPECT_EQ(refused, stale);
  np_stats after = Stats(al.a);
  EXPECT_EQ(after.small.active, before.small.active);
  EXPECT_EQ(after.cached_bytes, before.cached_bytes);
  EXPECT_EQ(after.invalid_frees, before.invalid_frees + (uint64_t)stale);
  for (int i = 0; i < 128; i++) ASSERT_EQ((unsigned char)live[i], 0x5a) << "a refused free wrote into a live block";
  EXPECT_EQ(np_free(al.a, live), NP_OK);
  FreeAll(al.a, &first);
  std::vector<void *> v;
  ExpectDistinct(al.a, 128, 300, &v);
  FreeAll(al.a, &v);
}

// Interior pointers of cached classes, with the caches on.
TEST(DoubleFree, InteriorPointerOfACachedClass) {
  Alloc al;
  for (size_t size : {32, 512, 16384}) {
    char *p = static_cast<char *>(np_alloc(al.a, size));
    EXPECT_EQ(np_free(al.a, p + 16), NP_ERR_NOT_BLOCK_START);
    EXPECT_EQ(np_usable_size(al.a, p), size);
    EXPECT_EQ(np_free(al.a, p), NP_OK);
  }
}

// Regression (1 in about 20,000 both succeeded): two threads free the same
// live block at the same instant (this thread and another, released together
// by a spin barrier), with exact_double_free. Exactly one free succeeds, every
// time, and the block is handed out once afterwards.
TEST(DoubleFree, TwoThreadsAtOnce) {
#ifdef NP_SANITIZER
  const int rounds = 2000;
#else
  const int rounds = 10000;
#endif
  np_config c = np_config_default();
  c.exact_double_free = 1;  // (the default claim lets a racing pair both win)
  Alloc al(c);
  uint64_t expected_invalid = 0;
  for (size_t size : {64, 4096, 65536}) {
    SCOPED_TRACE(size);
    std::atomic<void *> block{nullptr};
    std::atomic<int> arrived{0}, other_ok{0}, other_done{0};
    std::atomic<bool> stop{false};
    std::thread other([&] {
      for (int r = 0; !stop.load(std::memory_order_relaxed); r++) {
        /* Round r: wait for this thread's turn, arrive, wait for both. */
        while (arrived.load(std::memory_order_acquire) != 2 * r + 1)
          if (stop.load(std::memory_order_relaxed)) return;
        arrived.fetch_add(1, std::memory_order_acq_rel);
        int rc = np_free(al.a, block.load(std::memory_order_relaxed));
        other_ok.store(rc == NP_OK, std::memory_order_relaxed);
        other_done.fetch_add(1, std::memory_order_release);
      }
    });
    int both = 0, neither = 0;
    for (int r = 0; r < rounds; r++) {
      void *p = np_alloc(al.a, size);
      ASSERT_NE(p, nullptr);
      block.store(p, std::memory_order_relaxed);
      arrived.fetch_add(1, std::memory_order_acq_rel); /* 2r + 1 */
      for (long spins = 0; arrived.load(std::memory_order_acquire) != 2 * r + 2; spins++)
        if (spins > 1000) std::this_thread::yield();
      int mine = np_free(al.a, p) == NP_OK;
      while (other_done.load(std::memory_order_acquire) != r + 1) std::this_thread::yield();
      int theirs = other_ok.load(std::memory_order_relaxed);
      both += mine && theirs;
      neither += !mine && !theirs;
    }
    stop = true;
    other.join();
    EXPECT_EQ(both, 0) << "rounds where both frees succeeded";
    EXPECT_EQ(neither, 0) << "rounds where neither did";
    expected_invalid += rounds;
    np_thread_cache_flush(al.a);
    np_stats s = Stats(al.a);
    EXPECT_EQ(s.small.active + s.normal.active, 0u);
    EXPECT_EQ(s.invalid_frees, expected_invalid);
  }
}

// Frees of stale pointers racing with the release of the runs they point
// into (found by threads_fuzz: a reader saw a freed run's old handle, then its
// cleared subpage). One thread allocates and frees 4 KiB blocks (two per
// subpage run, so runs come and go); another frees the same pointers again
// and again. Nothing crashes, and every block ends freed exactly once: the
// arena's counts come back to zero.
TEST(DoubleFree, StaleFreesRacingTheirRunsRelease) {
#ifdef __SANITIZE_THREAD__
  // The stale frees read metadata that the owner is recycling under the arena
  // lock, with no happens-before: that is the point of the test (the reader
  // must validate what it read, never trust it), and TSan rightly reports
  // every such read. The race is exercised under the other builds.
  GTEST_SKIP() << "deliberately racy reads of recycled metadata";
#endif
  for (int caches : {0, 1}) {
    SCOPED_TRACE(caches);
    np_config c = np_config_default();
    c.arenas = 1;
    c.exact_double_free = 1;  // a stale free may race the owner's free of a block
    if (!caches) c.small_cache_size = c.normal_cache_size = 0;
    Alloc al(c);
    constexpr int kBlocks = 16;
    std::atomic<void *> published[kBlocks] = {};
    std::atomic<bool> stop{false};
    std::thread other([&] {
      while (!stop.load(std::memory_order_relaxed))
        for (auto &slot : published) np_free(al.a, slot.load(std::memory_order_relaxed));
    });
#ifdef NP_SANITIZER
    const int rounds = 3000;
#else
    const int rounds = 30000;
#endif
    void *mine[kBlocks];
    for (int r = 0; r < rounds; r++) {
      int n = 1 + r % kBlocks;
      for (int i = 0; i < n; i++) {
        mine[i] = np_alloc(al.a, 4096);
        ASSERT_NE(mine[i], nullptr);
        published[i].store(mine[i], std::memory_order_relaxed);
      }
      for (int i = n; i-- > 0;) np_free(al.a, mine[i]); /* the other thread may have been first */
    }
    stop = true;
    other.join();
    np_thread_cache_flush(al.a);
    np_stats s = Stats(al.a);
    EXPECT_EQ(s.small.active, 0u);
    EXPECT_EQ(s.small.allocations, s.small.deallocations);
  }
}

}  // namespace
