// Allocation under an address-space limit (setrlimit(RLIMIT_AS), as
// `ulimit -v` or strict overcommit make it): when mapping a chunk or a huge
// block fails, npool gives the retained memory of its arenas back to the
// system, the failing arena's first, and tries once more. np_alloc says
// ENOMEM only when nothing could be given back.
//
// Each case runs in a child process of its own (the limit is the process's),
// with the limit set a fixed room above what the child has mapped once its
// threads and the allocator are set up. Not under ASan or TSan: their shadow
// memory needs address space no limit leaves them.
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "core/test_support.h"

namespace {

using np_test::Stats;

constexpr size_t MiB = size_t(1) << 20;
// Address space the child may map past what it has when the limit is set.
constexpr size_t kRoom = 192 * MiB;
// Retained memory the cases make first: kRetainedBlocks huge blocks of 8 MiB
// (two chunks each), freed.
constexpr int kRetainedBlocks = 16;
constexpr size_t kRetained = kRetainedBlocks * 8 * MiB;

// The default configuration, with retained memory kept long enough (60 s)
// that the decay schedule gives none of it back during a case.
np_config Config() {
  np_config c = np_config_default();
  c.dirty_decay_ms = 60000;
  return c;
}

size_t MappedNow() {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (f) {
    if (fscanf(f, "%lu", &pages) != 1) pages = 0;
    fclose(f);
  }
  return pages * size_t(sysconf(_SC_PAGESIZE));
}

void LimitAddressSpace() {
  const size_t mapped = MappedNow();
  ASSERT_GT(mapped, 0u);
  struct rlimit r = {mapped + kRoom, mapped + kRoom};
  ASSERT_EQ(setrlimit(RLIMIT_AS, &r), 0) << strerror(errno);
}

// Runs body in a forked child; the child's failed expectations fail the test.
void InChild(const std::function<void()>& body) {
  fflush(stdout);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The test program's own allocations (glibc's malloc) stay in one arena:
    // a thread's arena of its own would reserve 64 MiB of the room.
    mallopt(M_ARENA_MAX, 1);
    bool threw = false;
    try {
      body();
    } catch (...) {  // (a thread that could not start): the child stops here all the same
      threw = true;
    }
    fflush(stdout);
    _exit(threw || testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child failed (status " << status << ")";
}

// Makes kRetained bytes of retained memory in the calling thread's arena.
void MakeRetained(np_allocator* a) {
  std::vector<void*> blocks;
  for (int i = 0; i < kRetainedBlocks; i++) {
    void* p = np_alloc(a, 8 * MiB);
    ASSERT_NE(p, nullptr) << i;
    blocks.push_back(p);
  }
  for (void* p : blocks) ASSERT_EQ(np_free(a, p), NP_OK);
  ASSERT_GE(Stats(a).retained_bytes, kRetained);
}

// Warms a thread up: its cache, its arena's first chunk, and (rseq) its
// CPU's cache exist before the limit.
void WarmUp(np_allocator* a) {
  void* p = np_alloc(a, 100);
  void* q = np_alloc(a, 64 * 1024);
  ASSERT_TRUE(p && q);
  np_free(a, p);
  np_free(a, q);
}

// In a child: an allocator of Config() (arenas 0: the default), the calling
// thread warmed up, then the limit set. NULL if it could not be made.
np_allocator* LimitedAllocator(unsigned arenas = 0) {
  np_config c = Config();
  c.arenas = arenas;
  np_allocator* a = nullptr;
  if (np_allocator_create(&c, &a) != NP_OK) return nullptr;
  WarmUp(a);
  LimitAddressSpace();
  return a;
}

// Another thread's arena holds the retained memory; this thread stays alive
// (bound to it) until released.
struct RetainingThread {
  explicit RetainingThread(np_allocator* a) : a(a) {
    t = std::thread([this] {
      WarmUp(this->a);
      MakeRetained(this->a);
      ready.set_value();
      done.get_future().wait();
    });
    ready.get_future().wait();
  }
  ~RetainingThread() {
    done.set_value();
    t.join();
  }
  np_allocator* a;
  std::promise<void> ready, done;
  std::thread t;
};

// A huge block larger than the room the retained memory leaves: allocated
// from the same thread once its arena's retained ranges are gone.
TEST(AddressLimit, HugeBlockAfterOwnArenaGivesRetainedBack) {
  InChild([] {
    np_allocator* a = LimitedAllocator();
    ASSERT_NE(a, nullptr);
    MakeRetained(a);
    errno = 0;
    // More than the retained ranges hold (they may have merged into one) and
    // than the room they leave; less than the room.
    void* p = np_alloc(a, kRetained + 16 * MiB);
    ASSERT_NE(p, nullptr) << "errno " << errno << " with " << Stats(a).retained_bytes << " bytes retained";
    memset(p, 1, 4096);
    EXPECT_EQ(np_free(a, p), NP_OK);
    np_allocator_destroy(a);
  });
}

// The retained memory is another (idle) thread's arena's: in a child under
// the limit, with 4 arenas, an idle thread makes kRetained of it, then body
// runs on a fresh (warmed up) thread, bound to another arena.
void WhileAnotherArenaRetains(const std::function<void(np_allocator*)>& body) {
  InChild([&body] {
    np_allocator* a = LimitedAllocator(4);
    ASSERT_NE(a, nullptr);
    RetainingThread idle(a);  // (after the limit: its retained memory takes room)
    std::thread([&body, a] {
      WarmUp(a);
      body(a);
    }).join();
  });
}

// A huge block and new chunks for this thread's arena are still made.
TEST(AddressLimit, HugeBlockAfterAnotherArenaGivesRetainedBack) {
  WhileAnotherArenaRetains([](np_allocator* a) {
    errno = 0;
    void* p = np_alloc(a, kRetained + 16 * MiB);  // (whichever arena holds the retained memory)
    ASSERT_NE(p, nullptr) << "errno " << errno << " with " << Stats(a).retained_bytes << " bytes retained";
    memset(p, 1, 4096);
    EXPECT_EQ(np_free(a, p), NP_OK);
  });
}

TEST(AddressLimit, ChunksAfterAnotherArenaGivesRetainedBack) {
  WhileAnotherArenaRetains([](np_allocator* a) {
    std::vector<void*> live;
    // 1 MiB blocks (normal, new chunks) up to twice what the retained
    // memory leaves room for: every one is allocated.
    const size_t want = 2 * (kRoom - kRetained);
    for (size_t got = 0; got < want; got += MiB) {
      errno = 0;
      void* p = np_alloc(a, MiB);
      ASSERT_NE(p, nullptr) << "after " << got / MiB << " MiB: errno " << errno << ", "
                            << Stats(a).retained_bytes << " bytes retained";
      live.push_back(p);
    }
    // Then until nothing is left: ENOMEM, with nothing retained anywhere.
    void* p;
    while ((errno = 0, p = np_alloc(a, MiB)) != nullptr) live.push_back(p);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(Stats(a).retained_bytes, 0u) << "ENOMEM while memory could have been given back";
    EXPECT_GE(live.size() * MiB, kRoom - 48 * MiB) << "most of the room was used";
    for (void* q : live) ASSERT_EQ(np_free(a, q), NP_OK);
    void* again = np_alloc(a, MiB);  // the failure does not stick
    EXPECT_NE(again, nullptr);
    np_free(a, again);
  });
}

// Nothing to give back: ENOMEM at once, nothing changes, and the allocator
// goes on working.
TEST(AddressLimit, NothingToGiveBackIsENOMEM) {
  InChild([] {
    np_allocator* a = LimitedAllocator();
    ASSERT_NE(a, nullptr);
    const np_stats before = Stats(a);
    errno = 0;
    EXPECT_EQ(np_alloc(a, kRoom + 8 * MiB), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    const np_stats after = Stats(a);
    EXPECT_EQ(after.huge.active, before.huge.active);
    EXPECT_EQ(after.mapped_bytes, before.mapped_bytes);
    void* p = np_alloc(a, 8 * MiB);
    EXPECT_NE(p, nullptr);
    np_free(a, p);
    np_allocator_destroy(a);
  });
}

}  // namespace
