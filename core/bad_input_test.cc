// Bad frees: every pointer that is not the start of a live block of this
// allocator is refused with its error code, counted in invalid_frees, and
// changes nothing else: the statistics stay as they were, the live blocks keep
// their contents, np_usable_size says 0 for the pointer, and the allocator goes
// on handing out fresh, non-overlapping blocks.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "core/test_support.h"

namespace {

using np_test::AllocPtr;
using np_test::KiB;
using np_test::Make;
using np_test::MiB;
using np_test::SizeClassTable;
using np_test::Stats;

constexpr size_t kPage = 8192;
constexpr size_t kChunk = 4 * MiB;


uint64_t Word(uint64_t id, size_t off) { return (id * 0x9E3779B97F4A7C15ull) ^ (off >> 3); }

// Full fill up to 64 KiB; above that the first and last 4 KiB and one word
// every 4 KiB.
void Fill(char* p, size_t n, uint64_t id) {
  for (size_t off = 0; off + 8 <= n; off += 8) {
    if (n > 64 * KiB && off >= 4 * KiB && off + 4 * KiB < n && off % (4 * KiB) != 0) continue;
    uint64_t w = Word(id, off);
    memcpy(p + off, &w, 8);
  }
}

bool Intact(const char* p, size_t n, uint64_t id) {
  for (size_t off = 0; off + 8 <= n; off += 8) {
    if (n > 64 * KiB && off >= 4 * KiB && off + 4 * KiB < n && off % (4 * KiB) != 0) continue;
    uint64_t w;
    memcpy(&w, p + off, 8);
    if (w != Word(id, off)) return false;
  }
  return true;
}

void ExpectKind(const np_size_kind_stats& a, const np_size_kind_stats& b, const char* kind) {
  EXPECT_EQ(a.allocations, b.allocations) << kind;
  EXPECT_EQ(a.deallocations, b.deallocations) << kind;
  EXPECT_EQ(a.active, b.active) << kind;
  EXPECT_EQ(a.active_bytes, b.active_bytes) << kind;
}

// Every field but invalid_frees.
void ExpectSameStats(const np_stats& a, const np_stats& b) {
  ExpectKind(a.small, b.small, "small");
  ExpectKind(a.normal, b.normal, "normal");
  ExpectKind(a.huge, b.huge, "huge");
  EXPECT_EQ(a.chunk_allocations, b.chunk_allocations);
  EXPECT_EQ(a.chunk_deallocations, b.chunk_deallocations);
  EXPECT_EQ(a.mapped_bytes, b.mapped_bytes);
  EXPECT_EQ(a.size_classes, b.size_classes);
  EXPECT_EQ(a.small_classes, b.small_classes);
  for (int i = 0; i < NP_CHUNK_LISTS; ++i) {
    EXPECT_EQ(a.lists[i].chunks, b.lists[i].chunks) << "list " << i;
    EXPECT_EQ(a.lists[i].free_bytes, b.lists[i].free_bytes) << "list " << i;
    for (uint64_t c = 0; c < a.lists[i].chunks && c < NP_STATS_MAX_CHUNKS; ++c)
      EXPECT_EQ(a.lists[i].usage[c], b.lists[i].usage[c]) << "list " << i << " chunk " << c;
  }
  for (unsigned i = 0; i < a.small_classes && i < NP_MAX_SIZE_CLASSES; ++i) {
    EXPECT_EQ(a.small_class[i].subpages, b.small_class[i].subpages) << "class " << i;
    EXPECT_EQ(a.small_class[i].elements, b.small_class[i].elements) << "class " << i;
    EXPECT_EQ(a.small_class[i].free_elements, b.small_class[i].free_elements) << "class " << i;
  }
}

std::string CodeName(int rc) { return std::to_string(rc) + " (" + np_strerror(rc) + ")"; }

class BadFree : public testing::Test {
 protected:
  struct Live {
    char* p;
    size_t req, n;
    uint64_t id;
  };

  void SetUp() override {
    // The pool itself: the fixture's layout (which pages and elements were
    // never handed out) must not depend on a cache's batches. Bad frees with
    // caches on are in thread_cache_test and cpu_cache_test.
    np_config c = np_config_default();
    c.small_cache_size = c.normal_cache_size = 0;
    a_ = Make(c);
    ASSERT_TRUE(a_);
    // The first normal block of a fresh allocator lands at page offset 0 of its
    // chunk (lowest offset wins): pages 64.. of that chunk are known free until
    // the fixture's other runs (about 150 pages) are taken after it.
    first_ = Add(512 * KiB);
    small_ = Add(100);  // class 112
    Add(100);
    Add(100);
    tiny_ = Add(16);
    Add(28672);
    Add(32768);
    normal_ = Add(40000);  // class 40960, 5 pages
    Add(1 * MiB);
    huge_ = Add(5 * MiB);
    ASSERT_FALSE(HasFailure());
  }

  void TearDown() override {
    if (!a_) return;
    for (const Live& l : live_) {
      EXPECT_TRUE(Intact(l.p, l.n, l.id));
      EXPECT_EQ(np_free(a_.get(), l.p), NP_OK);
    }
    np_stats s = Stats(a_.get());
    EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
    EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes, 0u);
    EXPECT_EQ(s.invalid_frees, expected_invalid_);
  }

  char* Add(size_t req) {
    char* p = static_cast<char*>(np_alloc(a_.get(), req));
    EXPECT_NE(p, nullptr) << req;
    if (!p) return nullptr;
    size_t n = np_usable_size(a_.get(), p);
    EXPECT_GE(n, req);
    Live l{p, req, n, next_id_++};
    Fill(p, n, l.id);
    live_.push_back(l);
    return p;
  }

  // Frees a block of the fixture for real (so that it can be freed again).
  size_t Remove(char* p) {
    for (size_t i = 0; i < live_.size(); ++i) {
      if (live_[i].p != p) continue;
      size_t req = live_[i].req;
      EXPECT_TRUE(Intact(p, live_[i].n, live_[i].id));
      EXPECT_EQ(np_free(a_.get(), p), NP_OK);
      live_.erase(live_.begin() + i);
      return req;
    }
    ADD_FAILURE() << "not a live block";
    return 0;
  }

  void ExpectAllIntact() {
    for (const Live& l : live_) {
      EXPECT_TRUE(Intact(l.p, l.n, l.id)) << "live block of " << l.req << " bytes changed";
      EXPECT_EQ(np_usable_size(a_.get(), l.p), l.n);
    }
  }

  // The bad free: refused with one of `codes`, nothing changes but
  // invalid_frees; then a fresh block of realloc_size still works.
  void ExpectRefused(const void* bad, std::initializer_list<int> codes, size_t realloc_size) {
    SCOPED_TRACE(testing::Message() << "bad pointer " << bad);
    EXPECT_EQ(np_usable_size(a_.get(), bad), 0u);
    const np_stats before = Stats(a_.get());
    int rc = np_free(a_.get(), const_cast<void*>(bad));
    bool ok = false;
    std::string allowed;
    for (int c : codes) {
      ok |= rc == c;
      allowed += CodeName(c) + " ";
    }
    EXPECT_TRUE(ok) << "np_free gave " << CodeName(rc) << ", expected one of " << allowed;
    if (rc != NP_OK) ++expected_invalid_;
    const np_stats after = Stats(a_.get());
    ExpectSameStats(before, after);
    EXPECT_EQ(after.invalid_frees, before.invalid_frees + 1);
    EXPECT_EQ(np_usable_size(a_.get(), bad), 0u);
    ExpectAllIntact();

    char* p = static_cast<char*>(np_alloc(a_.get(), realloc_size));
    ASSERT_NE(p, nullptr);
    size_t n = np_usable_size(a_.get(), p);
    EXPECT_GE(n, realloc_size);
    for (const Live& l : live_)
      EXPECT_TRUE(p + n <= l.p || l.p + l.n <= p) << "fresh block overlaps a live one";
    Fill(p, n, 0xfeed);
    ExpectAllIntact();
    EXPECT_TRUE(Intact(p, n, 0xfeed));
    EXPECT_EQ(np_free(a_.get(), p), NP_OK);
  }

  AllocPtr a_;
  std::vector<Live> live_;
  uint64_t next_id_ = 1;
  uint64_t expected_invalid_ = 0;
  char* first_ = nullptr;
  char* small_ = nullptr;
  char* tiny_ = nullptr;
  char* normal_ = nullptr;
  char* huge_ = nullptr;
};

int g_static_variable = 42;

TEST_F(BadFree, StackPointer) {
  int on_stack = 1;
  alignas(64) char buf[256];
  memset(buf, 0, sizeof buf);
  ExpectRefused(&on_stack, {NP_ERR_FOREIGN_POINTER}, 100);
  ExpectRefused(buf, {NP_ERR_FOREIGN_POINTER}, 100);
  EXPECT_EQ(on_stack, 1);
}

TEST_F(BadFree, MallocPointer) {
  void* m = malloc(100);
  void* big = malloc(3 * MiB);  // glibc maps this one
  ASSERT_TRUE(m && big);
  memset(m, 0x11, 100);
  ExpectRefused(m, {NP_ERR_FOREIGN_POINTER}, 100);
  ExpectRefused(big, {NP_ERR_FOREIGN_POINTER}, 40000);
  EXPECT_EQ(static_cast<unsigned char*>(m)[99], 0x11);
  free(m);
  free(big);
}

TEST_F(BadFree, WildPointers) {
  ExpectRefused(&g_static_variable, {NP_ERR_FOREIGN_POINTER}, 16);
  ExpectRefused(reinterpret_cast<void*>(uintptr_t{16}), {NP_ERR_FOREIGN_POINTER}, 16);
  ExpectRefused(reinterpret_cast<void*>(uintptr_t{1} << 47), {NP_ERR_FOREIGN_POINTER}, 16);
  ExpectRefused(reinterpret_cast<void*>(~uintptr_t{4095}), {NP_ERR_FOREIGN_POINTER}, 16);
  ExpectRefused(reinterpret_cast<void*>(~uintptr_t{0}), {NP_ERR_FOREIGN_POINTER}, 16);
  // The allocator's own (metadata) memory is not a block either.
  ExpectRefused(a_.get(), {NP_ERR_FOREIGN_POINTER}, 16);
  EXPECT_EQ(g_static_variable, 42);
}

// Regression: a thread's first free with this allocator, of a pointer whose
// chunk key is 0 (any address below the first chunk), once read an empty
// recent-chunk entry (key 0, no chunk) as a hit and crashed.
TEST(BadFreeFirst, LowPointerBeforeAnyFreeIsRefused) {
  for (uintptr_t bad : {uintptr_t{16}, uintptr_t{4096}, uintptr_t{kChunk - 16}}) {
    AllocPtr a = Make(np_config_default());
    ASSERT_TRUE(a);
    // A new thread: the allocator takes its slot 0, the fast path's.
    std::thread([&] {
      void* p = np_alloc(a.get(), 64);  // the thread's cache, and nothing freed yet
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(np_free(a.get(), reinterpret_cast<void*>(bad)), NP_ERR_FOREIGN_POINTER) << bad;
      EXPECT_EQ(np_free(a.get(), p), NP_OK);
    }).join();
    EXPECT_EQ(Stats(a.get()).invalid_frees, 1u);
  }
}

TEST_F(BadFree, InsideSmallBlock) {
  ExpectRefused(small_ + 1, {NP_ERR_NOT_BLOCK_START}, 100);
  ExpectRefused(small_ + 16, {NP_ERR_NOT_BLOCK_START}, 100);  // quantum-aligned, still inside
  ExpectRefused(small_ + 111, {NP_ERR_NOT_BLOCK_START}, 100);
  ExpectRefused(tiny_ + 8, {NP_ERR_NOT_BLOCK_START}, 16);
}

TEST_F(BadFree, InsideNormalBlock) {
  const size_t n = np_usable_size(a_.get(), normal_);
  ASSERT_EQ(n, 40960u);
  ExpectRefused(normal_ + 1, {NP_ERR_NOT_BLOCK_START}, 40000);
  ExpectRefused(normal_ + kPage, {NP_ERR_NOT_BLOCK_START}, 40000);  // a page start inside
  ExpectRefused(normal_ + n - kPage, {NP_ERR_NOT_BLOCK_START}, 40000);
  ExpectRefused(normal_ + n - 1, {NP_ERR_NOT_BLOCK_START}, 40000);
  ExpectRefused(first_ + 32 * kPage, {NP_ERR_NOT_BLOCK_START}, 512 * KiB);
}

TEST_F(BadFree, InsideHugeBlock) {
  const size_t n = np_usable_size(a_.get(), huge_);
  ASSERT_GE(n, 5 * MiB);
  ExpectRefused(huge_ + 1, {NP_ERR_NOT_BLOCK_START}, 5 * MiB);
  ExpectRefused(huge_ + 4096, {NP_ERR_NOT_BLOCK_START}, 5 * MiB);
  ExpectRefused(huge_ + kChunk, {NP_ERR_NOT_BLOCK_START}, 5 * MiB);  // a chunk-size step in
  ExpectRefused(huge_ + n - 4096, {NP_ERR_NOT_BLOCK_START}, 5 * MiB);
  ExpectRefused(huge_ + n - 1, {NP_ERR_NOT_BLOCK_START}, 5 * MiB);
}

TEST_F(BadFree, DoubleFreeSmall) {
  size_t req = Remove(small_);
  EXPECT_EQ(np_usable_size(a_.get(), small_), 0u);
  ExpectRefused(small_, {NP_ERR_DOUBLE_FREE}, req);
  req = Remove(tiny_);
  ExpectRefused(tiny_, {NP_ERR_DOUBLE_FREE}, req);
}

TEST_F(BadFree, DoubleFreeSmallAfterItsSubpageWasReleased) {
  // 4096-byte class: two per one-page subpage. Three blocks make two
  // subpages; emptying the first while the second is on the class list gives
  // its run back to the chunk (NETTY_FACTS "Subpages").
  char* b1 = Add(4096);
  char* b2 = Add(4096);
  char* b3 = Add(4096);
  ASSERT_TRUE(b1 && b2 && b3);
  np_stats s = Stats(a_.get());
  EXPECT_EQ(s.small_class[27].subpages, 2u);
  Remove(b1);
  Remove(b2);
  np_thread_cache_flush(a_.get());  // from the thread cache back to the subpages
  s = Stats(a_.get());
  EXPECT_EQ(s.small_class[27].subpages, 1u);
  ExpectRefused(b1, {NP_ERR_DOUBLE_FREE, NP_ERR_NOT_BLOCK_START}, 4096);
  ExpectRefused(b2, {NP_ERR_DOUBLE_FREE, NP_ERR_NOT_BLOCK_START}, 4096);
}

TEST_F(BadFree, DoubleFreeNormal) {
  size_t req = Remove(normal_);
  EXPECT_EQ(np_usable_size(a_.get(), normal_), 0u);
  ExpectRefused(normal_, {NP_ERR_DOUBLE_FREE}, req);
  char* c = Add(32768);  // the 32 KiB class (the one Netty's thread cache keeps)
  req = Remove(c);
  ExpectRefused(c, {NP_ERR_DOUBLE_FREE}, req);
}

TEST_F(BadFree, DoubleFreeNormalInsideAMergedFreeRun) {
  char* n1 = Add(80 * KiB);  // 10 pages
  char* n2 = Add(80 * KiB);
  char* n3 = Add(80 * KiB);
  ASSERT_TRUE(n1 && n2 && n3);
  Remove(n2);
  Remove(n1);  // n1 and n2 merge into one free run
  ExpectRefused(n1, {NP_ERR_DOUBLE_FREE}, 80 * KiB);
  ExpectRefused(n2, {NP_ERR_DOUBLE_FREE, NP_ERR_NOT_BLOCK_START}, 80 * KiB);
}

TEST_F(BadFree, DoubleFreeHuge) {
  size_t req = Remove(huge_);
  EXPECT_EQ(np_usable_size(a_.get(), huge_), 0u);
  // Its span is retained memory now; its start is still known for one.
  ExpectRefused(huge_, {NP_ERR_DOUBLE_FREE}, req);
}

// A second free of a huge block's start is a double free whether its span is
// retained, unmapped (dirty_decay_ms 0, or purged), in any chunk geometry and
// with caches on; an address inside it, or past its first chunk, is not a
// block start npool knows. A chunk that takes the address again makes it
// that chunk's.
struct HugeCase {
  const char* name;
  const char* conf;
  bool purge;  // np_allocator_purge after the free: the span is unmapped
};

class HugeDoubleFree : public testing::TestWithParam<HugeCase> {};

TEST_P(HugeDoubleFree, IsReportedAsOne) {
  np_config c = np_config_default();
  ASSERT_EQ(np_config_from_string(&c, GetParam().conf, nullptr, 0), NP_OK);
  AllocPtr a = Make(c);
  ASSERT_TRUE(a);
  const size_t chunk = c.page_size << c.max_order;
  for (size_t size : {chunk + 1, 3 * chunk, 5 * MiB + 12345}) {
    SCOPED_TRACE(size);
    char* p = static_cast<char*>(np_alloc(a.get(), size));
    ASSERT_NE(p, nullptr);
    char* keep = static_cast<char*>(np_alloc(a.get(), 100));  // the allocator stays in use
    ASSERT_EQ(np_free(a.get(), p), NP_OK);
    if (GetParam().purge) ASSERT_EQ(np_allocator_purge(a.get()), NP_OK);
    const uint64_t invalid = Stats(a.get()).invalid_frees;
    EXPECT_EQ(np_free(a.get(), p), NP_ERR_DOUBLE_FREE);
    EXPECT_EQ(np_free(a.get(), p), NP_ERR_DOUBLE_FREE) << "and again";
    EXPECT_EQ(np_free(a.get(), p + 4096), NP_ERR_FOREIGN_POINTER);
    EXPECT_EQ(np_usable_size(a.get(), p), 0u);
    void* bad = nullptr;  // realloc of it is refused the same way: EINVAL, nothing moved
    errno = 0;
    bad = np_realloc(a.get(), p, 64);
    EXPECT_EQ(bad, nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(Stats(a.get()).invalid_frees, invalid + 3);
    // The address back in use (the same span, from retained memory or a new
    // mapping): a live block again, freed once.
    char* again = static_cast<char*>(np_alloc(a.get(), size));
    ASSERT_NE(again, nullptr);
    memset(again, 1, 4096);
    EXPECT_EQ(np_free(a.get(), again), NP_OK);
    EXPECT_EQ(np_free(a.get(), keep), NP_OK);
    np_stats s = Stats(a.get());
    EXPECT_EQ(s.huge.active, 0u);
    EXPECT_EQ(s.small.active + s.normal.active, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, HugeDoubleFree,
                         testing::Values(HugeCase{"Default", "", false},
                                         HugeCase{"DefaultPurged", "", true},
                                         HugeCase{"DecayZero", "dirty_decay_ms:0", false},
                                         HugeCase{"SmallChunks", "max_order:3", false},
                                         HugeCase{"SmallChunksDecayZero", "max_order:3,dirty_decay_ms:0", false},
                                         HugeCase{"NoCaches", "small_cache_size:0,normal_cache_size:0", true}),
                         [](const testing::TestParamInfo<HugeCase>& i) { return std::string(i.param.name); });

TEST_F(BadFree, PointerFromAnotherAllocator) {
  AllocPtr b = Make(np_config_default());
  ASSERT_TRUE(b);
  char* bs = static_cast<char*>(np_alloc(b.get(), 100));
  char* bn = static_cast<char*>(np_alloc(b.get(), 40000));
  char* bh = static_cast<char*>(np_alloc(b.get(), 5 * MiB));
  ASSERT_TRUE(bs && bn && bh);
  Fill(bs, 112, 901);
  Fill(bn, 40960, 902);
  Fill(bh, 5 * MiB, 903);
  const np_stats b_before = Stats(b.get());
  ExpectRefused(bs, {NP_ERR_FOREIGN_POINTER}, 100);
  ExpectRefused(bn, {NP_ERR_FOREIGN_POINTER}, 40000);
  ExpectRefused(bh, {NP_ERR_FOREIGN_POINTER}, 5 * MiB);
  const np_stats b_after = Stats(b.get());
  ExpectSameStats(b_before, b_after);
  EXPECT_EQ(b_after.invalid_frees, 0u);
  EXPECT_TRUE(Intact(bs, 112, 901));
  EXPECT_TRUE(Intact(bn, 40960, 902));
  EXPECT_TRUE(Intact(bh, 5 * MiB, 903));
  EXPECT_EQ(np_usable_size(b.get(), bs), 112u);
  EXPECT_EQ(np_free(b.get(), bs), NP_OK);
  EXPECT_EQ(np_free(b.get(), bn), NP_OK);
  EXPECT_EQ(np_free(b.get(), bh), NP_OK);
}

TEST_F(BadFree, PointerIntoAFreePageOfAChunk) {
  // Page 400 of the first chunk has never been handed out.
  const char* never = first_ + 400 * kPage;
  ExpectRefused(never, {NP_ERR_DOUBLE_FREE, NP_ERR_NOT_BLOCK_START, NP_ERR_FOREIGN_POINTER},
                40000);
  ExpectRefused(never + 48,
                {NP_ERR_DOUBLE_FREE, NP_ERR_NOT_BLOCK_START, NP_ERR_FOREIGN_POINTER}, 100);
  ExpectRefused(first_ + 511 * kPage + kPage - 16,
                {NP_ERR_DOUBLE_FREE, NP_ERR_NOT_BLOCK_START, NP_ERR_FOREIGN_POINTER}, 16);
}

TEST_F(BadFree, PointerToAFreeElementOfASubpage) {
  // The 16-byte class's subpage holds 512 elements and only tiny_ is live (its
  // first element): element 300 has never been handed out.
  np_stats s = Stats(a_.get());
  ASSERT_EQ(s.small_class[0].subpages, 1u);
  ASSERT_EQ(s.small_class[0].free_elements, 511u);
  ExpectRefused(tiny_ + 300 * 16, {NP_ERR_DOUBLE_FREE, NP_ERR_NOT_BLOCK_START}, 16);
}

TEST_F(BadFree, NullIsANoOp) {
  const np_stats before = Stats(a_.get());
  EXPECT_EQ(np_free(a_.get(), nullptr), NP_OK);
  const np_stats after = Stats(a_.get());
  ExpectSameStats(before, after);
  EXPECT_EQ(after.invalid_frees, before.invalid_frees);
  ExpectAllIntact();
}

TEST_F(BadFree, ManyBadFreesInARowThenEverythingStillWorks) {
  int on_stack = 0;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(np_free(a_.get(), &on_stack), NP_ERR_FOREIGN_POINTER);
    EXPECT_EQ(np_free(a_.get(), small_ + 8), NP_ERR_NOT_BLOCK_START);
    EXPECT_EQ(np_free(a_.get(), huge_ + 8), NP_ERR_NOT_BLOCK_START);
    expected_invalid_ += 3;
  }
  EXPECT_EQ(Stats(a_.get()).invalid_frees, 300u);
  ExpectAllIntact();
  std::vector<char*> more;
  for (size_t sz : {size_t{16}, size_t{100}, size_t{5000}, size_t{40000}, 1 * MiB, 5 * MiB})
    more.push_back(Add(sz));
  ExpectAllIntact();
}

}  // namespace
