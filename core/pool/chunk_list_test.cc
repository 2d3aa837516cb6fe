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

}  // namespace
