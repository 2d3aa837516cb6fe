// fork() (fork.c): every module's locks are taken before and released after
// in both processes; the child keeps the forking thread's cache and retires
// the caches of the threads that did not come along, whose blocks it can
// still free; a child can fork again.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
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

}  // namespace
