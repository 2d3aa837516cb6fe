// Retained memory: what an arena released stays mapped for its next chunk or
// huge block, neighbours merge, best fit is taken, and it goes back to the
// system when due, when full, or when a mapping fails (np_release_retained).
#include "core/pool/pool_test_support.h"

namespace {

constexpr size_t kChunk = 4u << 20;  // the default chunk

class RetainedTest : public ::testing::Test {
 protected:
  void Create(unsigned decay_ms = 60000, size_t retained_max = 256u << 20, unsigned arenas = 1) {
    np_config cfg = np_config_default();
    cfg.dirty_decay_ms = decay_ms;
    cfg.retained_max = retained_max;
    ASSERT_EQ(pool_.Create(cfg, arenas), NP_OK);
  }
  TestPool pool_;
};

// A freed huge block is retained whole, and the next huge block that fits
// takes it: no new mapping, counted as reused.
TEST_F(RetainedTest, HugeBlockReusesARetainedRange) {
  Create();
  void *p = pool_.Alloc(3 * kChunk);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(pool_.Free(p), NP_OK);
  EXPECT_EQ(pool_.Stats().retained_bytes, 3 * kChunk);
  void *q = pool_.Alloc(2 * kChunk + 1);  // three chunks of address space
  EXPECT_EQ(q, p);
  np_stats s = pool_.Stats();
  EXPECT_EQ(s.retained_bytes, 0u);
  EXPECT_EQ(s.reused_bytes, 3 * kChunk);
  ASSERT_EQ(pool_.Free(q), NP_OK);
}

// Neighbours merge into one range; a smaller request takes the best-fitting
// range, from its start, and leaves the rest retained.
TEST_F(RetainedTest, NeighboursMergeAndBestFitSplits) {
  Create();
  np_arena *a = pool_.arena();
  char *big = (char *)pool_.Alloc(8 * kChunk);
  ASSERT_NE(big, nullptr);
  ASSERT_EQ(pool_.Free(big), NP_OK);  // one range of 8 chunks
  uint64_t since;
  char *first = np_retained_take(a, 2 * kChunk, kChunk, &since);
  char *second = np_retained_take(a, 2 * kChunk, kChunk, &since);
  EXPECT_EQ(first, big);
  EXPECT_EQ(second, big + 2 * kChunk);
  EXPECT_EQ(a->retained.bytes, 4 * kChunk);
  np_retained_put(a, first, 2 * kChunk, np_clock_ns());  // not adjacent to the rest
  EXPECT_NE(a->retained.head->next, nullptr);
  np_retained_put(a, second, 2 * kChunk, np_clock_ns());  // joins both
  ASSERT_NE(a->retained.head, nullptr);
  EXPECT_EQ(a->retained.head->next, nullptr);
  EXPECT_EQ(a->retained.head->base, big);
  EXPECT_EQ(a->retained.head->size, 8 * kChunk);
}

// Nothing is kept with dirty_decay_ms 0 (immediate release), nor past
// retained_max.
TEST_F(RetainedTest, NoDecayOrFullKeepsNothing) {
  Create(0);
  ASSERT_EQ(pool_.Free(pool_.Alloc(2 * kChunk)), NP_OK);
  EXPECT_EQ(pool_.Stats().retained_bytes, 0u);
  Create(60000, 2 * kChunk);
  ASSERT_EQ(pool_.Free(pool_.Alloc(3 * kChunk)), NP_OK);  // over the limit: unmapped
  EXPECT_EQ(pool_.Stats().retained_bytes, 0u);
  ASSERT_EQ(pool_.Free(pool_.Alloc(kChunk + 1)), NP_OK);  // two chunks: kept
  EXPECT_EQ(pool_.Stats().retained_bytes, 2 * kChunk);
}

// A purge unmaps what is due and nothing else; all: everything.
TEST_F(RetainedTest, PurgeTakesWhatIsDue) {
  Create(1000);
  np_arena *a = pool_.arena();
  ASSERT_EQ(pool_.Free(pool_.Alloc(2 * kChunk)), NP_OK);
  uint64_t now = np_clock_ns();
  uint64_t due = np_retained_purge(a, now, 0);
  EXPECT_GT(due, now);  // released just now: due in about a second
  EXPECT_EQ(a->retained.bytes, 2 * kChunk);
  EXPECT_EQ(np_retained_purge(a, due, 0), 0u);
  EXPECT_EQ(a->retained.bytes, 0u);
  EXPECT_EQ(pool_.Stats().purged_bytes, 2 * kChunk);
}

// A mapping failed: every arena's retained ranges go, the failing arena's
// first; the bytes are what was retained.
TEST_F(RetainedTest, ReleaseRetainedEmptiesEveryArena) {
  Create(60000, 256u << 20, 2);
  ASSERT_EQ(pool_.Free(pool_.Alloc(2 * kChunk, 0)), NP_OK);
  ASSERT_EQ(pool_.Free(pool_.Alloc(3 * kChunk, 1)), NP_OK);
  EXPECT_EQ(pool_.Stats().retained_bytes, 5 * kChunk);
  EXPECT_EQ(np_release_retained(&pool_.p, pool_.arena(1)), 5 * kChunk);
  EXPECT_EQ(pool_.Stats().retained_bytes, 0u);
  EXPECT_EQ(np_release_retained(&pool_.p, pool_.arena(0)), 0u);  // a retry would fail the same way
}

// An emptied chunk is retained and the next chunk is made from it.
TEST_F(RetainedTest, EmptiedChunkBecomesTheNextChunk) {
  np_config cfg = np_config_default();
  cfg.release_empty_init_chunks = 1;
  ASSERT_EQ(pool_.Create(cfg), NP_OK);
  char *p = (char *)pool_.Alloc(64 << 10);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(pool_.Free(p), NP_OK);
  np_stats s = pool_.Stats();
  EXPECT_EQ(s.chunk_deallocations, 1u);
  EXPECT_EQ(s.retained_bytes, kChunk);
  char *q = (char *)pool_.Alloc(64 << 10);
  EXPECT_EQ(q, p);
  EXPECT_EQ(pool_.Stats().reused_bytes, kChunk);
  ASSERT_EQ(pool_.Free(q), NP_OK);
}

}  // namespace
