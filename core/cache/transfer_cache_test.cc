// The transfer cache (transfer_cache.c): per class, a bounded array of free
// blocks between the per-CPU caches and the arenas. Insert copies what fits,
// remove takes the latest, flush gives a class's blocks back to their arenas.
#include <algorithm>
#include <vector>

#include "core/cache/cache_internal.h"
#include "core/runtime/runtime.h"
#include "core/test_support.h"

namespace {

using np_test::AllocPtr;
using np_test::Make;
using np_test::Stats;

class TransferCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    np_config c = np_config_default();
    c.transfer_cache_bytes = 64 << 10;
    a_ = Make(c);
    ASSERT_TRUE(a_);
    // The strategies without per-CPU caches make none: one of the test's own
    // (np_allocator_destroy unmaps it as it does a per-CPU one's).
    if (a()->caches.transfer == nullptr) ASSERT_EQ(np_transfer_init(&a()->caches), NP_OK);
    ASSERT_NE(a()->caches.transfer, nullptr);
  }
  np_allocator *a() { return a_.get(); }
  // n blocks of class idx out of the arena, marked as a cache's are.
  std::vector<void *> Blocks(unsigned idx, unsigned n) {
    std::vector<void *> b(n);
    EXPECT_EQ(np_arena_alloc_batch(&a()->pool.arenas[0], idx, b.data(), n, 0), n);
    for (void *p : b) np_block_mark(&a()->caches, p);
    return b;
  }
  AllocPtr a_;
};

// A class holds transfer_cache_bytes of blocks: what does not fit is not
// taken (the caller keeps it); remove gives the latest first, as many as
// asked for and held.
TEST_F(TransferCacheTest, BoundedAndLatestFirst) {
  const unsigned idx = np_size_to_index(&a()->pool.sc, 1024);
  // 64 KiB of 1 KiB blocks, or one refill batch if that is more.
  const unsigned cap = std::max(64u, a()->caches.refill_count[idx]);
  std::vector<void *> b = Blocks(idx, cap + 16);
  EXPECT_EQ(np_transfer_insert(&a()->caches, idx, b.data(), cap - 14), cap - 14);
  EXPECT_EQ(np_transfer_insert(&a()->caches, idx, b.data() + cap - 14, 30), 14u);  // full
  EXPECT_EQ(np_transfer_insert(&a()->caches, idx, b.data() + cap, 16), 0u);
  std::vector<void *> out(cap + 16);
  EXPECT_EQ(np_transfer_remove(&a()->caches, idx, out.data(), 10), 10u);
  for (unsigned i = 0; i < 10; i++) EXPECT_EQ(out[i], b[cap - 10 + i]);  // the last 10 inserted
  EXPECT_EQ(np_transfer_remove(&a()->caches, idx, out.data(), cap + 16), cap - 10);
  EXPECT_EQ(np_transfer_remove(&a()->caches, idx, out.data(), cap + 16), 0u);
  np_arena_free_cached(&a()->pool, b.data(), cap + 16);
}

// Flush gives every block of the class back to the arena, and only that class.
TEST_F(TransferCacheTest, FlushReturnsTheClassToTheArena) {
  const unsigned small = np_size_to_index(&a()->pool.sc, 64), other = np_size_to_index(&a()->pool.sc, 256);
  const uint64_t before = Stats(a()).small.active;
  // With per-CPU caches on, the stats count the transfer cache's blocks as
  // cached, not active; without them the test's blocks (no cache refilled
  // them) stay active while they are there.
  const uint64_t active_there = a()->caches.percpu_active ? 0 : 1;
  std::vector<void *> b = Blocks(small, 40), c = Blocks(other, 10);
  ASSERT_EQ(np_transfer_insert(&a()->caches, small, b.data(), 40), 40u);
  ASSERT_EQ(np_transfer_insert(&a()->caches, other, c.data(), 10), 10u);
  EXPECT_EQ(Stats(a()).small.active, before + 50 * active_there);
  EXPECT_EQ(np_transfer_flush(&a()->caches, small), 40u);
  EXPECT_EQ(Stats(a()).small.active, before + 10 * active_there);
  for (void *p : b) EXPECT_EQ(np_usable_size(a(), p), 0u) << "back in the arena";
  EXPECT_EQ(np_transfer_flush(&a()->caches, small), 0u);
  EXPECT_EQ(np_transfer_flush(&a()->caches, other), 10u);
  EXPECT_EQ(Stats(a()).small.active, before);
}

// transfer_cache_bytes 0: none is made, and inserting takes nothing.
TEST(TransferCacheOff, TakesNothing) {
  np_config c = np_config_default();
  c.transfer_cache_bytes = 0;
  AllocPtr a = Make(c);
  ASSERT_TRUE(a);
  EXPECT_EQ(np_transfer_init(&a->caches), NP_OK);
  EXPECT_EQ(a->caches.transfer, nullptr);
  void *p = &c;
  EXPECT_EQ(np_transfer_insert(&a->caches, 0, &p, 1), 0u);
  EXPECT_EQ(np_transfer_remove(&a->caches, 0, &p, 1), 0u);
}

}  // namespace
