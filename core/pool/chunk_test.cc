// Chunks (runs), handles, usage and subpages, tested through the pool
// layer's own functions on a real arena.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/pool/pool_test_support.h"

namespace {

class ChunkTest : public ::testing::Test {
 protected:
  void SetUp() override { Create(9); }
  void Create(unsigned max_order) {
    np_config cfg = np_config_default();
    cfg.max_order = max_order;
    ASSERT_EQ(pool_.Create(cfg), NP_OK);
    arena_ = pool_.arena();
  }
  TestPool pool_;
  np_arena *arena_ = nullptr;
};

TEST(Handle, Layout) {
  uint64_t h = np_handle_make(0x7fff, 0x1234, 1) | NP_HANDLE_SUBPAGE_BIT | 0xdeadbeefu;
  EXPECT_EQ(h >> 49, 0x7fffu);
  EXPECT_EQ((h >> 34) & 0x7fff, 0x1234u);
  EXPECT_TRUE((h >> 33) & 1);
  EXPECT_TRUE((h >> 32) & 1);
  EXPECT_EQ(h & 0xffffffffu, 0xdeadbeefu);
  EXPECT_EQ(np_handle_offset(h), 0x7fffu);
  EXPECT_EQ(np_handle_pages(h), 0x1234u);
  EXPECT_TRUE(np_handle_is_used(h));
  EXPECT_TRUE(np_handle_is_subpage(h));
  EXPECT_EQ(np_handle_bitmap_idx(h), 0xdeadbeefu);
  uint64_t free_run = np_handle_make(3, 5, 0);
  EXPECT_FALSE(np_handle_is_used(free_run));
  EXPECT_FALSE(np_handle_is_subpage(free_run));
}

// NETTY_FACTS: runs of 4, 5 and 6 pages; free the 5 and the 6: a 10-page run
// lands at page 4. Free everything: a 20-page run lands at page 0.
TEST_F(ChunkTest, CollapseExample) {
  np_chunk *c = np_chunk_new(arena_);
  ASSERT_NE(c, nullptr);
  uint64_t r4 = np_chunk_alloc_run(c, 4), r5 = np_chunk_alloc_run(c, 5), r6 = np_chunk_alloc_run(c, 6);
  EXPECT_EQ(np_handle_offset(r4), 0u);
  EXPECT_EQ(np_handle_offset(r5), 4u);
  EXPECT_EQ(np_handle_offset(r6), 9u);
  EXPECT_EQ(np_handle_pages(r6), 6u);
  np_chunk_free_run(c, r5);
  np_chunk_free_run(c, r6);
  uint64_t r10 = np_chunk_alloc_run(c, 10);
  EXPECT_EQ(np_handle_offset(r10), 4u);
  np_chunk_free_run(c, r4);
  np_chunk_free_run(c, r10);
  EXPECT_EQ(c->free_bytes, c->region.size);
  uint64_t r20 = np_chunk_alloc_run(c, 20);
  EXPECT_EQ(np_handle_offset(r20), 0u);
  np_chunk_free_run(c, r20);
  // Completely free again: one free run covering the chunk.
  EXPECT_EQ(c->free_run_at[0], np_handle_make(0, c->pages, 0));
  EXPECT_EQ(c->free_run_at[c->pages - 1], np_handle_make(0, c->pages, 0));
  np_chunk_delete(arena_, c);
}

// Best fit, lowest offset: with free holes of 3 pages at two offsets and a
// large tail, a 2-page request takes the lower 3-page hole.
TEST_F(ChunkTest, BestFitLowestOffset) {
  np_chunk *c = np_chunk_new(arena_);
  std::vector<uint64_t> runs;
  for (int i = 0; i < 6; i++) runs.push_back(np_chunk_alloc_run(c, 3));  // pages 0..17
  np_chunk_free_run(c, runs[3]);  // hole at 9 (3 pages)
  np_chunk_free_run(c, runs[1]);  // hole at 3 (3 pages)
  uint64_t r = np_chunk_alloc_run(c, 2);
  EXPECT_EQ(np_handle_offset(r), 3u);
  // The 1-page remainder at 5 is filed and used next for 1 page.
  uint64_t r1 = np_chunk_alloc_run(c, 1);
  EXPECT_EQ(np_handle_offset(r1), 5u);
  // A 4-page request does not fit the 3-page hole at 9: it goes to the tail at 18.
  uint64_t r4 = np_chunk_alloc_run(c, 4);
  EXPECT_EQ(np_handle_offset(r4), 18u);
  np_chunk_delete(arena_, c);
}

TEST_F(ChunkTest, MergeBothNeighboursAndFullChunk) {
  np_chunk *c = np_chunk_new(arena_);
  uint64_t a = np_chunk_alloc_run(c, 7), b = np_chunk_alloc_run(c, 1), d = np_chunk_alloc_run(c, 2);
  np_chunk_free_run(c, a);
  np_chunk_free_run(c, d);  // merges with the tail
  np_chunk_free_run(c, b);  // merges with both neighbours
  EXPECT_EQ(c->free_bytes, c->region.size);
  EXPECT_EQ(c->free_run_at[0], np_handle_make(0, c->pages, 0));
  // The whole chunk as one run, then nothing fits.
  uint64_t all = np_chunk_alloc_run(c, c->pages);
  EXPECT_EQ(np_handle_offset(all), 0u);
  EXPECT_EQ(c->free_bytes, 0u);
  EXPECT_EQ(np_chunk_alloc_run(c, 1), 0u);
  EXPECT_EQ(np_chunk_usage(c), 100);
  np_chunk_free_run(c, all);
  np_chunk_delete(arena_, c);
}

TEST_F(ChunkTest, Usage) {
  np_chunk *c = np_chunk_new(arena_);
  EXPECT_EQ(np_chunk_usage(c), 0);
  uint64_t quarter = np_chunk_alloc_run(c, c->pages / 4);
  EXPECT_EQ(np_chunk_usage(c), 25);
  uint64_t rest = np_chunk_alloc_run(c, c->pages - c->pages / 4 - 1);
  // One page of 512 free: 0.19% free rounds to 0, which Netty reports as 99.
  EXPECT_EQ(np_chunk_usage(c), 99);
  np_chunk_free_run(c, quarter);
  np_chunk_free_run(c, rest);
  np_chunk_delete(arena_, c);
}

// Random runs against a page-ownership model: no two live runs overlap, the
// free byte count is exact, and everything merges back into one run.
TEST_F(ChunkTest, RandomRunsNeverOverlap) {
  for (unsigned max_order : {9u, 11u}) {
    Create(max_order);
    np_chunk *c = np_chunk_new(arena_);
    std::vector<int> owner(c->pages, -1);
    std::vector<uint64_t> live;
    unsigned seed = 12345;
    auto rnd = [&seed]() { return seed = seed * 1103515245u + 12345u, (seed >> 8); };
    size_t used = 0;
    for (int op = 0; op < 20000; op++) {
      if (live.empty() || rnd() % 3 != 0) {
        size_t pages = 1 + rnd() % (rnd() % 8 == 0 ? 100 : 8);
        uint64_t h = np_chunk_alloc_run(c, pages);
        if (h == 0) continue;
        ASSERT_EQ(np_handle_pages(h), pages);
        for (uint32_t p = np_handle_offset(h); p < np_handle_offset(h) + pages; p++) {
          ASSERT_EQ(owner[p], -1) << "page " << p << " handed out twice";
          owner[p] = 1;
        }
        used += pages;
        live.push_back(h);
      } else {
        size_t i = rnd() % live.size();
        uint64_t h = live[i];
        live[i] = live.back();
        live.pop_back();
        for (uint32_t p = np_handle_offset(h); p < np_handle_offset(h) + np_handle_pages(h); p++) owner[p] = -1;
        used -= np_handle_pages(h);
        np_chunk_free_run(c, h);
      }
      ASSERT_EQ(c->free_bytes, (c->pages - used) * arena_->sc->page_size);
    }
    for (uint64_t h : live) np_chunk_free_run(c, h);
    EXPECT_EQ(c->free_run_at[0], np_handle_make(0, c->pages, 0));
    for (unsigned i = 0; i + 1 < arena_->sc->n_psizes; i++) EXPECT_EQ(c->run_heaps[i].len, 0u);
    EXPECT_EQ(c->run_heaps[arena_->sc->n_psizes - 1].len, 1u);
    np_chunk_delete(arena_, c);
  }
}

// Run geometry per small class (pages / elements) from NETTY_FACTS.
TEST_F(ChunkTest, SubpageRunSizes) {
  struct { uint32_t size, pages, elems; } expect[] = {
      {16, 1, 512}, {48, 3, 512}, {80, 5, 512}, {96, 3, 256},
      {4096, 1, 2}, {5120, 5, 8},  {28672, 7, 2}};
  for (auto e : expect) {
    unsigned idx = np_size_to_index(&pool_.p.sc, e.size);
    ASSERT_EQ(np_index_to_size(&pool_.p.sc, idx), e.size);
    EXPECT_EQ(pool_.p.small_runs[idx].run_pages, e.pages) << e.size;
    EXPECT_EQ(pool_.p.small_runs[idx].max_elems, e.elems) << e.size;
  }
}

// Elements come from the bitmap in order; a free sets the hint, which the
// next allocation takes.
TEST_F(ChunkTest, SubpageBitmapAndHint) {
  std::vector<char *> p;
  for (int i = 0; i < 10; i++) p.push_back((char *)pool_.Alloc(64));
  for (int i = 1; i < 10; i++) EXPECT_EQ(p[i] - p[0], 64 * i);
  ASSERT_EQ(pool_.Free(p[7]), NP_OK);
  EXPECT_EQ(pool_.Alloc(64), p[7]);  // the hint
  ASSERT_EQ(pool_.Free(p[2]), NP_OK);
  ASSERT_EQ(pool_.Free(p[5]), NP_OK);
  EXPECT_EQ(pool_.Alloc(64), p[5]);  // hint: the last freed
  EXPECT_EQ(pool_.Alloc(64), p[2]);  // then the first zero bit
  EXPECT_EQ(pool_.Alloc(64), p[9] + 64);
}

// A full subpage leaves its class list; the most recently freed-into subpage
// goes first; an empty subpage is kept only while it is the only one.
TEST_F(ChunkTest, SubpageListRules) {
  const size_t size = 4096;  // 2 elements per 1-page subpage
  unsigned idx = np_size_to_index(&pool_.p.sc, size);
  np_subpage *head = &arena_->small_heads[idx];
  char *a0 = (char *)pool_.Alloc(size), *a1 = (char *)pool_.Alloc(size);
  EXPECT_EQ(a1 - a0, 4096);
  EXPECT_EQ(head->next, head) << "full subpage A must leave the list";
  char *b0 = (char *)pool_.Alloc(size), *b1 = (char *)pool_.Alloc(size);
  EXPECT_EQ(head->next, head);
  char *c0 = (char *)pool_.Alloc(size);
  np_subpage *sc_ = head->next;
  ASSERT_NE(sc_, head);  // C, half full
  ASSERT_EQ(pool_.Free(a0), NP_OK);  // A back on the list, first
  EXPECT_EQ(np_subpage_block(head->next, 0), a0);
  ASSERT_EQ(pool_.Free(b1), NP_OK);  // B now first
  EXPECT_EQ(np_subpage_block(head->next, 0), b0);
  EXPECT_EQ(head->next->next->next, sc_);
  // The next allocation comes from B (first on the list), at the freed slot.
  EXPECT_EQ(pool_.Alloc(size), b1);
  // Emptying A while others are on the list releases A's run.
  np_stats st;
  pool_.Stats(&st);
  uint64_t subpages_before = st.small_class[idx].subpages;
  ASSERT_EQ(pool_.Free(a1), NP_OK);
  pool_.Stats(&st);
  EXPECT_EQ(st.small_class[idx].subpages, subpages_before - 1);
  // Empty B and C: B goes, C (then the only one) stays.
  ASSERT_EQ(pool_.Free(b0), NP_OK);
  ASSERT_EQ(pool_.Free(b1), NP_OK);
  ASSERT_EQ(pool_.Free(c0), NP_OK);
  pool_.Stats(&st);
  EXPECT_EQ(st.small_class[idx].subpages, 1u);
  EXPECT_EQ(st.small_class[idx].free_elements, 2u);
  EXPECT_EQ(head->next, sc_);
  EXPECT_EQ(sc_->next, head);
}

}  // namespace
