// The transfer cache (transfer_cache.c): per class, a bounded array of free
// blocks between the per-CPU caches and the arenas. Insert copies what fits,
// remove takes the latest, flush gives a class's blocks back to their arenas.
#include <algorithm>
#include <vector>

#include "core/internal.h"
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
    if (a()->transfer == nullptr) ASSERT_EQ(np_transfer_init(a()), NP_OK);
    ASSERT_NE(a()->transfer, nullptr);
  }
  np_allocator *a() { return a_.get(); }
  // n blocks of class idx out of the arena, marked as a cache's are.
  std::vector<void *> Blocks(unsigned idx, unsigned n) {
    std::vector<void *> b(n);
    EXPECT_EQ(np_arena_alloc_batch(&a()->pool.arenas[0], idx, b.data(), n, 0), n);
    for (void *p : b) np_block_mark(a(), p);
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
  const unsigned cap = std::max(64u, a()->refill_count[idx]);
  std::vector<void *> b = Blocks(idx, cap + 16);
  EXPECT_EQ(np_transfer_insert(a(), idx, b.data(), cap - 14), cap - 14);
  EXPECT_EQ(np_transfer_insert(a(), idx, b.data() + cap - 14, 30), 14u);  // full
  EXPECT_EQ(np_transfer_insert(a(), idx, b.data() + cap, 16), 0u);
  std::vector<void *> out(cap + 16);
  EXPECT_EQ(np_transfer_remove(a(), idx, out.data(), 10), 10u);
  for (unsigned i = 0; i < 10; i++) EXPECT_EQ(out[i], b[cap - 10 + i]);  // the last 10 inserted
  EXPECT_EQ(np_transfer_remove(a(), idx, out.data(), cap + 16), cap - 10);
  EXPECT_EQ(np_transfer_remove(a(), idx, out.data(), cap + 16), 0u);
  np_arena_free_cached(&a()->pool, b.data(), cap + 16);
}

// Flush gives every block of the class back to the arena, and only that class.
TEST_F(TransferCacheTest, FlushReturnsTheClassToTheArena) {
  const unsigned small = np_size_to_index(&a()->pool.sc, 64), other = np_size_to_index(&a()->pool.sc, 256);
  const uint64_t before = Stats(a()).small.active;
  std::vector<void *> b = Blocks(small, 40), c = Blocks(other, 10);
  ASSERT_EQ(np_transfer_insert(a(), small, b.data(), 40), 40u);
  ASSERT_EQ(np_transfer_insert(a(), other, c.data(), 10), 10u);
  EXPECT_EQ(Stats(a()).small.active, before + 50);
  EXPECT_EQ(np_transfer_flush(a(), small), 40u);
  EXPECT_EQ(Stats(a()).small.active, before + 10);
  for (void *p : b) EXPECT_EQ(np_usable_size(a(), p), 0u) << "back in the arena";
  EXPECT_EQ(np_transfer_flush(a(), small), 0u);
  EXPECT_EQ(np_transfer_flush(a(), other), 10u);
  EXPECT_EQ(Stats(a()).small.active, before);
}

// transfer_cache_bytes 0: none is made, and inserting takes nothing.
TEST(TransferCacheOff, TakesNothing) {
  np_config c = np_config_default();
  c.transfer_cache_bytes = 0;
  AllocPtr a = Make(c);
  ASSERT_TRUE(a);
  EXPECT_EQ(np_transfer_init(a.get()), NP_OK);
  EXPECT_EQ(a->transfer, nullptr);
  void *p = &c;
  EXPECT_EQ(np_transfer_insert(a.get(), 0, &p, 1), 0u);
  EXPECT_EQ(np_transfer_remove(a.get(), 0, &p, 1), 0u);
}

}  // namespace
