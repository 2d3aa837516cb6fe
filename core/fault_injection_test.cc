// Fault injection (core/base/fault_inject.h, built into //core:npool_faults_<s>
// only): a workload (allocator creation, small, normal and huge blocks,
// aligned ones, realloc, pooled buffers that grow) is run once per system
// mapping and once per metadata allocation it makes, with exactly that one
// failing. Each time: the failing call gives NULL with errno ENOMEM (or
// NP_ERR_NO_MEMORY), nothing else breaks, the pool stays consistent (the same
// workload afterwards succeeds in full, every block keeps its pattern, the
// stats agree), and after np_allocator_destroy every byte npool mapped is
// unmapped.
#include <errno.h>
#include <string.h>

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "npool_buf.h"
#include "core/base/fault_inject.h"
#include "core/test_support.h"

namespace {

struct Held {
  unsigned char* p;
  size_t n;
  unsigned char tag;
};

// The workload; returns how many allocations failed (each with ENOMEM).
// With must_succeed, none may.
int Workload(np_allocator* a, bool must_succeed) {
  std::vector<Held> held;
  int failures = 0;
  auto take = [&](void* p, size_t n, const char* what) {
    if (p == nullptr) {
      EXPECT_EQ(errno, ENOMEM) << what << "(" << n << ")";
      EXPECT_FALSE(must_succeed) << what << "(" << n << ") failed with memory back";
      failures++;
      return;
    }
    unsigned char tag = static_cast<unsigned char>(held.size() * 7 + 1);
    memset(p, tag, n);
    held.push_back({static_cast<unsigned char*>(p), n, tag});
  };
  static const size_t sizes[] = {16, 100, 1000, 3000, 9000, 40000, 200000, 5u << 20};
#ifdef NP_SANITIZER
  const int rounds = 1;  // every call is a sweep step: keep the sanitizer runs short
#else
  const int rounds = 3;
#endif
  for (int round = 0; round < rounds; round++)
    for (size_t s : sizes) {
      errno = 0;
      take(np_alloc(a, s), s, "np_alloc");
    }
  errno = 0;
  take(np_alloc_aligned(a, 4096, 3000), 3000, "np_alloc_aligned");
  errno = 0;
  take(np_alloc_aligned(a, 65536, 70000), 70000, "np_alloc_aligned");
  errno = 0;
  take(np_calloc(a, 100, 100), 10000, "np_calloc");
  // Realloc the first few to a bigger size (a move): on failure the block stays.
  for (size_t i = 0; i < held.size() && i < 4; i++) {
    errno = 0;
    void* q = np_realloc(a, held[i].p, 600000);
    if (q == nullptr) {
      EXPECT_EQ(errno, ENOMEM);
      EXPECT_FALSE(must_succeed);
      failures++;
      continue;
    }
    for (size_t k = 0; k < held[i].n; k++)
      if (static_cast<unsigned char*>(q)[k] != held[i].tag) {
        ADD_FAILURE() << "realloc lost byte " << k;
        break;
      }
    held[i].p = static_cast<unsigned char*>(q);
    memset(q, held[i].tag, held[i].n);
  }
  // Every other block freed, then everything unused purged: free runs of
  // chunks still in use are madvised (a failing madvise leaves them dirty,
  // for the next purge), emptied chunks unmapped.
  for (size_t i = held.size(); i-- > 0;)
    if (i % 2) {
      EXPECT_EQ(np_free(a, held[i].p), NP_OK);
      held.erase(held.begin() + long(i));
    }
  EXPECT_EQ(np_allocator_purge(a), NP_OK);
  // A pooled buffer that grows through several blocks.
  errno = 0;
  np_buf* b = np_buf_alloc(a, 16, 1 << 20);
  if (b == nullptr) {
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_FALSE(must_succeed);
    failures++;
  } else {
    std::vector<unsigned char> chunk(5000, 0x5A);
    size_t written = 0;
    for (int i = 0; i < 40; i++) {
      int rc = np_buf_write_bytes(b, chunk.data(), chunk.size());
      if (rc != NP_OK) {
        EXPECT_EQ(rc, NP_ERR_NO_MEMORY);
        EXPECT_FALSE(must_succeed);
        failures++;
        size_t w = 0;
        np_buf_writer_index(b, &w);
        EXPECT_EQ(w, written) << "a failed write moved the writer index";
        continue;
      }
      written += chunk.size();
    }
    for (size_t i = 0; i < written; i += 997) {
      uint8_t v = 0;
      EXPECT_EQ(np_buf_get_u8(b, i, &v), NP_OK);
      EXPECT_EQ(v, 0x5A) << "at " << i;
    }
    EXPECT_EQ(np_buf_release(b), NP_OK);
  }
  np_stats s = np_test::Stats(a);
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, held.size());
  for (const Held& h : held) {
    for (size_t k = 0; k < h.n; k += 61)
      if (h.p[k] != h.tag) {
        ADD_FAILURE() << "block overwritten at " << k;
        break;
      }
    EXPECT_EQ(np_free(a, h.p), NP_OK);
  }
  s = np_test::Stats(a);
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  EXPECT_EQ(np_allocator_purge(a), NP_OK);
  if (must_succeed) {
    s = np_test::Stats(a);
    EXPECT_EQ(s.retained_bytes, 0u);
    EXPECT_EQ(s.dirty_bytes, 0u) << "a purge after a failed madvise purges what it left";
  }
  return failures;
}

class FaultSweep : public testing::TestWithParam<np_fault_kind> {
 protected:
  // Buffer objects come from a private allocator that lives for the process
  // (npool_buf.h): made here, before the mapped bytes are first counted.
  static void SetUpTestSuite() {
    np_allocator* a = nullptr;
    np_config c = np_config_default();
    ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
    np_buf* b = np_buf_alloc(a, 16, 64);
    ASSERT_NE(b, nullptr);
    np_buf_release(b);
    np_allocator_destroy(a);
  }
  np_config Config() {
    np_config c = np_config_default();
    c.arenas = 2;
    c.leak_detection = NP_LEAK_DISABLED;
    return c;
  }
  const char* Kind() {
    return GetParam() == NP_FAULT_MAP ? "map" : GetParam() == NP_FAULT_META ? "meta" : "purge";
  }
};

// Each call of the workload (after creation) fails in turn.
TEST_P(FaultSweep, EveryWorkloadCallFailsOnceAndNothingBreaksOrLeaks) {
  const np_fault_kind kind = GetParam();
  const np_config c = Config();
  const int64_t base = np_fault_mapped_bytes();
  long n = 1;
  int failed_requests = 0;
  for (;; n++) {
    SCOPED_TRACE(testing::Message() << Kind() << " #" << n);
    np_fault_arm(kind, 0);
    np_allocator* a = nullptr;
    ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
    np_fault_arm(kind, n);
    int failed = Workload(a, false);
    const bool fired = np_fault_fired();
    np_fault_arm(kind, 0);
    if (fired) {
      EXPECT_LE(failed, 3) << "one failing call should fail at most a few requests";
      failed_requests += failed;
    }
    Workload(a, true);  // memory is back: everything succeeds
    np_thread_cache_flush(a);
    np_allocator_destroy(a);
    EXPECT_EQ(np_fault_mapped_bytes(), base) << "bytes still mapped after destroy";
    if (HasFailure() || !fired) break;
  }
  EXPECT_GT(n, 5) << "the workload made few calls of this kind";
  printf("%s: the workload made %ld calls; %d requests failed over the sweep\n", Kind(), n - 1,
         failed_requests);
}

// Each call np_allocator_create makes fails in turn: NP_ERR_NO_MEMORY and
// nothing left mapped. Regression: when np_arena_init failed for arena i, the
// clean-up ran np_arena_destroy on that arena too (SIGSEGV; failing map #3 or
// metadata allocation #1 with 2 arenas).
TEST_P(FaultSweep, EveryCreateCallFailsOnceCleanly) {
  const np_fault_kind kind = GetParam();
  if (kind == NP_FAULT_PURGE) GTEST_SKIP() << "creation purges nothing";
  const np_config c = Config();
  const int64_t base = np_fault_mapped_bytes();
  int failures = 0;
  for (long n = 1;; n++) {
    SCOPED_TRACE(testing::Message() << Kind() << " #" << n);
    fprintf(stderr, "create with %s #%ld failing\n", Kind(), n);
    np_fault_arm(kind, n);
    np_allocator* a = nullptr;
    int rc = np_allocator_create(&c, &a);
    const bool fired = np_fault_fired();
    np_fault_arm(kind, 0);
    if (rc != NP_OK) {
      EXPECT_EQ(rc, NP_ERR_NO_MEMORY);
      EXPECT_TRUE(fired);
      EXPECT_EQ(a, nullptr);
      failures++;
    } else {
      Workload(a, true);
      np_allocator_destroy(a);
    }
    EXPECT_EQ(np_fault_mapped_bytes(), base) << "mappings left after a failed create";
    if (HasFailure() || !fired) break;
  }
  EXPECT_GT(failures, 0);
}

// A failed mapping of a chunk or a huge block, with retained memory in some
// arena (the caller's, or another thread's): the retained ranges go back to
// the system and the allocation is tried once more, so it succeeds; with
// nothing retained it fails with ENOMEM. (address_limit_test does the same
// under a real address-space limit.)
TEST(MapFailure, RetainedMemoryIsGivenBackAndTheAllocationRetried) {
  np_config c = np_config_default();
  c.arenas = 4;
  c.dirty_decay_ms = 60000;
  for (bool other_thread : {false, true}) {
    // (Normal blocks need new chunks, huge blocks mappings of their own. A
    // small block whose subpage record cannot be mapped takes another chunk's
    // room instead: no retry needed, nothing to check.)
    for (size_t size : {size_t(1) << 20, size_t(9) << 20}) {
      SCOPED_TRACE(testing::Message() << size << (other_thread ? " (retained by another thread)" : ""));
      np_allocator* a = nullptr;
      ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
      auto retain = [a] {  // a huge block freed: 8 MiB retained in this thread's arena
        void* h = np_alloc(a, 8 << 20);
        ASSERT_NE(h, nullptr);
        ASSERT_EQ(np_free(a, h), NP_OK);
      };
      // Here, retained memory of this thread's arena can serve a chunk: the
      // case that needs the retry is the other thread's.
      if (other_thread) std::thread(retain).join();
      else retain();
      ASSERT_GE(np_test::Stats(a).retained_bytes, size_t(8) << 20);
      std::thread([&] {
        void* w = np_alloc(a, 16);  // this thread's cache and arena exist
        ASSERT_NE(w, nullptr);
        np_free(a, w);
        // Blocks of size until one of them needs a new mapping, which fails.
        std::vector<void*> held;
        np_fault_arm(NP_FAULT_MAP, 1);
        while (!np_fault_fired() && held.size() < 200000) {
          errno = 0;
          void* p = np_alloc(a, size);
          ASSERT_NE(p, nullptr) << "errno " << errno << " after " << held.size();
          memset(p, 1, size < 4096 ? size : 4096);
          held.push_back(p);
        }
        np_fault_arm(NP_FAULT_MAP, 0);
        EXPECT_EQ(np_test::Stats(a).retained_bytes, 0u)
            << "the retry gave the retained memory back (" << size << (other_thread ? ", another thread's)" : ")");
        for (void* p : held) EXPECT_EQ(np_free(a, p), NP_OK);
        // Nothing retained now: the same failure is ENOMEM, and changes nothing.
        np_allocator_purge(a);
        np_fault_arm(NP_FAULT_MAP, 1);
        errno = 0;
        void* q = np_alloc(a, size_t(9) << 20);
        np_fault_arm(NP_FAULT_MAP, 0);
        EXPECT_EQ(q, nullptr);
        EXPECT_EQ(errno, ENOMEM);
      }).join();
      np_stats s = np_test::Stats(a);
      EXPECT_EQ(s.huge.active + s.normal.active + s.small.active, 0u);
      np_allocator_destroy(a);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, FaultSweep, testing::Values(NP_FAULT_MAP, NP_FAULT_META, NP_FAULT_PURGE),
                         [](const testing::TestParamInfo<np_fault_kind>& i) {
                           return std::string(i.param == NP_FAULT_MAP ? "Map" : i.param == NP_FAULT_META ? "Meta" : "Purge");
                         });

}  // namespace
