// Retained memory and purging (retained.c, purge.c): emptied chunks and freed
// huge blocks are kept and reused without a system call, and go back to the
// system after dirty_decay_ms, on the next arena call, by the background
// thread, or at once with np_allocator_purge.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "npool.h"
#include "test_support.h"

namespace {

using np_test::Stats;

constexpr size_t KiB = 1024, MiB = 1024 * KiB;
constexpr size_t kChunk = 4 * MiB;

// No caches in front of the arena: every free reaches the chunks.
np_config PoolOnly(unsigned decay_ms = 10000) {
  np_config c = np_config_default();
  c.arenas = 1;
  c.small_cache_size = c.normal_cache_size = 0;
  c.dirty_decay_ms = decay_ms;
  return c;
}

struct Alloc {
  explicit Alloc(np_config c) { EXPECT_EQ(np_allocator_create(&c, &a), NP_OK); }
  ~Alloc() { np_allocator_destroy(a); }
  np_allocator* a = nullptr;
};

size_t RssBytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    EXPECT_EQ(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
  }
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

// Pages of [p, p + n) resident now (an unmapped range counts none).
size_t ResidentBytes(void* p, size_t n) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v(n / page);
  if (mincore(p, n, v.data()) != 0) return 0;
  size_t r = 0;
  for (unsigned char b : v) r += (b & 1) ? page : 0;
  return r;
}

void Touch(void* p, size_t n) { memset(p, 0x5a, n); }

TEST(Retained, AnEmptiedChunkIsReusedWithoutANewMapping) {
  Alloc al(PoolOnly());
  void* p = np_alloc(al.a, 3 * MiB);  // a run of its own chunk
  ASSERT_NE(p, nullptr);
  Touch(p, 3 * MiB);
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.chunk_deallocations, 1u);
  EXPECT_EQ(s.mapped_bytes, 0u) << "mapped: in use only";
  EXPECT_EQ(s.retained_bytes, kChunk);
  EXPECT_EQ(s.dirty_bytes, kChunk);
  void* q = np_alloc(al.a, 3 * MiB);
  EXPECT_EQ(q, p) << "the retained chunk, at the same address";
  s = Stats(al.a);
  EXPECT_EQ(s.chunk_allocations, 2u);
  EXPECT_EQ(s.reused_bytes, kChunk);
  EXPECT_EQ(s.retained_bytes, 0u);
  EXPECT_EQ(s.mapped_bytes, kChunk);
  EXPECT_EQ(s.purged_bytes, 0u);
  EXPECT_EQ(np_free(al.a, q), NP_OK);
}

TEST(Retained, AHugeBlockIsReusedSplitAndMerged) {
  Alloc al(PoolOnly());
  char* h = static_cast<char*>(np_alloc(al.a, 2 * kChunk));  // spans 2 chunks
  ASSERT_NE(h, nullptr);
  Touch(h, 2 * kChunk);
  ASSERT_EQ(np_free(al.a, h), NP_OK);
  EXPECT_EQ(Stats(al.a).retained_bytes, 2 * kChunk);
  // Two chunks out of it, from its start (best fit).
  void* a = np_alloc(al.a, 3 * MiB);
  void* b = np_alloc(al.a, 3 * MiB);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a, h);
  EXPECT_EQ(b, h + kChunk);
  EXPECT_EQ(Stats(al.a).retained_bytes, 0u);
  // Freed, they merge back into one range that holds the huge block again.
  ASSERT_EQ(np_free(al.a, a), NP_OK);
  ASSERT_EQ(np_free(al.a, b), NP_OK);
  EXPECT_EQ(Stats(al.a).retained_bytes, 2 * kChunk);
  void* again = np_alloc(al.a, 2 * kChunk - 12345);
  EXPECT_EQ(again, h);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.reused_bytes, 4 * kChunk);
  EXPECT_EQ(s.purged_bytes, 0u) << "no system call gave anything back";
  EXPECT_EQ(s.huge.active_bytes, np_usable_size(al.a, again));
  EXPECT_EQ(np_free(al.a, again), NP_OK);
}

// A huge block of 5 MiB spans 2 chunks. From a fresh mapping, the 3 MiB past
// it were never touched; from a retained span that an 8 MiB block wrote, they
// stay resident (giving them back would cost the next larger block a fault per
// page), and the stats say so until the block is freed.
TEST(Retained, TheReusedSpanPastAHugeBlockIsCounted) {
  Alloc al(PoolOnly());
  char* fresh = static_cast<char*>(np_alloc(al.a, 5 * MiB));
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(Stats(al.a).huge_tail_bytes, 0u) << "a new mapping: nothing past it was touched";
  ASSERT_EQ(np_free(al.a, fresh), NP_OK);
  char* big = static_cast<char*>(np_alloc(al.a, 2 * kChunk));
  ASSERT_EQ(big, fresh) << "the retained span";
  Touch(big, 2 * kChunk);
  EXPECT_EQ(Stats(al.a).huge_tail_bytes, 0u) << "an exact span";
  ASSERT_EQ(np_free(al.a, big), NP_OK);
  char* p = static_cast<char*>(np_alloc(al.a, 5 * MiB));
  ASSERT_EQ(p, big);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.huge_tail_bytes, 3 * MiB);
  EXPECT_EQ(s.huge.active_bytes, 5 * MiB);
#ifndef __SANITIZE_THREAD__  // TSan's shadow of the touched memory stays resident
  EXPECT_EQ(ResidentBytes(p + 5 * MiB, 3 * MiB), 3 * MiB) << "what the count stands for";
#endif
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  EXPECT_EQ(Stats(al.a).huge_tail_bytes, 0u) << "freed: back with the span in retained";
  char* q = static_cast<char*>(np_alloc(al.a, 5 * MiB));
  ASSERT_EQ(q, big);
  EXPECT_EQ(Stats(al.a).huge_tail_bytes, 3 * MiB);
  ASSERT_EQ(np_free(al.a, q), NP_OK);
}

TEST(Retained, CallocOfReusedMemoryIsZero) {
  Alloc al(PoolOnly());
  for (size_t size : {2 * kChunk + 4096, 3 * MiB}) {
    SCOPED_TRACE(size);
    char* p = static_cast<char*>(np_alloc(al.a, size));
    ASSERT_NE(p, nullptr);
    memset(p, 0xab, size);
    ASSERT_EQ(np_free(al.a, p), NP_OK);
    char* q = static_cast<char*>(np_calloc(al.a, 1, size));
    ASSERT_EQ(q, p) << "reused";
    for (size_t i = 0; i < size; i += 512) ASSERT_EQ(q[i], 0) << i;
    ASSERT_EQ(np_free(al.a, q), NP_OK);
  }
}

TEST(Retained, AtMostRetainedMax) {
  np_config c = PoolOnly();
  c.retained_max = 2 * kChunk;
  Alloc al(c);
  std::vector<void*> v;
  for (int i = 0; i < 4; i++) v.push_back(np_alloc(al.a, 3 * MiB));
  for (void* p : v) ASSERT_EQ(np_free(al.a, p), NP_OK);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.retained_bytes, 2 * kChunk);
  EXPECT_EQ(s.purged_bytes, 2 * kChunk) << "the rest was unmapped";
}

// dirty_decay_ms 0: Netty's immediate release, nothing retained.
TEST(Retained, DecayZeroReleasesAtOnce) {
  Alloc al(PoolOnly(0));
  void* p = np_alloc(al.a, 3 * MiB);
  void* h = np_alloc(al.a, 2 * kChunk);
  ASSERT_TRUE(p && h);
  Touch(p, 3 * MiB);
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  ASSERT_EQ(np_free(al.a, h), NP_OK);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.retained_bytes, 0u);
  EXPECT_EQ(s.dirty_bytes, 0u);
  EXPECT_EQ(s.mapped_bytes, 0u);
  EXPECT_EQ(ResidentBytes(p, 3 * MiB), 0u);
}

// Free runs inside a chunk that stays in use are dirty, and purged in place.
TEST(Purge, FreeRunsOfAChunkInUse) {
  Alloc al(PoolOnly());
  char* keep = static_cast<char*>(np_alloc(al.a, 64 * KiB));
  char* run = static_cast<char*>(np_alloc(al.a, 1 * MiB));
  ASSERT_TRUE(keep && run);
  Touch(run, 1 * MiB);
  ASSERT_EQ(ResidentBytes(run, 1 * MiB), 1 * MiB);
  ASSERT_EQ(np_free(al.a, run), NP_OK);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.dirty_bytes, 1 * MiB);
  EXPECT_EQ(s.retained_bytes, 0u);
  EXPECT_EQ(ResidentBytes(run, 1 * MiB), 1 * MiB) << "kept until due";
  ASSERT_EQ(np_allocator_purge(al.a), NP_OK);
  s = Stats(al.a);
  EXPECT_EQ(s.dirty_bytes, 0u);
  EXPECT_GE(s.purged_bytes, 1 * MiB);
  EXPECT_EQ(ResidentBytes(run, 1 * MiB), 0u);
  EXPECT_EQ(keep[0], keep[0]);
  // The purged run is handed out again, readable and writable.
  char* again = static_cast<char*>(np_alloc(al.a, 1 * MiB));
  ASSERT_EQ(again, run);
  Touch(again, 1 * MiB);
  EXPECT_EQ(np_free(al.a, again), NP_OK);
  EXPECT_EQ(np_free(al.a, keep), NP_OK);
}

TEST(Purge, NullAllocator) { EXPECT_EQ(np_allocator_purge(nullptr), NP_ERR_NULL_ARGUMENT); }

// Allocates `bytes` in 256 KiB blocks (several chunks), touches them, frees
// them all; returns the RSS before the allocations.
size_t ChurnAndFree(np_allocator* a, size_t bytes) {
  const size_t rss0 = RssBytes();
  std::vector<void*> v;
  for (size_t n = 0; n < bytes; n += 256 * KiB) {
    void* p = np_alloc(a, 256 * KiB);
    EXPECT_NE(p, nullptr);
    Touch(p, 256 * KiB);
    v.push_back(p);
  }
  void* h = np_alloc(a, 3 * kChunk);
  Touch(h, 3 * kChunk);
  v.push_back(h);
  EXPECT_GT(RssBytes(), rss0 + bytes / 2);
  for (void* p : v) EXPECT_EQ(np_free(a, p), NP_OK);
  return rss0;
}

// Without background_purge: what is due goes back on the next call that
// takes the arena lock after dirty_decay_ms.
TEST(Decay, OnTheNextCallAfterTheDecayTime) {
  constexpr unsigned kDecayMs = 50;
  constexpr size_t kBytes = 64 * MiB;
  Alloc al(PoolOnly(kDecayMs));
  const size_t rss0 = ChurnAndFree(al.a, kBytes);
  np_stats s = Stats(al.a);
  EXPECT_GT(s.retained_bytes, kBytes / 2) << "kept for reuse first";
  EXPECT_GT(RssBytes(), rss0 + kBytes / 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(kDecayMs + 20));
  void* p = np_alloc(al.a, 64 * KiB);  // any call into the chunks
  ASSERT_NE(p, nullptr);
  s = Stats(al.a);
  EXPECT_EQ(s.retained_bytes, 0u);
  EXPECT_LE(s.dirty_bytes, kChunk) << "only the new chunk's own";
  EXPECT_LE(RssBytes(), rss0 + kBytes / 10) << "RSS within 10% of the live bytes";
  EXPECT_EQ(np_free(al.a, p), NP_OK);
}

// With background_purge: back within dirty_decay_ms + 100 ms with no call.
TEST(Decay, ByTheBackgroundThread) {
  constexpr unsigned kDecayMs = 50;
  constexpr size_t kBytes = 64 * MiB;
  np_config c = PoolOnly(kDecayMs);
  c.background_purge = 1;
  Alloc al(c);
  const size_t rss0 = ChurnAndFree(al.a, kBytes);
  std::this_thread::sleep_for(std::chrono::milliseconds(kDecayMs + 100));
  EXPECT_LE(RssBytes(), rss0 + kBytes / 10) << "RSS within 10% of the live bytes";
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.retained_bytes, 0u);
  EXPECT_EQ(s.dirty_bytes, 0u);
  // It sleeps when nothing is dirty, and wakes again for new dirty memory.
  ChurnAndFree(al.a, 16 * MiB);
  EXPECT_GT(Stats(al.a).retained_bytes, 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(kDecayMs + 100));
  EXPECT_EQ(Stats(al.a).retained_bytes, 0u);
}

// A child forked while the background thread runs gets an allocator whose
// purging works (its own thread, started on its next allocation).
TEST(Decay, ForkWithTheBackgroundThread) {
#ifdef __SANITIZE_THREAD__
  GTEST_SKIP() << "TSan cannot start threads in the child of a multi-threaded fork";
#endif
  np_config c = PoolOnly(20);
  c.background_purge = 1;
  Alloc al(c);
  // The parent's thread is running (it purged a first block) before the
  // fork: a fork while a thread starts leaves ASan's runtime locked in the
  // child (a thread started there never runs), whatever npool does.
  void* first = np_alloc(al.a, 3 * MiB);
  ASSERT_EQ(np_free(al.a, first), NP_OK);
  for (int i = 0; i < 300 && Stats(al.a).retained_bytes != 0; i++) usleep(10 * 1000);
  ASSERT_EQ(Stats(al.a).retained_bytes, 0u) << "the parent's background thread purges";
  void* p = np_alloc(al.a, 3 * MiB);
  ASSERT_EQ(np_free(al.a, p), NP_OK);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    void* q = np_alloc(al.a, 3 * MiB);
    if (q == nullptr) _exit(1);
    Touch(q, 3 * MiB);
    if (np_free(al.a, q) != NP_OK) _exit(2);
    // The child's thread purges after the 20 ms decay; up to 3 s for it to
    // run at all (a loaded 2-CPU machine under ASan took longer than 200 ms).
    np_stats s;
    for (int i = 0; i < 300; i++) {
      usleep(10 * 1000);
      if (np_allocator_stats(al.a, &s) != NP_OK) _exit(3);
      if (s.retained_bytes == 0) break;
    }
    if (s.retained_bytes != 0) _exit(4);
    np_allocator_destroy(al.a);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The caches in front (the defaults): np_allocator_purge flushes the calling
// thread's cache first, so a freed working set goes back in full.
TEST(Purge, WithCachesEverythingUnusedGoesBack) {
  np_config c = np_config_default();
  c.arenas = 1;
  Alloc al(c);
  std::vector<void*> v;
  v.reserve(160);  // (the test's own allocations before the baseline)
  const size_t rss0 = RssBytes();
  for (size_t size : {64 * KiB, 1 * MiB, 16 * KiB, size_t(512)}) {
    for (int i = 0; i < 40; i++) {
      void* p = np_alloc(al.a, size);
      ASSERT_NE(p, nullptr);
      Touch(p, size);
      v.push_back(p);
    }
  }
  for (void* p : v) ASSERT_EQ(np_free(al.a, p), NP_OK);
  ASSERT_EQ(np_allocator_purge(al.a), NP_OK);
  np_stats s = Stats(al.a);
  EXPECT_EQ(s.retained_bytes, 0u);
  EXPECT_EQ(s.dirty_bytes, 0u);
#ifndef __SANITIZE_THREAD__  // TSan's shadow of the touched memory stays resident
  // (of the 44 MiB touched; ASan's and UBSan's runtimes map a little of their own)
#ifdef NP_SANITIZER
  EXPECT_LE(RssBytes(), rss0 + 8 * MiB);
#else
  EXPECT_LE(RssBytes(), rss0 + 4 * MiB);
#endif
#endif
}

}  // namespace
