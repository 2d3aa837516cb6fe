// Chunk lists: Netty's thresholds, moves up and down, allocation order, and
// the release of completely free chunks (q000 always, qInit by policy).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/pool/pool_test_support.h"

namespace {

class ChunkListTest : public ::testing::Test {
 protected:
  void Create(int release_init, np_run_placement placement = NP_PLACEMENT_NETTY) {
    np_config cfg = np_config_default();
    cfg.small_cache_size = cfg.normal_cache_size = 0;  // the pool itself, no thread cache
    cfg.large_cache_bytes = 0;
    cfg.release_empty_init_chunks = release_init;
    cfg.run_placement = placement;
    ASSERT_EQ(pool_.Create(cfg), NP_OK);
    arena_ = pool_.arena();
  }
  void SetUp() override { Create(0); }
  np_chunk_list *List(int id) { return &arena_->lists[id]; }
  int ListOf(const void *p) {
    np_chunk *c = (np_chunk *)np_registry_get(&pool_.p.registry, p);
    return c ? (int)(c->list - arena_->lists) : -1;
  }
  void *AllocPages(size_t pages) { return pool_.Alloc(pages * 8192); }
  TestPool pool_;
  np_arena *arena_ = nullptr;
};

TEST_F(ChunkListTest, NettyThresholds) {
  const size_t cs = 4u << 20;
  EXPECT_EQ(List(NP_QINIT)->free_min_threshold, (size_t)(cs * (100.0 - 25 + 0.99999999) / 100));
  EXPECT_EQ(List(NP_Q000)->free_min_threshold, (size_t)(cs * (100.0 - 50 + 0.99999999) / 100));
  EXPECT_EQ(List(NP_Q000)->free_max_threshold, (size_t)(cs * (100.0 - 1 + 0.99999999) / 100));
  EXPECT_EQ(List(NP_Q050)->free_min_threshold, 0u);
  EXPECT_EQ(List(NP_Q100)->free_max_threshold, 0u);  // min usage 100: any free moves down
  // Regression (config_fuzz, clang UBSan): q100's max usage INT_MAX made the
  // threshold a negative double converted to size_t (undefined behaviour).
  EXPECT_EQ(List(NP_Q100)->free_min_threshold, 0u);
  EXPECT_EQ(List(NP_QINIT)->max_capacity, cs * 99 / 100);
  EXPECT_EQ(List(NP_Q025)->max_capacity, cs * 75 / 100);
  EXPECT_EQ(List(NP_Q100)->max_capacity, 0u);
  EXPECT_EQ(List(NP_Q050)->next_list, List(NP_Q100));  // 4.1.115+: q050 -> q100
  EXPECT_EQ(List(NP_Q075)->next_list, List(NP_Q100));
  EXPECT_EQ(List(NP_Q000)->prev_list, nullptr);
  EXPECT_EQ(List(NP_QINIT)->prev_list, List(NP_QINIT));
}

// Usage rises: qInit -> q000 once used bytes pass 25% (123 of 512 pages),
// then q025 past 50%, q050 past 75%, q100 when full.
TEST_F(ChunkListTest, ChunkMovesUpWithUsage) {
  std::vector<void *> runs;
  // 32 KiB blocks = 4 pages. 30 blocks = 120 pages (23.4%): still qInit.
  for (int i = 0; i < 30; i++) runs.push_back(AllocPages(4));
  EXPECT_EQ(ListOf(runs[0]), NP_QINIT);
  // 31 blocks = 124 pages (24.2% of bytes, but free bytes 3170304 <= 3187671): q000.
  runs.push_back(AllocPages(4));
  EXPECT_EQ(ListOf(runs[0]), NP_Q000);
  while (runs.size() < 63) runs.push_back(AllocPages(4));  // 252 pages: free 2113536 <= 2139095
  EXPECT_EQ(ListOf(runs[0]), NP_Q025);
  while (runs.size() < 95) runs.push_back(AllocPages(4));  // 380 pages: free 1064960 <= 1090519
  EXPECT_EQ(ListOf(runs[0]), NP_Q050);
  while (runs.size() < 128) runs.push_back(AllocPages(4));  // 512 pages: full
  EXPECT_EQ(ListOf(runs[0]), NP_Q100);
  EXPECT_EQ(arena_->chunk_allocations, 1u);
  // Usage falls: any free moves a chunk out of q100 (its upper threshold is 0),
  // to q075 while free bytes stay within 26%.
  pool_.Free(runs.back()), runs.pop_back();
  EXPECT_EQ(ListOf(runs[0]), NP_Q075);
  while (runs.size() > 96) pool_.Free(runs.back()), runs.pop_back();  // 384 used (75%)
  EXPECT_EQ(ListOf(runs[0]), NP_Q075);
  pool_.Free(runs.back()), runs.pop_back();  // 380 used: free 1081344 <= 1090519: q075
  EXPECT_EQ(ListOf(runs[0]), NP_Q075);
  pool_.Free(runs.back()), runs.pop_back();  // 376 used: free 1114112 > 1090519: q050
  EXPECT_EQ(ListOf(runs[0]), NP_Q050);
  while (runs.size() > 1) pool_.Free(runs.back()), runs.pop_back();
  EXPECT_EQ(ListOf(runs[0]), NP_Q000);
  // The last free empties it in q000: it is released.
  pool_.Free(runs.back());
  EXPECT_EQ(arena_->chunk_deallocations, 1u);
  EXPECT_EQ(arena_->mapped_bytes, 0u);
  for (int i = 0; i < NP_CHUNK_LISTS; i++) EXPECT_EQ(List(i)->chunks, 0u);
}

// Netty's known problem, kept as the default: a chunk that never left qInit
// is kept when it becomes free. The release policy returns it.
TEST_F(ChunkListTest, QInitKeepsEmptyChunkByDefault) {
  void *p = AllocPages(4);
  pool_.Free(p);
  EXPECT_EQ(List(NP_QINIT)->chunks, 1u);
  EXPECT_EQ(arena_->chunk_deallocations, 0u);
  EXPECT_EQ(arena_->mapped_bytes, 4u << 20);
}

TEST_F(ChunkListTest, QInitReleasesEmptyChunkWithPolicy) {
  Create(1);
  void *p = AllocPages(4), *q = AllocPages(4);
  pool_.Free(p);
  EXPECT_EQ(List(NP_QINIT)->chunks, 1u);  // not yet empty
  pool_.Free(q);
  EXPECT_EQ(List(NP_QINIT)->chunks, 0u);
  EXPECT_EQ(arena_->chunk_deallocations, 1u);
  EXPECT_EQ(arena_->mapped_bytes, 0u);
}

// run_placement netty: allocation tries q050, q025, q000, qInit, q075 in that order.
TEST_F(ChunkListTest, AllocationOrder) {
  const int order[] = {NP_Q050, NP_Q025, NP_Q000, NP_QINIT, NP_Q075};
  const size_t used_pages[] = {300, 200, 100, 10, 450};  // a usage inside each list
  std::vector<np_chunk *> chunks;
  for (int i = 0; i < 5; i++) {
    np_chunk *c = np_chunk_new(arena_);
    ASSERT_NE(c, nullptr);
    ASSERT_NE(np_chunk_alloc_run(c, used_pages[i]), 0u);
    // File directly on the list under test, as a chunk that moved there.
    c->list = nullptr;
    c->next = arena_->lists[order[i]].head;
    c->prev = nullptr;
    if (c->next) c->next->prev = c;
    arena_->lists[order[i]].head = c;
    c->list = &arena_->lists[order[i]];
    arena_->lists[order[i]].chunks++;
    chunks.push_back(c);
  }
  for (int i = 0; i < 5; i++) {
    // Every 5-page block comes from chunk i while it has room: the chunks of
    // the lists before it are full by then.
    np_chunk *c = chunks[i];
    while (c->free_bytes >= 5 * 8192) {
      void *p = AllocPages(5);
      ASSERT_EQ(np_registry_get(&pool_.p.registry, p), &c->region) << "chunk " << i;
    }
  }
  EXPECT_EQ(arena_->chunk_allocations, 0u);  // no new chunk was needed
}

// run_placement best_fit: a run comes from the chunk with the arena's
// best-fitting free run, whatever list it is on; among chunks with runs of the
// same class, the lowest-addressed; the chunk lists still follow usage.
TEST_F(ChunkListTest, BestFitTakesTheTightestRunLowestAddressFirst) {
  Create(0, NP_PLACEMENT_BEST_FIT);
  // Three chunks, each filled by runs of page-count classes (blocks are
  // rounded to size classes); then the first run of each is freed: a hole of
  // 32 pages in chunk 0, of 16 pages in chunks 1 and 2.
  const std::vector<size_t> runs[3] = {{32, 448, 32}, {16, 448, 48}, {16, 448, 48}};
  np_chunk *c[3];
  void *holes[3];
  std::vector<void *> keep;
  for (int i = 0; i < 3; i++) {
    holes[i] = AllocPages(runs[i][0]);
    c[i] = (np_chunk *)np_registry_get(&pool_.p.registry, holes[i]);
    ASSERT_NE(c[i], nullptr);
    ASSERT_EQ(holes[i], np_chunk_base(c[i])) << "a new chunk's first pages";
    for (size_t r = 1; r < runs[i].size(); r++) {
      keep.push_back(AllocPages(runs[i][r]));
      ASSERT_EQ(np_registry_get(&pool_.p.registry, keep.back()), &c[i]->region);
    }
    EXPECT_EQ(c[i]->list, List(NP_Q100));
  }
  for (void *h : holes) ASSERT_EQ(pool_.Free(h), NP_OK);
  EXPECT_EQ(arena_->chunk_allocations, 3u);
  // 16 pages: the 16-page holes fit best, the lower-addressed chunk's first.
  np_chunk *low = c[1]->region.base < c[2]->region.base ? c[1] : c[2];
  np_chunk *high = low == c[1] ? c[2] : c[1];
  void *a = AllocPages(16);
  EXPECT_EQ(a, np_chunk_base(low));
  void *b = AllocPages(16);
  EXPECT_EQ(b, np_chunk_base(high));
  // Chunks 1 and 2 are full again: chunk 0's hole, which keeps 16 pages free.
  void *d = AllocPages(16);
  EXPECT_EQ(d, np_chunk_base(c[0]));
  // 20 pages fit nowhere: a new chunk.
  void *e = AllocPages(20);
  EXPECT_EQ(arena_->chunk_allocations, 4u);
  EXPECT_EQ(List(NP_QINIT)->chunks, 1u);
  for (void *p : {a, b, d, e}) EXPECT_EQ(pool_.Free(p), NP_OK);
  for (void *p : keep) EXPECT_EQ(pool_.Free(p), NP_OK);
  EXPECT_EQ(arena_->fit.chunks, 1u);  // the three released, the qInit chunk kept (Netty's)
  EXPECT_EQ(arena_->fit.mask, 1ull << (arena_->sc->n_psizes - 1));  // one free chunk-sized run
}

// ---- Netty's thresholds, by script, through the pool's allocations and frees ---
// (The pool alone: no cache keeps a block from its chunk.)

constexpr size_t KiB = 1024;
constexpr size_t MiB = 1024 * KiB;

// Which list holds the only chunk; -1 if none, -2 if several chunks exist.
int ListOfOnlyChunk(const np_stats& s) {
  int found = -1;
  for (int i = 0; i < NP_CHUNK_LISTS; ++i) {
    if (s.lists[i].chunks == 0) continue;
    if (found != -1 || s.lists[i].chunks != 1) return -2;
    found = i;
  }
  return found;
}


// Netty's PoolChunkList thresholds, with Java's saturating double->int cast.
int64_t JavaInt(double d) {
  if (d >= 2147483647.0) return INT32_MAX;
  if (d <= -2147483648.0) return INT32_MIN;
  return static_cast<int64_t>(d);
}

struct ListModel {
  // qInit, q000, q025, q050, q075, q100 (Integer.MIN_VALUE / MAX_VALUE as in Netty).
  static constexpr int64_t kMin[6] = {INT32_MIN, 1, 25, 50, 75, 100};
  static constexpr int64_t kMax[6] = {25, 50, 75, 100, 100, INT32_MAX};
  static constexpr int kNext[6] = {NP_Q000, NP_Q025, NP_Q050, NP_Q100, NP_Q100, -1};
  static constexpr int kPrev[6] = {NP_QINIT, -1, NP_Q000, NP_Q025, NP_Q050, NP_Q075};

  explicit ListModel(size_t chunk) : chunk(chunk), free_bytes(chunk) {}
  int64_t FreeMin(int l) const {
    return kMax[l] == 100 ? 0 : JavaInt(double(chunk) * (100.0 - kMax[l] + 0.99999999) / 100);
  }
  int64_t FreeMax(int l) const {
    return kMin[l] == 100 ? 0 : JavaInt(double(chunk) * (100.0 - kMin[l] + 0.99999999) / 100);
  }
  void Alloc(size_t bytes) {
    free_bytes -= bytes;
    while (kNext[list] != -1 && free_bytes <= FreeMin(list)) list = kNext[list];
  }
  void Free(size_t bytes) {
    free_bytes += bytes;
    while (list >= 0 && free_bytes > FreeMax(list)) list = kPrev[list];
  }
  size_t chunk;
  int64_t free_bytes;
  int list = NP_QINIT;  // -1: released
};

TEST(ChunkLists, NettyThresholdsForFourMiB) {
  // Derived by hand from freeMinThreshold = (int)(chunk * (100 - maxUsage + 0.99999999) / 100).
  ListModel m(4 * MiB);
  EXPECT_EQ(m.FreeMin(NP_QINIT), 3187671);
  EXPECT_EQ(m.FreeMin(NP_Q000), 2139095);
  EXPECT_EQ(m.FreeMin(NP_Q025), 1090519);
  EXPECT_EQ(m.FreeMin(NP_Q050), 0);
  EXPECT_EQ(m.FreeMax(NP_Q000), 4194303);
  EXPECT_EQ(m.FreeMax(NP_Q025), 3187671);
  EXPECT_EQ(m.FreeMax(NP_Q050), 2139095);
  EXPECT_EQ(m.FreeMax(NP_Q075), 1090519);
  EXPECT_EQ(m.FreeMax(NP_Q100), 0);
  EXPECT_EQ(m.FreeMax(NP_QINIT), INT32_MAX);
}

// Page counts of normal classes only (>= 5 pages). `pages` < 0 frees the block allocated at step -pages-1.
struct ListStep {
  int pages;
  int expect;  // list after the step, -1: chunk released
};

#define A(p, l) ListStep{p, l}
#define F(i, l) ListStep{-(i)-1, l}
// Used pages after each step (4 MiB chunk, 512 pages) in the comments; the
// boundaries sit exactly on Netty's thresholds (122|123, 250|251, 378|379 going
// up; 379|373, 251|245, 123|116 going down).
const ListStep kListScript[] = {
    A(64, NP_QINIT),  // 0: 64
    A(40, NP_QINIT),  // 1: 104
    A(12, NP_QINIT),  // 2: 116
    A(6, NP_QINIT),   // 3: 122  (free 390 pages > 3187671: stays)
    F(3, NP_QINIT),   // 4: 116  (qInit never moves down)
    A(7, NP_Q000),    // 5: 123  (free 389 pages = 3186688 <= 3187671)
    A(64, NP_Q000),   // 6: 187
    A(40, NP_Q000),   // 7: 227
    A(12, NP_Q000),   // 8: 239
    A(6, NP_Q000),    // 9: 245
    A(5, NP_Q000),    // 10: 250 (free 262 pages > 2139095: stays)
    F(10, NP_Q000),   // 11: 245
    A(6, NP_Q025),    // 12: 251 (free 261 pages = 2138112 <= 2139095)
    A(64, NP_Q025),   // 13: 315
    A(40, NP_Q025),   // 14: 355
    A(12, NP_Q025),   // 15: 367
    A(6, NP_Q025),    // 16: 373
    A(5, NP_Q025),    // 17: 378 (free 134 pages > 1090519: stays)
    F(17, NP_Q025),   // 18: 373
    A(6, NP_Q050),    // 19: 379 (free 133 pages = 1089536 <= 1090519)
    A(64, NP_Q050),   // 20: 443
    A(40, NP_Q050),   // 21: 483
    A(16, NP_Q050),   // 22: 499
    A(8, NP_Q050),    // 23: 507
    A(5, NP_Q100),    // 24: 512 full
    F(24, NP_Q075),   // 25: 507 (q100 -> q075)
    F(20, NP_Q075),   // 26: 443
    F(21, NP_Q075),   // 27: 403
    F(22, NP_Q075),   // 28: 387
    F(23, NP_Q075),   // 29: 379 (free 133 pages <= 1090519: stays)
    F(19, NP_Q050),   // 30: 373
    F(13, NP_Q050),   // 31: 309
    F(14, NP_Q050),   // 32: 269
    F(15, NP_Q050),   // 33: 257
    F(16, NP_Q050),   // 34: 251 (free 261 pages <= 2139095: stays)
    F(12, NP_Q025),   // 35: 245
    F(6, NP_Q025),    // 36: 181
    F(7, NP_Q025),    // 37: 141
    F(8, NP_Q025),    // 38: 129
    F(9, NP_Q025),    // 39: 123 (free 389 pages <= 3187671: stays)
    F(5, NP_Q000),    // 40: 116
    F(2, NP_Q000),    // 41: 104
    F(1, NP_Q000),    // 42: 64
    F(0, -1),         // 43: 0: out of q000, released
};
#undef A
#undef F

class ChunkListScript : public testing::TestWithParam<unsigned> {};

// max_order 9 runs the script as is; max_order 11 (16 MiB) scales every run by
// 4, which lands on the same side of each (scaled) threshold.
TEST_P(ChunkListScript, ChunkMovesBetweenListsAtNettysThresholds) {
  const unsigned order = GetParam();
  const size_t scale = size_t(1) << (order - 9);
  const size_t page = 8192, chunk = page << order;
  np_config c = np_config_default();
  c.page_size = page;
  c.max_order = order;
  TestPool pool;
  ASSERT_EQ(pool.Create(c), NP_OK);
  const np_stats s0 = pool.Stats();
  ListModel model(chunk);
  std::vector<void*> blocks(sizeof kListScript / sizeof kListScript[0], nullptr);
  std::vector<size_t> bytes(blocks.size(), 0);
  size_t used = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const ListStep& st = kListScript[i];
    SCOPED_TRACE(testing::Message() << "step " << i);
    if (st.pages > 0) {
      bytes[i] = size_t(st.pages) * scale * page;
      blocks[i] = pool.Alloc(bytes[i]);
      ASSERT_NE(blocks[i], nullptr);
      ASSERT_EQ(pool.UsableSize(blocks[i]), bytes[i]);
      memset(blocks[i], int(i), 64);
      used += bytes[i];
      model.Alloc(bytes[i]);
    } else {
      size_t j = size_t(-st.pages - 1);
      ASSERT_NE(blocks[j], nullptr);
      EXPECT_EQ(static_cast<unsigned char*>(blocks[j])[63], static_cast<unsigned char>(j));
      ASSERT_EQ(pool.Free(blocks[j]), NP_OK);
      blocks[j] = nullptr;
      used -= bytes[j];
      model.Free(bytes[j]);
    }
    ASSERT_EQ(model.list, st.expect) << "the test's own model disagrees with its script";
    np_stats s = pool.Stats();
    EXPECT_EQ(s.normal.active_bytes, used);
    EXPECT_EQ(s.chunk_allocations, 1u) << "everything fits one chunk";
    if (st.expect < 0) {
      EXPECT_EQ(ListOfOnlyChunk(s), -1) << "an empty chunk falling out of q000 is released";
      EXPECT_EQ(s.chunk_deallocations, 1u);
      EXPECT_EQ(s.mapped_bytes, s0.mapped_bytes);
      continue;
    }
    const int at = ListOfOnlyChunk(s);
    ASSERT_EQ(at, st.expect) << "used " << used / page << " of " << chunk / page
                             << " pages: chunk on "
                             << (at >= 0 ? pool.arena()->lists[at].name : at == -1 ? "no list" : "several lists")
                             << ", expected " << pool.arena()->lists[st.expect].name;
    const np_chunk_list_stats& l = s.lists[at];
    const size_t free_bytes = chunk - used;
    EXPECT_EQ(l.free_bytes, free_bytes);
    int usage = free_bytes == 0 ? 100 : 100 - int(free_bytes * 100 / chunk);
    if (free_bytes != 0 && free_bytes * 100 / chunk == 0) usage = 99;
    EXPECT_EQ(l.usage[0], usage);
    EXPECT_EQ(s.chunk_deallocations, 0u);
    EXPECT_EQ(s.mapped_bytes, s0.mapped_bytes + chunk);
  }
  np_stats s = pool.Stats();
  EXPECT_EQ(s.normal.active, 0u);
}

INSTANTIATE_TEST_SUITE_P(ChunkSizes, ChunkListScript, testing::Values(9u, 11u),
                         [](const testing::TestParamInfo<unsigned>& i) {
                           return i.param == 9 ? std::string("4MiB") : std::string("16MiB");
                         });

TEST(ChunkLists, FullChunkMakesASecondChunk) {
  TestPool pool;
  ASSERT_EQ(pool.Create(np_config_default()), NP_OK);
  void* full = pool.Alloc(4 * MiB);
  ASSERT_NE(full, nullptr);
  np_stats s = pool.Stats();
  EXPECT_EQ(s.chunk_allocations, 1u);
  EXPECT_EQ(s.lists[NP_Q100].chunks, 1u) << "a completely used chunk sits on q100";
  EXPECT_EQ(s.lists[NP_Q100].usage[0], 100);
  void* more = pool.Alloc(64 * KiB);
  ASSERT_NE(more, nullptr);
  s = pool.Stats();
  EXPECT_EQ(s.chunk_allocations, 2u);
  EXPECT_EQ(s.lists[NP_QINIT].chunks, 1u);
  EXPECT_EQ(s.mapped_bytes, 8 * MiB);
  // Freeing the full chunk's only block: q100 -> ... -> out of q000: released.
  EXPECT_EQ(pool.Free(full), NP_OK);
  s = pool.Stats();
  EXPECT_EQ(s.chunk_deallocations, 1u);
  EXPECT_EQ(s.lists[NP_Q100].chunks, 0u);
  EXPECT_EQ(s.mapped_bytes, 4 * MiB);
  EXPECT_EQ(pool.Free(more), NP_OK);
}

TEST(ChunkLists, EmptyChunkThatReachedQ000IsReleased) {
  TestPool pool;
  ASSERT_EQ(pool.Create(np_config_default()), NP_OK);
  void* p = pool.Alloc(2 * MiB);  // 50%: qInit -> q000 -> q025
  ASSERT_NE(p, nullptr);
  np_stats s = pool.Stats();
  EXPECT_EQ(s.chunk_allocations, 1u);
  EXPECT_EQ(s.lists[NP_QINIT].chunks, 0u);
  const uint64_t mapped = s.mapped_bytes;
  EXPECT_EQ(pool.Free(p), NP_OK);
  s = pool.Stats();
  EXPECT_EQ(s.chunk_deallocations, 1u);
  EXPECT_EQ(s.mapped_bytes, mapped - 4 * MiB);
  for (int i = 0; i < NP_CHUNK_LISTS; ++i) EXPECT_EQ(s.lists[i].chunks, 0u) << pool.arena()->lists[i].name;
  // A later allocation makes a new chunk.
  p = pool.Alloc(2 * MiB);
  ASSERT_NE(p, nullptr);
  s = pool.Stats();
  EXPECT_EQ(s.chunk_allocations, 2u);
  EXPECT_EQ(pool.Free(p), NP_OK);
}

class QInitRelease : public testing::TestWithParam<int> {};

TEST_P(QInitRelease, EmptyQInitChunkKeptOnlyInNettysMode) {
  const int release = GetParam();
  np_config c = np_config_default();
  c.release_empty_init_chunks = release;
  TestPool pool;
  ASSERT_EQ(pool.Create(c), NP_OK);
  void* p = pool.Alloc(512 * KiB);  // 12.5%: stays in qInit
  ASSERT_NE(p, nullptr);
  np_stats s = pool.Stats();
  EXPECT_EQ(s.lists[NP_QINIT].chunks, 1u);
  const uint64_t mapped = s.mapped_bytes;
  EXPECT_EQ(pool.Free(p), NP_OK);
  s = pool.Stats();
  if (release) {
    EXPECT_EQ(s.chunk_deallocations, 1u);
    EXPECT_EQ(s.lists[NP_QINIT].chunks, 0u);
    EXPECT_EQ(s.mapped_bytes, mapped - 4 * MiB);
  } else {
    EXPECT_EQ(s.chunk_deallocations, 0u) << "Netty keeps an empty qInit chunk";
    EXPECT_EQ(s.lists[NP_QINIT].chunks, 1u);
    EXPECT_EQ(s.lists[NP_QINIT].free_bytes, 4 * MiB);
    EXPECT_EQ(s.lists[NP_QINIT].usage[0], 0);
    EXPECT_EQ(s.mapped_bytes, mapped);
  }
  // Either way the next allocation works; in Netty's mode it reuses the chunk.
  p = pool.Alloc(512 * KiB);
  ASSERT_NE(p, nullptr);
  s = pool.Stats();
  EXPECT_EQ(s.chunk_allocations, release ? 2u : 1u);
  EXPECT_EQ(pool.Free(p), NP_OK);
}

// A chunk that climbed to q000 and came back down never goes back to qInit, and
// a qInit chunk whose usage fell (without leaving qInit) is kept in Netty's mode.
TEST_P(QInitRelease, QInitChunkPartlyFreedThenEmptied) {
  const int release = GetParam();
  np_config c = np_config_default();
  c.release_empty_init_chunks = release;
  TestPool pool;
  ASSERT_EQ(pool.Create(c), NP_OK);
  void* p1 = pool.Alloc(512 * KiB);
  void* p2 = pool.Alloc(256 * KiB);
  ASSERT_TRUE(p1 && p2);
  EXPECT_EQ(pool.Free(p1), NP_OK);
  np_stats s = pool.Stats();
  EXPECT_EQ(s.lists[NP_QINIT].chunks, 1u);
  EXPECT_EQ(s.chunk_deallocations, 0u);
  EXPECT_EQ(pool.Free(p2), NP_OK);
  s = pool.Stats();
  EXPECT_EQ(s.chunk_deallocations, release ? 1u : 0u);
  EXPECT_EQ(s.lists[NP_QINIT].chunks, release ? 0u : 1u);
}

INSTANTIATE_TEST_SUITE_P(Modes, QInitRelease, testing::Values(0, 1),
                         [](const testing::TestParamInfo<int>& i) {
                           return i.param ? std::string("release") : std::string("netty");
                         });

}  // namespace
