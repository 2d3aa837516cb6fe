// The remote outbox (remote_outbox.c): a thread's frees of blocks other
// threads' caches own wait in its outbox, one batch per (owner, class) slot,
// and go over np_outbox_batch (at most NP_REMOTE_HANDOVER_BATCH) at a time; a block there is claimed
// (a second free is refused); a block whose owner is gone goes to the arena.
// Every strategy's thread caches batch (mutex: one critical section per
// batch, ck: one CAS); per-CPU caches have no owners.
#include <atomic>
#include <thread>
#include <vector>

#include "core/cache/cache_internal.h"
#include "core/runtime/runtime.h"
#include "core/test_support.h"

extern "C" int np_probe_remote_stale_count(void);  // remote_list_probe.c

namespace {

using np_test::AllocPtr;
using np_test::Make;

constexpr unsigned kBatch = NP_REMOTE_HANDOVER_BATCH;  // the strategy's batch

unsigned Waiting(const np_tcache *tc) {
  unsigned n = 0;
  for (const np_outbox_slot &s : tc->outbox) n += s.n;
  return n;
}

class RemoteOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = Make(np_config_default());
    ASSERT_TRUE(a_);
    if (a_->caches.percpu_active) GTEST_SKIP() << "no outbox: per-CPU caches have no owners";
  }
  // Blocks of the sizes given, allocated by another thread, whose cache owns
  // them; the thread stays alive until the test ends (or exits at once with
  // exit_now).
  std::vector<void *> FromOwner(const std::vector<size_t> &sizes, bool exit_now) {
    std::vector<void *> blocks;
    std::atomic<int> ready{0};
    owner_ = std::thread([&, exit_now] {
      for (size_t size : sizes) blocks.push_back(np_alloc(a_.get(), size));
      ready = 1;
      if (!exit_now)
        while (!release_.load()) std::this_thread::yield();
    });
    while (!ready.load()) std::this_thread::yield();
    if (exit_now) owner_.join();
    return blocks;
  }
  void TearDown() override {
    release_ = true;
    if (owner_.joinable()) owner_.join();
  }
  AllocPtr a_;
  std::thread owner_;
  std::atomic<bool> release_{false};
};

// Frees of another live thread's blocks wait in batches: what is left after
// the last full batch is still in the outbox, counted as this thread's
// remote_out; a second free of a waiting block is refused; a flush sends
// them all.
TEST_F(RemoteOutboxTest, BatchesWaitClaimedUntilSent) {
  const unsigned n = 3 * kBatch + 5;
  std::vector<void *> blocks = FromOwner(std::vector<size_t>(n, 64), false);
  ASSERT_TRUE(np_alloc(a_.get(), 64) != nullptr);  // this thread's own cache
  np_tcache *mine = np_tcache_get(a_.get(), NP_CACHE_FIND);
  ASSERT_NE(mine, nullptr);
  const unsigned idx = np_size_to_index(&a_->pool.sc, 64);
  const uint64_t out_before = mine->classes[idx].remote_out;
  for (void *p : blocks) ASSERT_EQ(np_free(a_.get(), p), NP_OK);
  EXPECT_EQ(Waiting(mine), 5u);
  EXPECT_EQ(mine->classes[idx].remote_out - out_before, n);
  EXPECT_EQ(np_free(a_.get(), blocks.back()), NP_ERR_DOUBLE_FREE) << "waiting in the outbox";
  np_outbox_send_all(&a_->caches, mine);
  EXPECT_EQ(Waiting(mine), 0u);
  EXPECT_EQ(np_free(a_.get(), blocks.back()), NP_ERR_DOUBLE_FREE) << "on its owner's remote list";
}

// Blocks of two (owner, class) pairs that share a slot: a block for the
// other pair sends the waiting batch first. Two owners, whose ids differ, so
// some pair of their classes shares a slot whatever NP_OUTBOX_SLOTS is.
TEST_F(RemoteOutboxTest, AnotherOwnerOrClassInTheSlotSendsTheBatch) {
  std::vector<size_t> sizes;  // 3 blocks of every cached class
  for (unsigned c = 0; c < a_->caches.n_cached; c++)
    for (int k = 0; k < 3; k++) sizes.push_back(np_index_to_size(&a_->pool.sc, c));
  std::vector<void *> first_owner = FromOwner(sizes, false);
  std::vector<void *> second_owner;
  unsigned first_id = 0, second_id = 0;
  std::atomic<bool> release2{false};
  std::atomic<int> ready2{0};
  std::thread owner2([&] {
    for (size_t size : sizes) second_owner.push_back(np_alloc(a_.get(), size));
    second_id = np_tcache_get(a_.get(), NP_CACHE_FIND)->id;
    ready2 = 1;
    while (!release2.load()) std::this_thread::yield();
  });
  while (!ready2.load()) std::this_thread::yield();
  ASSERT_TRUE(np_alloc(a_.get(), 64) != nullptr);
  np_tcache *mine = np_tcache_get(a_.get(), NP_CACHE_FIND);
  ASSERT_NE(mine, nullptr);
  for (unsigned i = 1; i <= NP_MAX_THREAD_CACHES && first_id == 0; i++) {
    np_tcache *tc = atomic_load(&a_->caches.tcaches[i - 1]);
    if (tc && tc != mine && (unsigned)tc->id != second_id) first_id = (unsigned)tc->id;
  }
  ASSERT_NE(first_id, 0u);
  // (first owner, c1) and (second owner, c2) in one slot; c1's batch holds
  // 3 blocks without going, c2's holds 1.
  int c1 = -1, c2 = -1;
  for (unsigned x = 0; x < a_->caches.n_cached && c1 < 0; x++)
    for (unsigned y = 0; y < a_->caches.n_cached && c1 < 0; y++)
      if (np_outbox_slot_of(first_id, x) == np_outbox_slot_of(second_id, y) &&
          np_outbox_batch(&a_->caches, x) > 3 && np_outbox_batch(&a_->caches, y) > 1)
        c1 = (int)x, c2 = (int)y;
  ASSERT_GE(c1, 0) << "no two classes of the two owners share a slot";
  for (int k = 0; k < 3; k++) ASSERT_EQ(np_free(a_.get(), first_owner[3 * c1 + k]), NP_OK);
  EXPECT_EQ(Waiting(mine), 3u);
  ASSERT_EQ(np_free(a_.get(), second_owner[3 * c2]), NP_OK);
  EXPECT_EQ(Waiting(mine), 1u) << "the three went over; the new one waits";
  np_outbox_send_all(&a_->caches, mine);
  EXPECT_EQ(Waiting(mine), 0u);
  release2 = true;
  owner2.join();
}

// A batch is what its owner would take from the arena on a miss: blocks of a
// 16 KiB class go over a few at a time, 64 B ones NP_REMOTE_HANDOVER_BATCH
// at a time, so large blocks do not wait in an outbox while their owner
// allocates new ones.
TEST_F(RemoteOutboxTest, LargerClassesGoOverInSmallerBatches) {
  const unsigned big = np_size_to_index(&a_->pool.sc, 16384), small = np_size_to_index(&a_->pool.sc, 64);
  ASSERT_LT(big, a_->caches.n_cached);
  const unsigned big_batch = np_outbox_batch(&a_->caches, big);
  EXPECT_EQ(np_outbox_batch(&a_->caches, small), kBatch);
  EXPECT_EQ(big_batch, a_->caches.refill_count[big]);
  ASSERT_LT(big_batch, kBatch) << "16 KiB refills fewer blocks than a 64 B batch";
  std::vector<void *> blocks = FromOwner(std::vector<size_t>(big_batch, 16384), false);
  ASSERT_TRUE(np_alloc(a_.get(), 64) != nullptr);
  np_tcache *mine = np_tcache_get(a_.get(), NP_CACHE_FIND);
  ASSERT_NE(mine, nullptr);
  for (unsigned i = 0; i + 1 < big_batch; i++) ASSERT_EQ(np_free(a_.get(), blocks[i]), NP_OK);
  EXPECT_EQ(Waiting(mine), big_batch - 1);
  ASSERT_EQ(np_free(a_.get(), blocks.back()), NP_OK);
  EXPECT_EQ(Waiting(mine), 0u) << "a full batch of the class went over";
  EXPECT_EQ(np_free(a_.get(), blocks.back()), NP_ERR_DOUBLE_FREE) << "on its owner's remote list";
}

// A list whose count says full while it holds nothing (ck: a producer adds
// its count after its CAS, so an owner's take between the two leaves the
// count of a batch it already took) takes pushes again after the owner's next
// take finds it empty, or a class whose limit is about one batch would send
// every later remote free to the arena (remote_list_probe.c: the steps).
TEST(RemoteList, AnEmptyTakeGivesAStaleCountItsRoomBack) {
  EXPECT_EQ(np_probe_remote_stale_count(), 0) << "failed at step (see remote_list_probe.c)";
}

// A block whose owner has exited goes to the arena at once.
TEST_F(RemoteOutboxTest, OwnerGoneMeansTheArena) {
  std::vector<void *> blocks = FromOwner({64, 64, 64, 64}, true);
  ASSERT_TRUE(np_alloc(a_.get(), 64) != nullptr);
  np_tcache *mine = np_tcache_get(a_.get(), NP_CACHE_FIND);
  ASSERT_NE(mine, nullptr);
  const uint64_t active = np_test::Stats(a_.get()).small.active;
  for (void *p : blocks) ASSERT_EQ(np_free(a_.get(), p), NP_OK);
  EXPECT_EQ(Waiting(mine), 0u);
  EXPECT_EQ(np_test::Stats(a_.get()).small.active, active - 4);
  for (void *p : blocks) EXPECT_EQ(np_usable_size(a_.get(), p), 0u);
}

// Blocks waiting in one thread's outbox, then on their owner's remote list,
// are refused when a third thread frees them again; when the owner exits
// they reach the arena, where a free is refused too.
TEST_F(RemoteOutboxTest, WaitingBlocksAreRefusedByAnyone) {
  std::vector<void *> blocks = FromOwner(std::vector<size_t>(10, 64), false);
  ASSERT_TRUE(np_alloc(a_.get(), 64) != nullptr);
  np_tcache *mine = np_tcache_get(a_.get(), NP_CACHE_FIND);
  ASSERT_NE(mine, nullptr);
  for (void *p : blocks) ASSERT_EQ(np_free(a_.get(), p), NP_OK);
  ASSERT_EQ(Waiting(mine), 10u);
  const uint64_t refused = np_test::Stats(a_.get()).invalid_frees;
  auto third_frees_all = [&] {
    std::thread([&] {
      for (void *p : blocks) EXPECT_EQ(np_free(a_.get(), p), NP_ERR_DOUBLE_FREE);
    }).join();
  };
  third_frees_all();  // in this thread's outbox
  np_outbox_send_all(&a_->caches, mine);
  third_frees_all();  // on the owner's remote list
  EXPECT_EQ(np_test::Stats(a_.get()).invalid_frees, refused + 20);
  EXPECT_GE(np_test::Stats(a_.get()).remote_cached_bytes, blocks.size() * 64) << "waiting for their owner";
  release_ = true;
  owner_.join();  // its exit gives its remote list to the arena
  EXPECT_EQ(np_test::Stats(a_.get()).remote_cached_bytes, 0u);
  for (void *p : blocks) EXPECT_EQ(np_usable_size(a_.get(), p), 0u);
  third_frees_all();  // in the arena
}

// An owner that exits while frees of its blocks wait in another thread's
// outbox loses none: sent after its exit, the batch goes to the arena, and
// nothing stays cached or active.
TEST_F(RemoteOutboxTest, OwnerExitingWithBatchesOnTheirWayLosesNone) {
  std::vector<void *> blocks = FromOwner(std::vector<size_t>(kBatch / 2 + 3, 64), false);
  ASSERT_TRUE(np_alloc(a_.get(), 64) != nullptr);
  np_tcache *mine = np_tcache_get(a_.get(), NP_CACHE_FIND);
  ASSERT_NE(mine, nullptr);
  const uint64_t active = np_test::Stats(a_.get()).small.active;
  for (void *p : blocks) ASSERT_EQ(np_free(a_.get(), p), NP_OK);
  ASSERT_EQ(Waiting(mine), blocks.size()) << "on their way";
  release_ = true;
  owner_.join();  // the owner exits with them still waiting here
  np_outbox_send_all(&a_->caches, mine);
  EXPECT_EQ(Waiting(mine), 0u);
  np_stats s = np_test::Stats(a_.get());
  EXPECT_EQ(s.small.active, active - blocks.size());
  EXPECT_EQ(s.remote_cached_bytes, 0u) << "nothing waits for a dead owner";
  for (void *p : blocks) EXPECT_EQ(np_usable_size(a_.get(), p), 0u) << "in the arena: not live";
  for (void *p : blocks) EXPECT_EQ(np_free(a_.get(), p), NP_ERR_DOUBLE_FREE);
}

}  // namespace
