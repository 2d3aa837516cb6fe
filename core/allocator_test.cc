// Behaviour of npool's public API (npool.h), checked against the reference
// design in NETTY_FACTS.md: configuration checks, size normalisation, both chunk
// sizes, alignment, statistics, the chunk lists (Netty's usage thresholds),
// huge blocks, running out of memory and use from several threads.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "core/test_support.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define NP_TEST_UNDER_SANITIZER_WITH_SHADOW 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NP_TEST_UNDER_SANITIZER_WITH_SHADOW 1
#endif

namespace {

using np_test::AllocPtr;
using np_test::Cfg;
using np_test::KiB;
using np_test::Make;
using np_test::MiB;
using np_test::SizeClassTable;
using np_test::Stats;

// ---- Reference model of the size classes (NETTY_FACTS "Sizes") -------------


// The class a request is rounded to; 0 for a huge request.
size_t Normalize(const std::vector<size_t>& table, size_t req) {
  auto it = std::lower_bound(table.begin(), table.end(), req);
  return it == table.end() ? 0 : *it;
}

// Small (subpage-backed) classes: size < page << 2 (Netty's isSubpage).
unsigned SmallCount(const std::vector<size_t>& table, size_t page) {
  unsigned n = 0;
  for (size_t s : table) n += s < (page << 2);
  return n;
}

struct RunShape {
  size_t pages, elems;
};

// Netty's calculateRunSize: grow page by page until the elements fit exactly
// or page/16 elements are reached.
// Netty's calculateRunSize, capped at the chunk for chunks of a few pages.
RunShape SubpageRun(size_t elem, size_t page, size_t chunk) {
  size_t max_elems = page / 16, run = 0, n = 0;
  do {
    run += page;
    n = run / elem;
  } while (n < max_elems && run != n * elem);
  if (run > chunk) run = chunk, n = chunk / elem;
  return {run / page, n};
}

// ---- Helpers --------------------------------------------------------------------

// The pool itself, with no cache in front: tests that count subpages, chunks
// or arena operations exactly (caches, per-CPU ones especially, move blocks in
// batches).
np_config PoolOnly() {
  np_config c = np_config_default();
  c.small_cache_size = c.normal_cache_size = 0;
  return c;
}


// A pattern that names its block: every 8-byte word holds id-derived bits.
uint64_t Word(uint64_t id, size_t off) { return (id * 0x9E3779B97F4A7C15ull) ^ (off >> 3); }

void Fill(void* p, size_t n, uint64_t id) {
  unsigned char* b = static_cast<unsigned char*>(p);
  size_t off = 0;
  for (; off + 8 <= n; off += 8) {
    uint64_t w = Word(id, off);
    memcpy(b + off, &w, 8);
  }
  for (; off < n; ++off) b[off] = static_cast<unsigned char>(id);
}

bool Check(const void* p, size_t n, uint64_t id) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  size_t off = 0;
  for (; off + 8 <= n; off += 8) {
    uint64_t w;
    memcpy(&w, b + off, 8);
    if (w != Word(id, off)) return false;
  }
  for (; off < n; ++off)
    if (b[off] != static_cast<unsigned char>(id)) return false;
  return true;
}

// For big blocks: the first and last 64 bytes and one word every 16 KiB.
void FillSparse(void* p, size_t n, uint64_t id) {
  if (n <= 64 * KiB) return Fill(p, n, id);
  char* b = static_cast<char*>(p);
  Fill(b, 64, id);
  Fill(b + n - 64, 64, id ^ 1);
  for (size_t off = 16 * KiB; off + 8 <= n - 64; off += 16 * KiB) Fill(b + off, 8, id + off);
}

bool CheckSparse(const void* p, size_t n, uint64_t id) {
  if (n <= 64 * KiB) return Check(p, n, id);
  const char* b = static_cast<const char*>(p);
  if (!Check(b, 64, id) || !Check(b + n - 64, 64, id ^ 1)) return false;
  for (size_t off = 16 * KiB; off + 8 <= n - 64; off += 16 * KiB)
    if (!Check(b + off, 8, id + off)) return false;
  return true;
}

bool Aligned(const void* p, size_t alignment) {
  return (reinterpret_cast<uintptr_t>(p) & (alignment - 1)) == 0;
}

const char* const kListNames[NP_CHUNK_LISTS] = {"qInit", "q000", "q025", "q050", "q075", "q100"};


// ============================================================================
// Sizes
// ============================================================================

TEST(Sizes, ZeroGivesTheSmallestClass) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  void* p = np_alloc(a.get(), 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(np_usable_size(a.get(), p), 16u);
  memset(p, 0xab, 16);
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.small.active, 1u);
  EXPECT_EQ(s.small.active_bytes, 16u);
  EXPECT_EQ(np_free(a.get(), p), NP_OK);
}

TEST(Sizes, NormalisationMatchesNetty) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  const struct {
    size_t req, usable;
  } cases[] = {
      {1, 16},         {15, 16},        {16, 16},         {17, 32},         {64, 64},
      {65, 80},        {129, 160},      {510, 512},       {512, 512},       {513, 640},
      {1023, 1024},    {1024, 1024},    {1025, 1280},     {4095, 4096},     {4096, 4096},
      {4097, 5120},    {8192, 8192},    {8193, 10240},    {28672, 28672},   {28671, 28672},
      {28673, 32768},  {32768, 32768},  {32769, 40960},   {100000, 114688}, {1 * MiB, 1 * MiB},
      {1 * MiB + 1, 1 * MiB + 256 * KiB}, {3 * MiB + 1, 3584 * KiB},        {4 * MiB, 4 * MiB},
  };
  const std::vector<size_t> table = SizeClassTable(4 * MiB);
  for (const auto& c : cases) {
    ASSERT_EQ(Normalize(table, c.req), c.usable) << "the test's own table, request " << c.req;
    void* p = np_alloc(a.get(), c.req);
    ASSERT_NE(p, nullptr) << c.req;
    EXPECT_EQ(np_usable_size(a.get(), p), c.usable) << "request " << c.req;
    static_cast<char*>(p)[0] = 1;
    static_cast<char*>(p)[c.usable - 1] = 2;
    EXPECT_EQ(np_free(a.get(), p), NP_OK);
  }
}

TEST(Sizes, ChunkSizeIsNormalAndOneMoreIsHuge) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  void* n = np_alloc(a.get(), 4 * MiB);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(np_usable_size(a.get(), n), 4 * MiB);
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.normal.active, 1u);
  EXPECT_EQ(s.normal.active_bytes, 4 * MiB);
  EXPECT_EQ(s.huge.active, 0u);

  void* h = np_alloc(a.get(), 4 * MiB + 1);
  ASSERT_NE(h, nullptr);
  size_t hu = np_usable_size(a.get(), h);
  EXPECT_GE(hu, 4 * MiB + 1);
  EXPECT_EQ(hu % 4096, 0u) << "huge usable size is page-rounded";
  EXPECT_LT(hu, 4 * MiB + 1 + 8192);
  static_cast<char*>(h)[hu - 1] = 7;  // the whole usable size is writable
  s = Stats(a.get());
  EXPECT_EQ(s.huge.active, 1u);
  EXPECT_EQ(s.huge.active_bytes, hu);
  EXPECT_EQ(s.normal.active, 1u);
  EXPECT_EQ(np_free(a.get(), h), NP_OK);
  EXPECT_EQ(np_free(a.get(), n), NP_OK);
}

TEST(Sizes, SixteenMiBChunks) {
  AllocPtr a = Make(Cfg(8192, 11));
  ASSERT_TRUE(a);
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.chunk_size, 16 * MiB);
  EXPECT_EQ(s.size_classes, 76u);
  EXPECT_EQ(s.small_classes, 39u);
  const struct {
    size_t req, usable;
  } cases[] = {{0, 16},           {1025, 1280},         {28672, 28672},      {32768, 32768},
               {4 * MiB, 4 * MiB}, {4 * MiB + 1, 5 * MiB}, {16 * MiB - 1, 16 * MiB},
               {16 * MiB, 16 * MiB}};
  for (const auto& c : cases) {
    void* p = np_alloc(a.get(), c.req);
    ASSERT_NE(p, nullptr) << c.req;
    EXPECT_EQ(np_usable_size(a.get(), p), c.usable) << "request " << c.req;
    static_cast<char*>(p)[c.usable - 1] = 2;
    EXPECT_EQ(np_free(a.get(), p), NP_OK);
  }
  void* h = np_alloc(a.get(), 16 * MiB + 1);
  ASSERT_NE(h, nullptr);
  size_t hu = np_usable_size(a.get(), h);
  EXPECT_GE(hu, 16 * MiB + 1);
  EXPECT_EQ(hu % 4096, 0u);
  s = Stats(a.get());
  EXPECT_EQ(s.huge.active, 1u);
  EXPECT_EQ(np_free(a.get(), h), NP_OK);
  s = Stats(a.get());
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
}

// Every configuration shape: the class table, the small classes and their runs,
// and one block of every class (and of the sizes just around each class).
struct Shape {
  size_t page;
  unsigned max_order;
};

void PrintTo(const Shape& s, std::ostream* os) {
  *os << "page " << s.page << " max_order " << s.max_order;
}

class ConfigShape : public testing::TestWithParam<Shape> {};

TEST_P(ConfigShape, ClassesRunsAndEveryClassAllocates) {
  const Shape sh = GetParam();
  const size_t max_run_pages = 7;  // the longest subpage run of any small class
  if ((size_t(1) << sh.max_order) < max_run_pages) {
    // Chunks shorter than a subpage run: either refuse the shape at creation
    // or serve every class anyway; never fail (or leak a chunk per) np_alloc.
    np_config c = Cfg(sh.page, sh.max_order);
    np_allocator* out = nullptr;
    int rc = np_allocator_create(&c, &out);
    if (rc == NP_ERR_MAX_ORDER) {
      EXPECT_EQ(out, nullptr);
      return;
    }
    ASSERT_EQ(rc, NP_OK) << np_strerror(rc);
    np_allocator_destroy(out);
  }
  AllocPtr a = Make(Cfg(sh.page, sh.max_order));
  ASSERT_TRUE(a);
  const size_t chunk = sh.page << sh.max_order;
  const std::vector<size_t> table = SizeClassTable(chunk);
  const unsigned n_small = SmallCount(table, sh.page);
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.page_size, sh.page);
  EXPECT_EQ(s.chunk_size, chunk);
  EXPECT_EQ(s.size_classes, table.size());
  EXPECT_EQ(s.small_classes, n_small);
  ASSERT_LE(table.size(), size_t{NP_MAX_SIZE_CLASSES});
  for (unsigned i = 0; i < n_small && i < NP_MAX_SIZE_CLASSES; ++i) {
    RunShape r = SubpageRun(table[i], sh.page, chunk);
    EXPECT_EQ(s.small_class[i].elem_size, table[i]) << "class " << i;
    EXPECT_EQ(s.small_class[i].run_pages, r.pages) << "class " << i;
    EXPECT_EQ(s.small_class[i].elems_per_run, r.elems) << "class " << i;
  }
  for (size_t i = 0; i < table.size(); ++i) {
    const size_t below = i ? table[i - 1] : 0;
    for (size_t req : {below + 1, table[i]}) {
      void* p = np_alloc(a.get(), req);
      ASSERT_NE(p, nullptr) << req;
      EXPECT_EQ(np_usable_size(a.get(), p), table[i]) << "request " << req;
      np_stats t = Stats(a.get());
      const bool small = i < n_small;
      EXPECT_EQ(t.small.active, small ? 1u : 0u) << req;
      EXPECT_EQ(t.normal.active, small ? 0u : 1u) << req;
      EXPECT_EQ((small ? t.small : t.normal).active_bytes, table[i]) << req;
      EXPECT_EQ(np_free(a.get(), p), NP_OK);
    }
  }
  s = Stats(a.get());
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes, 0u);
  EXPECT_EQ(s.invalid_frees, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConfigShape,
                         testing::Values(Shape{8192, 9}, Shape{8192, 11}, Shape{4096, 9},
                                         Shape{4096, 11}, Shape{16384, 8}, Shape{65536, 6},
                                         // Chunks of 1, 2 and 4 pages: the API accepts
                                         // them, yet some small classes' subpage runs
                                         // (up to 7 pages) are longer than the chunk.
                                         Shape{8192, 0}, Shape{4096, 1}, Shape{8192, 2},
                                         Shape{8192, 3}),
                         [](const testing::TestParamInfo<Shape>& i) {
                           return "page" + std::to_string(i.param.page) + "_order" +
                                  std::to_string(i.param.max_order);
                         });

TEST(Sizes, ClassTablesOfTheTwoChunkSizes) {
  for (unsigned order : {9u, 11u}) {
    AllocPtr a = Make(Cfg(8192, order));
    ASSERT_TRUE(a);
    np_stats s = Stats(a.get());
    EXPECT_EQ(s.size_classes, order == 9 ? 68u : 76u);
    EXPECT_EQ(s.small_classes, 39u);
    EXPECT_EQ(s.small_class[0].elem_size, 16u);
    EXPECT_EQ(s.small_class[15].elem_size, 512u);
    EXPECT_EQ(s.small_class[19].elem_size, 1024u);
    EXPECT_EQ(s.small_class[27].elem_size, 4096u);
    EXPECT_EQ(s.small_class[31].elem_size, 8192u);
    EXPECT_EQ(s.small_class[38].elem_size, 28672u);
    // The examples of NETTY_FACTS (pages/elements).
    const struct {
      unsigned idx, pages, elems;
    } runs[] = {{0, 1, 512}, {2, 3, 512}, {4, 5, 512}, {5, 3, 256},
                {27, 1, 2},  {28, 5, 8},  {38, 7, 2}};
    for (const auto& r : runs) {
      EXPECT_EQ(s.small_class[r.idx].run_pages, r.pages) << r.idx;
      EXPECT_EQ(s.small_class[r.idx].elems_per_run, r.elems) << r.idx;
    }
  }
}

// ============================================================================
// Alignment
// ============================================================================

class AlignmentTest : public testing::TestWithParam<size_t> {};

TEST_P(AlignmentTest, EveryBlockIsAligned) {
  const size_t align = GetParam();
  np_config c = np_config_default();
  c.alignment = align;
  AllocPtr a = Make(c);
  ASSERT_TRUE(a);
  const size_t sizes[] = {0,     1,     15,    16,    17,     48,      80,         100,
                          500,   1000,  1025,  3000,  4097,   5000,    20000,      28672,
                          30000, 40000, 100000, 1 * MiB, 4 * MiB, 4 * MiB + 1, 5 * MiB + 3};
  struct Live {
    char* p;
    size_t n;
    uint64_t id;
  };
  std::vector<Live> live;
  uint64_t id = 1;
  for (size_t sz : sizes) {
    for (int k = 0; k < 6; ++k) {
      if (sz >= 1 * MiB && k >= 2) break;
      char* p = static_cast<char*>(np_alloc(a.get(), sz));
      ASSERT_NE(p, nullptr) << sz;
      EXPECT_TRUE(Aligned(p, align)) << "size " << sz << " block " << static_cast<void*>(p)
                                     << " not aligned to " << align;
      size_t us = np_usable_size(a.get(), p);
      EXPECT_GE(us, std::max<size_t>(sz, 1)) << sz;
      for (const Live& l : live)
        ASSERT_TRUE(p + us <= l.p || l.p + l.n <= p) << "overlap, size " << sz;
      FillSparse(p, us, id);
      live.push_back({p, us, id++});
    }
  }
  for (const Live& l : live) {
    EXPECT_TRUE(CheckSparse(l.p, l.n, l.id)) << "block of " << l.n << " corrupted";
    EXPECT_EQ(np_free(a.get(), l.p), NP_OK);
  }
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
}

INSTANTIATE_TEST_SUITE_P(Alignments, AlignmentTest,
                         testing::Values(size_t{16}, size_t{64}, size_t{256}, size_t{4096},
                                         size_t{8192}));

// ============================================================================
// Statistics
// ============================================================================

TEST(Stats, CountersFollowAllocationsOfEachKind) {
  AllocPtr a = Make(PoolOnly());
  ASSERT_TRUE(a);
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.chunk_allocations, 0u) << "chunks are made lazily";
  EXPECT_EQ(s.mapped_bytes, 0u);
  EXPECT_EQ(s.small.allocations + s.normal.allocations + s.huge.allocations, 0u);

  void* n = np_alloc(a.get(), 40000);  // normal: class 40960
  ASSERT_NE(n, nullptr);
  s = Stats(a.get());
  EXPECT_EQ(s.chunk_allocations, 1u) << "the first normal block makes a chunk";
  EXPECT_EQ(s.mapped_bytes, 4 * MiB);
  EXPECT_EQ(s.normal.allocations, 1u);
  EXPECT_EQ(s.normal.active, 1u);
  EXPECT_EQ(s.normal.active_bytes, 40960u);
  EXPECT_EQ(s.lists[NP_QINIT].chunks, 1u);
  EXPECT_EQ(s.lists[NP_QINIT].free_bytes, 4 * MiB - 40960);

  void* m = np_alloc(a.get(), 100);  // small: class 112, a 7-page run of 512
  ASSERT_NE(m, nullptr);
  s = Stats(a.get());
  EXPECT_EQ(s.chunk_allocations, 1u) << "the subpage comes from the same chunk";
  EXPECT_EQ(s.small.allocations, 1u);
  EXPECT_EQ(s.small.active, 1u);
  EXPECT_EQ(s.small.active_bytes, 112u);
  EXPECT_EQ(s.small_class[6].elem_size, 112u);
  EXPECT_EQ(s.small_class[6].subpages, 1u);
  EXPECT_EQ(s.small_class[6].elements, 512u);
  EXPECT_EQ(s.small_class[6].free_elements, 511u);
  EXPECT_EQ(s.lists[NP_QINIT].free_bytes, 4 * MiB - 40960 - 7 * 8192);

  void* m2 = np_alloc(a.get(), 112);
  ASSERT_NE(m2, nullptr);
  s = Stats(a.get());
  EXPECT_EQ(s.small.active, 2u);
  EXPECT_EQ(s.small.active_bytes, 224u);
  EXPECT_EQ(s.small_class[6].subpages, 1u);
  EXPECT_EQ(s.small_class[6].free_elements, 510u);

  void* h = np_alloc(a.get(), 5 * MiB + 1);
  ASSERT_NE(h, nullptr);
  const size_t hu = np_usable_size(a.get(), h);
  s = Stats(a.get());
  EXPECT_EQ(s.huge.allocations, 1u);
  EXPECT_EQ(s.huge.active, 1u);
  EXPECT_EQ(s.huge.active_bytes, hu);
  EXPECT_GE(s.mapped_bytes, 4 * MiB + hu);
  EXPECT_EQ(s.chunk_allocations, 1u) << "huge blocks are not chunks";

  EXPECT_EQ(np_free(a.get(), h), NP_OK);
  s = Stats(a.get());
  EXPECT_EQ(s.huge.deallocations, 1u);
  EXPECT_EQ(s.huge.active, 0u);
  EXPECT_EQ(s.huge.active_bytes, 0u);
  EXPECT_EQ(s.mapped_bytes, 4 * MiB);

  EXPECT_EQ(np_free(a.get(), m), NP_OK);
  EXPECT_EQ(np_free(a.get(), m2), NP_OK);
  EXPECT_EQ(np_free(a.get(), n), NP_OK);
  s = Stats(a.get());
  EXPECT_EQ(s.small.allocations, 2u);
  EXPECT_EQ(s.small.deallocations, 2u);
  EXPECT_EQ(s.normal.allocations, 1u);
  EXPECT_EQ(s.normal.deallocations, 1u);
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes, 0u);
  EXPECT_EQ(s.invalid_frees, 0u);
}

TEST(Stats, ChunkListNamesAndBounds) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  np_stats s = Stats(a.get());
  const int min_usage[] = {0, 1, 25, 50, 75, 100};
  const int max_usage[] = {25, 50, 75, 100, 100};
  for (int i = 0; i < NP_CHUNK_LISTS; ++i) {
    ASSERT_NE(s.lists[i].name, nullptr) << i;
    EXPECT_STREQ(s.lists[i].name, kListNames[i]);
    EXPECT_EQ(s.lists[i].min_usage, min_usage[i]) << kListNames[i];
    if (i < NP_Q100) EXPECT_EQ(s.lists[i].max_usage, max_usage[i]) << kListNames[i];
    else EXPECT_GE(s.lists[i].max_usage, 100);
    EXPECT_EQ(s.lists[i].chunks, 0u);
  }
}

TEST(Stats, ManySmallBlocksFillSubpages) {
  AllocPtr a = Make(PoolOnly());
  ASSERT_TRUE(a);
  // 16-byte class: 512 per one-page subpage. 1000 blocks -> 2 subpages.
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) {
    void* p = np_alloc(a.get(), 16);
    ASSERT_NE(p, nullptr);
    v.push_back(p);
  }
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.small.active, 1000u);
  EXPECT_EQ(s.small.active_bytes, 16000u);
  EXPECT_EQ(s.small_class[0].subpages, 2u);
  EXPECT_EQ(s.small_class[0].elements, 1024u);
  EXPECT_EQ(s.small_class[0].free_elements, 24u);
  std::set<void*> distinct(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), v.size());
  for (void* p : v) EXPECT_EQ(np_free(a.get(), p), NP_OK);
  s = Stats(a.get());
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.small.active_bytes, 0u);
  np_thread_cache_flush(a.get());  // the cached blocks go back to their subpages
  s = Stats(a.get());
  // NETTY_FACTS: a completely free subpage is kept if it is the only one on its
  // class's list, otherwise its run goes back: one subpage remains.
  EXPECT_EQ(s.small_class[0].subpages, 1u);
  EXPECT_EQ(s.small_class[0].free_elements, 512u);
}

// ============================================================================
// Huge blocks
// ============================================================================

TEST(Huge, EachHugeBlockIsMappedAndUnmapped) {
  for (unsigned order : {9u, 11u}) {
    AllocPtr a = Make(Cfg(8192, order));
    ASSERT_TRUE(a);
    const size_t chunk = size_t(8192) << order;
    const uint64_t mapped0 = Stats(a.get()).mapped_bytes;
    std::vector<std::pair<char*, size_t>> live;
    uint64_t sum = 0;
    for (size_t req : {chunk + 1, chunk + 4096, chunk + 5000, 2 * chunk, 3 * chunk + 12345}) {
      char* p = static_cast<char*>(np_alloc(a.get(), req));
      ASSERT_NE(p, nullptr) << req;
      size_t us = np_usable_size(a.get(), p);
      EXPECT_GE(us, req);
      EXPECT_EQ(us % 4096, 0u);
      EXPECT_TRUE(Aligned(p, 4096));
      FillSparse(p, us, req);
      live.push_back({p, us});
      sum += us;
      np_stats s = Stats(a.get());
      EXPECT_GE(s.mapped_bytes, mapped0 + sum);
      EXPECT_EQ(s.huge.active_bytes, sum);
      EXPECT_EQ(s.chunk_allocations, 0u) << "huge blocks never touch the chunks";
    }
    // Interior addresses (also whole chunk sizes in) are not block starts.
    for (auto& l : live) {
      EXPECT_EQ(np_usable_size(a.get(), l.first + 4096), 0u);
      EXPECT_EQ(np_usable_size(a.get(), l.first + chunk), 0u);
    }
    size_t i = 0;
    for (size_t req : {chunk + 1, chunk + 4096, chunk + 5000, 2 * chunk, 3 * chunk + 12345}) {
      EXPECT_TRUE(CheckSparse(live[i].first, live[i].second, req));
      ++i;
    }
    for (auto& l : live) {
      EXPECT_EQ(np_free(a.get(), l.first), NP_OK);
      sum -= l.second;
      EXPECT_EQ(Stats(a.get()).huge.active_bytes, sum);
    }
    np_stats s = Stats(a.get());
    EXPECT_EQ(s.mapped_bytes, mapped0) << "every huge mapping is returned on free";
    EXPECT_EQ(s.huge.allocations, 5u);
    EXPECT_EQ(s.huge.deallocations, 5u);
    EXPECT_EQ(s.huge.active, 0u);
  }
}

// ============================================================================
// Out of memory
// ============================================================================

TEST(OutOfMemory, ImpossibleSizesGiveEnomem) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  void* keep = np_alloc(a.get(), 100);
  ASSERT_NE(keep, nullptr);
  const np_stats before = Stats(a.get());
  for (size_t req : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4095, SIZE_MAX - 4 * MiB,
                     SIZE_MAX - 4 * MiB - 4096, SIZE_MAX / 2, SIZE_MAX / 2 + 1,
                     size_t(1) << 48, size_t(1) << 62}) {
    errno = 0;
    void* p = np_alloc(a.get(), req);
    EXPECT_EQ(p, nullptr) << "request " << req;
    EXPECT_EQ(errno, ENOMEM) << "request " << req;
    if (p) np_free(a.get(), p);
  }
  const np_stats after = Stats(a.get());
  EXPECT_EQ(after.huge.allocations, before.huge.allocations);
  EXPECT_EQ(after.mapped_bytes, before.mapped_bytes);
  EXPECT_EQ(after.small.active, 1u);
  EXPECT_EQ(np_free(a.get(), keep), NP_OK);
}

uint64_t VmSizeBytes() {
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return strtoull(buf, nullptr, 10) * uint64_t(sysconf(_SC_PAGESIZE));
}

// Runs in a forked child: exit code 0 = pass, otherwise names the failure.
int ExhaustAddressSpaceChild() {
  np_allocator* a = nullptr;
  np_config c = np_config_default();
  if (np_allocator_create(&c, &a) != NP_OK) return 10;
  static void* blocks[100000];
  size_t n = 0;
  uint64_t vm = VmSizeBytes();
  if (vm == 0) return 11;
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = vm + 96 * MiB;
  if (setrlimit(RLIMIT_AS, &rl) != 0) return 12;
  static const size_t sizes[] = {100, 3000, 200000, 1 * MiB, 28672, 40000, 5 * MiB};
  int err = 0;
  for (;;) {
    if (n == sizeof blocks / sizeof blocks[0]) return 13;  // never ran out
    size_t sz = sizes[n % (sizeof sizes / sizeof sizes[0])];
    errno = 0;
    void* p = np_alloc(a, sz);
    if (p == nullptr) {
      err = errno;
      break;
    }
    memset(p, 0x5c, sz < 4096 ? sz : 4096);
    blocks[n++] = p;
  }
  if (err != ENOMEM) return 14;
  if (n < 10) return 15;  // ran out far too early
  // Every kind of request fails cleanly now.
  errno = 0;
  if (np_alloc(a, 64 * MiB) != nullptr || errno != ENOMEM) return 16;
  np_stats s;
  if (np_allocator_stats(a, &s) != NP_OK) return 17;
  if (s.small.active + s.normal.active + s.huge.active != n) return 18;
  for (size_t i = 0; i < n; ++i)
    if (np_free(a, blocks[i]) != NP_OK) return 19;
  if (np_allocator_stats(a, &s) != NP_OK) return 20;
  if (s.small.active + s.normal.active + s.huge.active != 0) return 21;
  if (s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes != 0) return 22;
  if (s.invalid_frees != 0) return 23;
  void* p = np_alloc(a, 64);
  if (p == nullptr) return 24;
  memset(p, 1, 64);
  void* q = np_alloc(a, 1 * MiB);
  if (q == nullptr) return 25;
  memset(q, 1, 1 * MiB);
  if (np_free(a, p) != NP_OK || np_free(a, q) != NP_OK) return 26;
  np_allocator_destroy(a);
  return 0;
}

TEST(OutOfMemory, AddressSpaceLimitGivesEnomemAndRecovers) {
#if defined(NP_TEST_UNDER_SANITIZER_WITH_SHADOW)
  GTEST_SKIP() << "RLIMIT_AS cannot be used with a sanitizer's shadow memory";
#endif
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) _exit(ExhaustAddressSpaceChild());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "failure code " << WEXITSTATUS(status) << " (see ExhaustAddressSpaceChild)";
}

// ============================================================================
// Threads
// ============================================================================

struct Mailbox {
  std::mutex mu;
  std::deque<std::pair<void*, std::pair<size_t, uint64_t>>> q;
};

size_t ThreadSize(std::mt19937_64& rng) {
  unsigned r = rng() % 1000;
  if (r < 700) return rng() % 2048;                // small, mostly tiny
  if (r < 850) return 2048 + rng() % (28672 - 2048);  // bigger small
  if (r < 998) return 28673 + rng() % (600 * KiB);  // normal
  return 4 * MiB + 1 + rng() % MiB;                 // huge
}

void ThreadWorker(np_allocator* a, int t, int ops, Mailbox* box, std::atomic<int>* failures) {
  std::mt19937_64 rng(1000 + t);
  struct Live {
    char* p;
    size_t n;
    uint64_t id;
  };
  std::vector<Live> live;
  uint64_t next_id = uint64_t(t) << 40;
  auto release = [&](const Live& l) {
    if (!CheckSparse(l.p, l.n, l.id)) failures->fetch_add(1);
    if (np_free(a, l.p) != NP_OK) failures->fetch_add(1);
  };
  for (int i = 0; i < ops; ++i) {
    unsigned r = rng() % 100;
    if (live.size() < 64 || (r < 50 && live.size() < 400)) {
      size_t sz = ThreadSize(rng);
      char* p = static_cast<char*>(np_alloc(a, sz));
      if (!p) {
        failures->fetch_add(1);
        continue;
      }
      size_t us = np_usable_size(a, p);
      if (us < sz) failures->fetch_add(1);
      Live l{p, us, ++next_id};
      FillSparse(p, us, l.id);
      live.push_back(l);
    } else {
      size_t k = rng() % live.size();
      Live l = live[k];
      live[k] = live.back();
      live.pop_back();
      if (r < 70) {
        // Hand it to another thread, and free whatever others handed over.
        std::vector<Live> theirs;
        {
          std::lock_guard<std::mutex> g(box->mu);
          box->q.push_back({l.p, {l.n, l.id}});
          while (box->q.size() > 8) {
            auto e = box->q.front();
            box->q.pop_front();
            theirs.push_back({static_cast<char*>(e.first), e.second.first, e.second.second});
          }
        }
        for (const Live& o : theirs) release(o);
      } else {
        release(l);
      }
    }
  }
  for (const Live& l : live) release(l);
}

class Threads : public testing::TestWithParam<unsigned> {};

TEST_P(Threads, MixedSizesFromFourThreadsWithCrossThreadFrees) {
  np_config c = np_config_default();
  c.arenas = GetParam();
  AllocPtr a = Make(c);
  ASSERT_TRUE(a);
  Mailbox box;
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) ts.emplace_back(ThreadWorker, a.get(), t, 15000, &box, &failures);
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0) << "pattern, free or usable-size failures";
  for (auto& e : box.q) {
    EXPECT_TRUE(CheckSparse(e.first, e.second.first, e.second.second));
    EXPECT_EQ(np_free(a.get(), e.first), NP_OK);
  }
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes, 0u);
  EXPECT_EQ(s.small.allocations, s.small.deallocations);
  EXPECT_EQ(s.invalid_frees, 0u);
}

INSTANTIATE_TEST_SUITE_P(Arenas, Threads, testing::Values(0u, 1u, 4u));

TEST(ThreadExit, BlocksOfAnExitedThreadAreFreedByAnother) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  std::vector<std::pair<void*, size_t>> blocks;
  std::thread t([&] {
    for (size_t sz : {size_t{16}, size_t{100}, size_t{4096}, size_t{28672}, size_t{32768},
                      size_t{40000}, 1 * MiB, 5 * MiB}) {
      for (int k = 0; k < 3; ++k) {
        void* p = np_alloc(a.get(), sz);
        if (p) memset(p, 0x77, sz);
        blocks.push_back({p, sz});
      }
    }
  });
  t.join();
  for (auto& b : blocks) {
    ASSERT_NE(b.first, nullptr);
    const unsigned char* c = static_cast<const unsigned char*>(b.first);
    EXPECT_EQ(c[0], 0x77);
    EXPECT_EQ(c[b.second - 1], 0x77);
    EXPECT_EQ(np_free(a.get(), b.first), NP_OK);
  }
  np_stats s = Stats(a.get());
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  // And the reverse: blocks of this thread freed by a thread that then exits.
  blocks.clear();
  for (size_t sz : {size_t{16}, size_t{3000}, size_t{40000}, 5 * MiB}) {
    void* p = np_alloc(a.get(), sz);
    ASSERT_NE(p, nullptr);
    blocks.push_back({p, sz});
  }
  std::vector<int> rcs;
  std::thread f([&] {
    for (auto& b : blocks) rcs.push_back(np_free(a.get(), b.first));
  });
  f.join();
  for (int rc : rcs) EXPECT_EQ(rc, NP_OK);
  s = Stats(a.get());
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  void* p = np_alloc(a.get(), 100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(np_free(a.get(), p), NP_OK);
}

// np_good_size (what pooled buffers take as a fresh block's room, found
// without a lookup) is what np_usable_size finds, for every kind of block,
// with and without caches and with an alignment.
TEST(GoodSize, IsWhatTheLookupFinds) {
  for (size_t alignment : {0, 64, 4096})
    for (unsigned cache : {0, 256}) {
      np_config cfg = np_config_default();
      cfg.alignment = alignment;
      cfg.small_cache_size = cache;
      np_allocator *a = nullptr;
      ASSERT_EQ(np_allocator_create(&cfg, &a), NP_OK);
      for (size_t size = 0; size <= (9u << 20); size = size < 64 ? size + 1 : size * 9 / 8) {
        void *p = np_alloc(a, size);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(np_good_size(a, size), np_usable_size(a, p))
            << "size " << size << " alignment " << alignment;
        EXPECT_EQ(np_free(a, p), NP_OK);
      }
      np_allocator_destroy(a);
    }
  EXPECT_EQ(np_good_size(nullptr, 1), 0u);
}

// Destroy hooks: each runs once per np_allocator_destroy, first, with the
// allocator still whole; registering one again changes nothing; NULL and
// a full table are refused.
std::vector<std::pair<int, size_t>> destroyed;
void HookA(np_allocator *a) { destroyed.push_back({1, np_allocator_config(a)->page_size}); }
void HookB(np_allocator *a) { destroyed.push_back({2, np_allocator_config(a)->page_size}); }

TEST(DestroyHooks, RunFirstInOrderOncePerDestroy) {
  EXPECT_EQ(np_on_allocator_destroy(nullptr), NP_ERR_NULL_ARGUMENT);
  ASSERT_EQ(np_on_allocator_destroy(HookA), NP_OK);
  ASSERT_EQ(np_on_allocator_destroy(HookB), NP_OK);
  ASSERT_EQ(np_on_allocator_destroy(HookA), NP_OK);  // again: nothing changes
  np_config cfg = np_config_default();
  cfg.page_size = 16384;
  np_allocator *a = nullptr;
  ASSERT_EQ(np_allocator_create(&cfg, &a), NP_OK);
  EXPECT_EQ(np_allocator_config(a)->page_size, 16384u);
  EXPECT_EQ(np_allocator_config(nullptr), nullptr);
  destroyed.clear();
  np_allocator_destroy(a);
  ASSERT_EQ(destroyed.size(), 2u);
  EXPECT_EQ(destroyed[0], std::make_pair(1, size_t(16384)));
  EXPECT_EQ(destroyed[1], std::make_pair(2, size_t(16384)));
  np_allocator_destroy(nullptr);
  EXPECT_EQ(destroyed.size(), 2u);
  // The table holds NP_MAX_DESTROY_HOOKS (pooled buffers' leak detector
  // may hold one already: fill what is left, then one more is refused).
  static void (*const more[])(np_allocator *) = {
      [](np_allocator *) { destroyed.push_back({3, 0}); }, [](np_allocator *) { destroyed.push_back({4, 0}); },
      [](np_allocator *) { destroyed.push_back({5, 0}); }, [](np_allocator *) { destroyed.push_back({6, 0}); }};
  int refused = 0;
  for (auto hook : more) refused += np_on_allocator_destroy(hook) == NP_ERR_NO_MEMORY;
  EXPECT_GE(refused, 2);  // 4 slots: A, B, then at most two of these
}

}  // namespace
