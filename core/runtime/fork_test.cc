// fork() (fork.c): every module's locks are taken before and released after
// in both processes; the child keeps the forking thread's cache and retires
// the caches of the threads that did not come along, whose blocks it can
// still free; a child can fork again, also in the middle of remote traffic.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "core/runtime/runtime_internal.h"
#include "core/test_support.h"

namespace {

using np_test::AllocPtr;
using np_test::Make;

// Allocates and frees n blocks of every size in sizes; false on any failure.
bool Churn(np_allocator *a, size_t n) {
  static const size_t sizes[] = {16, 64, 1000, 5000, 40000, 300000, 5 << 20};
  std::vector<void *> blocks;
  for (size_t i = 0; i < n; i++)
    for (size_t size : sizes) {
      void *p = np_alloc(a, size);
      if (p == nullptr) return false;
      memset(p, 0x3c, size < 256 ? size : 256);
      blocks.push_back(p);
    }
  for (void *p : blocks)
    if (np_free(a, p) != NP_OK) return false;
  return true;
}

// In the child: exit code 0 = pass, otherwise names the failure.
int Child(np_allocator *a, const std::vector<void *> &others_blocks, int depth) {
  np_tcache *mine = np_tcache_get(a, NP_CACHE_FIND);
  if (mine == nullptr) return 10;
  if (!np_thread_slots_hold(a, mine)) return 11;
  for (unsigned i = 0; i < a->caches.tcache_count; i++) {
    np_tcache *tc = a->caches.tcaches[i].load();
    bool alive = tc->alive.load() != 0;
    if (tc == mine && !alive) return 12;
    if (tc != mine && alive) return 13;  // the other thread did not come along
  }
  for (void *p : others_blocks)
    if (np_free(a, p) != NP_OK) return 14;
  if (!Churn(a, 20)) return 15;
  if (np_allocator_purge(a) != NP_OK) return 16;
  if (depth == 0) return 0;
  fflush(nullptr);
  pid_t pid = fork();  // every lock was released: a second fork works too
  if (pid < 0) return 17;
  if (pid == 0) _exit(Churn(a, 20) ? 0 : 18);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 19;
  return WEXITSTATUS(status);
}

TEST(Fork, ChildKeepsItsCacheRetiresOthersAndForksAgain) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  ASSERT_TRUE(Churn(a.get(), 5));  // the forking thread's cache
  // Another thread with live blocks and cached ones, still running at the fork.
  std::vector<void *> others_blocks;
  std::atomic<int> stage{0};
  std::thread other([&] {
    std::vector<void *> all;
    for (int i = 0; i < 200; i++) all.push_back(np_alloc(a.get(), i % 2 ? 64 : 3000));
    for (size_t i = 0; i < all.size(); i++) {
      if (i % 2) others_blocks.push_back(all[i]);
      else np_free(a.get(), all[i]);  // into its cache
    }
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  for (void *p : others_blocks) ASSERT_NE(p, nullptr);
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) _exit(Child(a.get(), others_blocks, 1));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  stage = 2;
  other.join();
  ASSERT_TRUE(WIFEXITED(status)) << "child died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failure code " << WEXITSTATUS(status) << " (see Child)";
  // The parent is untouched: its blocks, its caches, its locks.
  for (void *p : others_blocks) EXPECT_EQ(np_free(a.get(), p), NP_OK);
  EXPECT_TRUE(Churn(a.get(), 5));
}

// A ring from the forking thread to a thread that frees what it takes: the
// slot is read and the block freed before the tail moves, so that a child
// sees every block between tail and head still allocated, but for the one at
// the tail, which the freeing thread may have been freeing at the fork.
struct HandOff {
  static constexpr size_t kSlots = 1024;
  std::atomic<void *> slot[kSlots];
  std::atomic<size_t> head{0}, tail{0};
  std::atomic<bool> stop{false};
};

// In the child of a fork during remote traffic: exit code 0 = pass.
int ChildOfRemoteTraffic(np_allocator *a, HandOff *h) {
  // The ring's blocks are this thread's: freed here, onto its own cache.
  size_t tail = h->tail.load(), head = h->head.load();
  for (size_t i = tail; i != head; i++) {
    int st = np_free(a, h->slot[i % HandOff::kSlots].load());
    if (st != NP_OK && !(i == tail && st == NP_ERR_DOUBLE_FREE)) return 30;
  }
  // Its remote lists take frees: another thread frees its blocks, which its
  // next allocations get back from those lists.
  const int n = 200;
  std::vector<void *> blocks;
  for (int i = 0; i < n; i++) blocks.push_back(np_alloc(a, 64));
  for (void *p : blocks)
    if (p == nullptr) return 31;
  np_thread_cache_flush(a);  // nothing of the class left on its stack
#ifdef __SANITIZE_THREAD__
  for (void *p : blocks)  // (TSan cannot start threads in the child of a multi-threaded fork)
    if (np_free(a, p) != NP_OK) return 32;
#else
  int bad = 0;
  std::thread([&] {
    for (void *p : blocks) bad += np_free(a, p) != NP_OK;
  }).join();
  if (bad) return 32;
#endif
  // (per-CPU caches have no owners: the blocks wait on the freeing CPU's stack)
  std::set<void *> sent(blocks.begin(), blocks.end());
  for (int i = 0; i < n; i++) {
    void *p = np_alloc(a, 64);
    if (p == nullptr || (!a->caches.percpu_active && sent.erase(p) != 1)) return 33;
    blocks[i] = p;
  }
  for (void *p : blocks)
    if (np_free(a, p) != NP_OK) return 34;
  return Churn(a, 20) ? 0 : 35;
}

// fork() in the middle of remote traffic: this thread allocates 64 B blocks
// that another thread frees (through its outbox onto this thread's remote
// lists) and forks again and again meanwhile. Every child's queues take
// frees and give the blocks back; the parent goes on and loses nothing.
TEST(Fork, ForkDuringRemoteTrafficLeavesQueuesThatTakeFrees) {
  AllocPtr a = Make(np_config_default());
  ASSERT_TRUE(a);
  auto h = std::make_unique<HandOff>();
  std::thread freer([&] {
    for (;;) {
      size_t t = h->tail.load(std::memory_order_relaxed);
      if (h->head.load(std::memory_order_acquire) == t) {
        if (h->stop.load()) return;
        std::this_thread::yield();
        continue;
      }
      ASSERT_EQ(np_free(a.get(), h->slot[t % HandOff::kSlots].load(std::memory_order_relaxed)), NP_OK);
      h->tail.store(t + 1, std::memory_order_release);
    }
  });
  const int kForks = 12;
  for (int f = 0; f < kForks; f++) {
    for (int i = 0; i < 3000; i++) {  // a burst of traffic, then a fork in the middle of it
      void *p = np_alloc(a.get(), 64);
      ASSERT_NE(p, nullptr);
      size_t hd = h->head.load(std::memory_order_relaxed);
      while (hd - h->tail.load(std::memory_order_acquire) == HandOff::kSlots) std::this_thread::yield();
      h->slot[hd % HandOff::kSlots].store(p, std::memory_order_relaxed);
      h->head.store(hd + 1, std::memory_order_release);
    }
    fflush(nullptr);
    pid_t pid = fork();
    ASSERT_NE(pid, -1);
    if (pid == 0) _exit(ChildOfRemoteTraffic(a.get(), h.get()));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "fork " << f << ": child died by signal " << WTERMSIG(status);
    ASSERT_EQ(WEXITSTATUS(status), 0) << "fork " << f << ": failure code (see ChildOfRemoteTraffic)";
  }
  h->stop = true;
  freer.join();
  np_thread_cache_flush(a.get());
  np_stats s = np_test::Stats(a.get());
  EXPECT_EQ(s.small.active, 0u) << "every block came back in the parent";
  EXPECT_EQ(s.invalid_frees, 0u);
}

}  // namespace
