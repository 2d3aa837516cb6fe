// Arenas on a pool of their own: blocks of every kind out and back, batches,
// the checks a free passes under the locks, the choice of an arena for a new
// thread, and the dirty hook.
#include <set>
#include <vector>

#include "core/pool/pool_test_support.h"

namespace {

class ArenaTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(pool_.Create(np_config_default()), NP_OK); }
  unsigned ClassOf(size_t size) { return np_size_class(&pool_.p.sc, size); }
  TestPool pool_;
};

// A block of each kind (small, normal, huge) goes out tagged and counted, and
// comes back: the arena holds nothing afterwards but what it keeps for reuse.
TEST_F(ArenaTest, EveryKindOutAndBack) {
  const size_t sizes[] = {16, 4096, 64 << 10, 5u << 20};
  std::vector<void *> out;
  for (size_t size : sizes) {
    void *p = pool_.Alloc(size);
    ASSERT_NE(p, nullptr) << size;
    memset(p, 0xab, size);
    out.push_back(p);
  }
  np_stats s = pool_.Stats();
  EXPECT_EQ(s.small.allocations, 2u);
  EXPECT_EQ(s.normal.allocations, 1u);
  EXPECT_EQ(s.huge.allocations, 1u);
  EXPECT_EQ(s.small.active, 2u);  // blocks
  EXPECT_EQ(s.normal.active, 1u);
  for (void *p : out) EXPECT_EQ(pool_.Free(p), NP_OK);
  s = pool_.Stats();
  EXPECT_EQ(s.small.active, 0u);
  EXPECT_EQ(s.normal.active, 0u);
  EXPECT_EQ(s.huge.active, 0u);
  EXPECT_EQ(s.huge.deallocations, 1u);
}

// A batch: n distinct blocks of the class, each tagged out and owned; given
// back as a cache gives them (np_arena_free_cached), the arena has them all.
TEST_F(ArenaTest, BatchOutAndBackAsACacheGivesThem) {
  for (size_t size : {32, 1024, 24576, 40960}) {
    const unsigned idx = ClassOf(size), n = 100;
    void *blocks[n];
    ASSERT_EQ(np_arena_alloc_batch(pool_.arena(), idx, blocks, n, 7), n) << size;
    std::set<void *> distinct(blocks, blocks + n);
    EXPECT_EQ(distinct.size(), n);
    for (void *p : blocks) {
      np_block_ref ref;
      np_region *r = np_registry_get(&pool_.p.registry, p);
      ASSERT_EQ(np_chunk_find_block(&pool_.p, (np_chunk *)r, p, &ref), NP_OK);
      EXPECT_EQ(ref.size_idx, idx);
      EXPECT_EQ(*ref.tag, (np_block_tag)(NP_TAG_OUT | 7));
    }
    np_arena_free_cached(&pool_.p, blocks, n);
    for (void *p : blocks) EXPECT_EQ(pool_.Free(p), NP_ERR_DOUBLE_FREE) << size;
  }
  np_stats s = pool_.Stats();
  EXPECT_EQ(s.small.active + s.normal.active, 0u);
}

// What a free is checked for, under the arena's locks: a second free, an
// address inside a block, an address npool never gave, a huge block's
// middle and a huge block freed twice. None changes anything.
TEST_F(ArenaTest, BadFreesAreRefused) {
  char *small = (char *)pool_.Alloc(64), *normal = (char *)pool_.Alloc(32 << 10);
  char *huge = (char *)pool_.Alloc(6u << 20);
  ASSERT_TRUE(small && normal && huge);
  EXPECT_EQ(pool_.Free(small + 16), NP_ERR_NOT_BLOCK_START);
  EXPECT_EQ(pool_.Free(normal + 8192), NP_ERR_NOT_BLOCK_START);
  EXPECT_EQ(pool_.Free(huge + 4096), NP_ERR_NOT_BLOCK_START);
  int local;
  EXPECT_EQ(pool_.Free(&local), NP_ERR_FOREIGN_POINTER);
  np_stats before = pool_.Stats();
  EXPECT_EQ(before.small.active + before.normal.active, 2u);  // blocks: nothing was freed
  for (char *p : {small, normal, huge}) EXPECT_EQ(pool_.Free(p), NP_OK);
  for (char *p : {small, normal, huge}) EXPECT_EQ(pool_.Free(p), NP_ERR_DOUBLE_FREE);
  np_stats after = pool_.Stats();
  EXPECT_EQ(after.small.deallocations, 1u);
  EXPECT_EQ(after.normal.deallocations, 1u);
  EXPECT_EQ(after.huge.deallocations, 1u);
}

// A new thread's arena is the one with the fewest threads bound to it, the
// first on a tie.
TEST(ArenaChoice, LeastUsedFirstOnATie) {
  TestPool pool;
  ASSERT_EQ(pool.Create(np_config_default(), 3), NP_OK);
  EXPECT_EQ(np_arena_least_used(&pool.p), pool.arena(0));
  pool.arena(0)->bound_threads = 2;
  pool.arena(1)->bound_threads = 1;
  pool.arena(2)->bound_threads = 1;
  EXPECT_EQ(np_arena_least_used(&pool.p), pool.arena(1));
  pool.arena(1)->bound_threads = 3;
  EXPECT_EQ(np_arena_least_used(&pool.p), pool.arena(2));
}

// The dirty hook is called once when an arena that had nothing dirty gets
// something (a run freed inside a chunk in use), not again while it stays
// dirty, and again after a purge made it clean.
void CountCall(void *arg) { ++*(int *)arg; }

TEST_F(ArenaTest, DirtyHookOnceUntilClean) {
  int calls = 0;
  np_pool_on_dirty(&pool_.p, CountCall, &calls);
  void *keep = pool_.Alloc(64 << 10), *a = pool_.Alloc(64 << 10), *b = pool_.Alloc(64 << 10);
  ASSERT_TRUE(keep && a && b);
  EXPECT_EQ(calls, 0);
  ASSERT_EQ(pool_.Free(a), NP_OK);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(pool_.Free(b), NP_OK);
  EXPECT_EQ(calls, 1);
  np_arena *arena = pool_.arena();
  EXPECT_EQ(np_arena_purge(arena, np_clock_ns(), 1), 0u);  // nothing dirty is left
  EXPECT_EQ(np_arena_dirty_bytes(arena), 0u);
  void *c = pool_.Alloc(64 << 10);
  ASSERT_EQ(pool_.Free(c), NP_OK);
  EXPECT_EQ(calls, 2);
  np_pool_on_dirty(&pool_.p, nullptr, nullptr);
  ASSERT_EQ(pool_.Free(keep), NP_OK);
  EXPECT_EQ(calls, 2);
}

}  // namespace
