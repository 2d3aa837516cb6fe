// npool as malloc: the C library's contracts of npool_* (npool_malloc.h) on
// the default allocator, the allocator-level np_alloc_aligned / np_calloc /
// np_realloc under them, bad pointers, thread exit and fork().
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "npool_malloc.h"
#include "core/test_support.h"

namespace {

bool Aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

np_allocator* Default() {
  np_allocator* a = np_default_allocator();
  EXPECT_NE(a, nullptr);
  return a;
}

TEST(Malloc, ZeroAndOrdinarySizes) {
  void* z1 = npool_malloc(0);
  void* z2 = npool_malloc(0);
  ASSERT_NE(z1, nullptr);
  ASSERT_NE(z2, nullptr);
  EXPECT_NE(z1, z2);
  npool_free(z1);
  npool_free(z2);
  for (size_t size : {1, 16, 100, 1000, 9000, 40000, 1 << 20, 5 << 20}) {
    auto* p = static_cast<unsigned char*>(npool_malloc(size));
    ASSERT_NE(p, nullptr) << size;
    EXPECT_TRUE(Aligned(p, 16)) << size;
    EXPECT_GE(npool_malloc_usable_size(p), size);
    memset(p, 0xab, size);
    npool_free(p);
  }
  npool_free(nullptr);
  EXPECT_EQ(npool_malloc_usable_size(nullptr), 0u);
}

TEST(Malloc, TooLargeIsEnomem) {
  errno = 0;
  EXPECT_EQ(npool_malloc(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(npool_malloc(SIZE_MAX - 4096), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Malloc, CallocZeroesReusedBlocksAndChecksOverflow) {
  // A dirty block of the class goes back to the thread cache; calloc gets it again.
  auto* dirty = static_cast<unsigned char*>(npool_malloc(200));
  memset(dirty, 0xff, 200);
  npool_free(dirty);
  auto* p = static_cast<unsigned char*>(npool_calloc(10, 20));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, dirty);  // the same block, so the zeroes are calloc's
  for (int i = 0; i < 200; i++) ASSERT_EQ(p[i], 0) << i;
  npool_free(p);
  auto* huge = static_cast<unsigned char*>(npool_calloc(1, 6 << 20));
  ASSERT_NE(huge, nullptr);
  for (size_t i = 0; i < (6u << 20); i += 4096) ASSERT_EQ(huge[i], 0) << i;
  npool_free(huge);
  errno = 0;
  EXPECT_EQ(npool_calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* none = npool_calloc(0, 100);
  EXPECT_NE(none, nullptr);
  npool_free(none);
}

TEST(Malloc, ReallocInPlaceGrowShrinkAndNull) {
  auto* p = static_cast<char*>(npool_realloc(nullptr, 100));  // malloc
  ASSERT_NE(p, nullptr);
  size_t usable = npool_malloc_usable_size(p);  // 112
  strcpy(p, "kept across moves");
  EXPECT_EQ(npool_realloc(p, usable), p);  // fits: in place
  EXPECT_EQ(npool_realloc(p, usable - 20), p);
  auto* grown = static_cast<char*>(npool_realloc(p, 50000));
  ASSERT_NE(grown, nullptr);
  EXPECT_NE(grown, p);
  EXPECT_STREQ(grown, "kept across moves");
  EXPECT_EQ(npool_malloc_usable_size(p), 0u);  // the old block was freed
  auto* huge = static_cast<char*>(npool_realloc(grown, 9 << 20));
  ASSERT_NE(huge, nullptr);
  EXPECT_STREQ(huge, "kept across moves");
  auto* shrunk = static_cast<char*>(npool_realloc(huge, 64));  // less than half: moves
  ASSERT_NE(shrunk, nullptr);
  EXPECT_NE(shrunk, huge);
  EXPECT_STREQ(shrunk, "kept across moves");
  EXPECT_LT(npool_malloc_usable_size(shrunk), 100u);
  EXPECT_EQ(npool_realloc(shrunk, 0), nullptr);  // glibc's: frees
  EXPECT_EQ(npool_malloc_usable_size(shrunk), 0u);
}

TEST(Malloc, ReallocFailureLeavesTheBlock) {
  auto* p = static_cast<char*>(npool_malloc(30));
  strcpy(p, "still here");
  errno = 0;
  EXPECT_EQ(npool_realloc(p, SIZE_MAX - 100), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_STREQ(p, "still here");
  errno = 0;
  EXPECT_EQ(npool_reallocarray(p, SIZE_MAX / 4, 8), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_STREQ(p, "still here");
  auto* q = static_cast<char*>(npool_reallocarray(p, 100, 10));
  ASSERT_NE(q, nullptr);
  EXPECT_STREQ(q, "still here");
  npool_free(q);
}

TEST(Malloc, AlignedFunctionsHonourEveryPowerOfTwo) {
  for (size_t align = sizeof(void*); align <= (size_t(1) << 24); align <<= 1) {
    for (size_t size : {size_t(1), size_t(100), size_t(5000), size_t(100000), size_t(5) << 20}) {
      void* p = nullptr;
      ASSERT_EQ(npool_posix_memalign(&p, align, size), 0) << align << " " << size;
      EXPECT_TRUE(Aligned(p, align)) << align << " " << size;
      EXPECT_GE(npool_malloc_usable_size(p), size);
      memset(p, 1, size);
      void* q = npool_aligned_alloc(align, size);
      ASSERT_NE(q, nullptr);
      EXPECT_TRUE(Aligned(q, align));
      npool_free(p);
      npool_free(q);
    }
  }
  // Up to the page, an aligned block is pooled, at most twice the size.
  void* p = npool_aligned_alloc(4096, 4096);
  EXPECT_EQ(npool_malloc_usable_size(p), 4096u);
  npool_free(p);
  p = npool_aligned_alloc(64, 40);
  EXPECT_EQ(npool_malloc_usable_size(p), 64u);
  npool_free(p);
}

TEST(Malloc, AlignmentArgumentsAreChecked) {
  void* p = reinterpret_cast<void*>(0x1);
  int saved = errno = 1234;
  EXPECT_EQ(npool_posix_memalign(&p, 0, 10), EINVAL);
  EXPECT_EQ(npool_posix_memalign(&p, 24, 10), EINVAL);
  EXPECT_EQ(npool_posix_memalign(&p, 4, 10), EINVAL);  // below sizeof(void *)
  EXPECT_EQ(npool_posix_memalign(&p, 64, SIZE_MAX - 10), ENOMEM);
  EXPECT_EQ(p, reinterpret_cast<void*>(0x1));  // untouched on failure
  EXPECT_EQ(errno, saved);                     // and errno as it was
  errno = 0;
  EXPECT_EQ(npool_aligned_alloc(48, 100), nullptr);
  EXPECT_EQ(errno, EINVAL);
  void* m = npool_memalign(48, 100);  // glibc rounds up to 64
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(Aligned(m, 64));
  npool_free(m);
  errno = 0;
  EXPECT_EQ(npool_memalign(SIZE_MAX, 1), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Malloc, VallocAndPvalloc) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* v = npool_valloc(10);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(Aligned(v, page));
  void* pv = npool_pvalloc(page + 1);
  ASSERT_NE(pv, nullptr);
  EXPECT_TRUE(Aligned(pv, page));
  EXPECT_GE(npool_malloc_usable_size(pv), 2 * page);
  void* pv0 = npool_pvalloc(0);
  EXPECT_GE(npool_malloc_usable_size(pv0), page);
  errno = 0;
  EXPECT_EQ(npool_pvalloc(SIZE_MAX - 1), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  npool_free(v);
  npool_free(pv);
  npool_free(pv0);
}

TEST(Malloc, BadPointersChangeNothing) {
  np_allocator* a = Default();
  uint64_t before = np_test::Stats(a).invalid_frees;
  int on_stack = 0;
  npool_free(&on_stack);  // foreign
  auto* p = static_cast<char*>(npool_malloc(64));
  strcpy(p, "intact");
  npool_free(p + 16);  // inside a block
  EXPECT_STREQ(p, "intact");
  npool_free(p);
  npool_free(p);  // double free (of a cached block)
  void* huge = npool_malloc(6 << 20);
  npool_free(huge);
  npool_free(huge);  // double free of an unmapped huge block
  EXPECT_EQ(np_test::Stats(a).invalid_frees, before + 4);
  // The block freed twice is handed out once.
  void* x = npool_malloc(64);
  void* y = npool_malloc(64);
  EXPECT_NE(x, y);
  npool_free(x);
  npool_free(y);
  // realloc of a foreign or a freed pointer: NULL, EINVAL, nothing changed.
  errno = 0;
  EXPECT_EQ(npool_realloc(&on_stack, 100), nullptr);
  EXPECT_EQ(errno, EINVAL);
  auto* freed = static_cast<char*>(npool_malloc(64));
  npool_free(freed);
  errno = 0;
  EXPECT_EQ(npool_realloc(freed, 10), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(npool_malloc_usable_size(&on_stack), 0u);
  EXPECT_EQ(npool_malloc_usable_size(freed), 0u);
}

// invalid_free (NPOOL_CONF): each mode in a process of its own (GoogleTest's
// "threadsafe" death tests run the test again in a new process, so the
// default allocator is made there from the NPOOL_CONF the child sets first,
// and the report-once flag starts clear). The child prints "ptr=<p>" for the
// pointer it frees twice, so that the parent can check the message names it.
void DoubleFreeAndMore(const char* conf) {
  setenv("NPOOL_CONF", conf, 1);
  void* p = npool_malloc(64);
  fprintf(stderr, "ptr=%p\n", p);
  npool_free(p);
  npool_free(p);  // double free
  int on_stack = 0;
  npool_free(&on_stack);  // foreign: a second invalid pointer
  uint64_t invalid = np_test::Stats(np_default_allocator()).invalid_frees;
  fprintf(stderr, "counted=%llu\n", static_cast<unsigned long long>(invalid));
  exit(0);
}

// A death test's stderr matcher from a plain function (gtest without gmock).
class StderrCheck : public testing::MatcherInterface<const std::string&> {
 public:
  explicit StderrCheck(bool (*f)(const std::string&)) : f_(f) {}
  bool MatchAndExplain(const std::string& s, testing::MatchResultListener*) const override { return f_(s); }
  void DescribeTo(std::ostream* os) const override { *os << "has the expected npool messages"; }

 private:
  bool (*f_)(const std::string&);
};

testing::Matcher<const std::string&> Stderr(bool (*f)(const std::string&)) {
  return testing::MakeMatcher(new StderrCheck(f));
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) n++;
  return n;
}

// The "npool: free(<the pointer the child printed>): <the error>" line is there.
bool NamesThePointer(const std::string& s, const char* error) {
  size_t at = s.find("ptr=");
  if (at == std::string::npos) return false;
  std::string ptr = s.substr(at + 4, s.find('\n', at) - at - 4);
  return s.find("npool: free(" + ptr + "): " + error) != std::string::npos;
}

TEST(InvalidFree, ReportNamesTheFirstPointerOnlyAndContinues) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(DoubleFreeAndMore("invalid_free:report"), testing::ExitedWithCode(0),
              Stderr([](const std::string& s) {
                return NamesThePointer(s, np_strerror(NP_ERR_DOUBLE_FREE)) && Count(s, "npool: ") == 1 &&
                       s.find("counted=2") != std::string::npos;
              }));
}

TEST(InvalidFree, ReportIsTheDefault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(DoubleFreeAndMore(""), testing::ExitedWithCode(0), Stderr([](const std::string& s) {
                return NamesThePointer(s, np_strerror(NP_ERR_DOUBLE_FREE)) && Count(s, "npool: ") == 1 &&
                       s.find("counted=2") != std::string::npos;
              }));
}

TEST(InvalidFree, AbortNamesThePointerAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(DoubleFreeAndMore("invalid_free:abort"), testing::KilledBySignal(SIGABRT),
              Stderr([](const std::string& s) {
                return NamesThePointer(s, np_strerror(NP_ERR_DOUBLE_FREE)) &&
                       s.find("aborting (invalid_free:abort)") != std::string::npos &&
                       s.find("counted=") == std::string::npos;
              }));
  // realloc of a pointer that is not a live block aborts too.
  EXPECT_EXIT(
      {
        setenv("NPOOL_CONF", "invalid_free:abort", 1);
        int on_stack = 0;
        fprintf(stderr, "ptr=%p\n", static_cast<void*>(&on_stack));
        npool_realloc(&on_stack, 10);
        exit(0);
      },
      testing::KilledBySignal(SIGABRT), Stderr([](const std::string& s) {
        size_t at = s.find("ptr=");
        if (at == std::string::npos) return false;
        std::string ptr = s.substr(at + 4, s.find('\n', at) - at - 4);
        return s.find("npool: realloc(" + ptr + "): not a live block") != std::string::npos;
      }));
}

TEST(InvalidFree, IgnorePrintsNothingAndCounts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(DoubleFreeAndMore("invalid_free:ignore"), testing::ExitedWithCode(0),
              Stderr([](const std::string& s) {
                return Count(s, "npool: ") == 0 && s.find("counted=2") != std::string::npos;
              }));
}

// The allocator-level functions on an allocator of its own, with other pages.
TEST(AllocatorLevel, AlignedCallocReallocOnAnyConfig) {
  np_config cfg = np_config_default();
  cfg.page_size = 16384;
  cfg.max_order = 6;  // 1 MiB chunks
  np_allocator* a;
  ASSERT_EQ(np_allocator_create(&cfg, &a), NP_OK);
  for (size_t align = 1; align <= (size_t(1) << 22); align <<= 1) {
    for (size_t size : {size_t(0), size_t(24), size_t(3000), size_t(20000), size_t(2) << 20}) {
      void* p = np_alloc_aligned(a, align, size);
      ASSERT_NE(p, nullptr) << align << " " << size;
      EXPECT_TRUE(Aligned(p, align)) << align << " " << size;
      EXPECT_GE(np_usable_size(a, p), size);
      EXPECT_EQ(np_free(a, p), NP_OK);
    }
  }
  errno = 0;
  EXPECT_EQ(np_alloc_aligned(a, 3, 10), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(np_alloc_aligned(nullptr, 16, 10), nullptr);
  auto* z = static_cast<unsigned char*>(np_calloc(a, 3, 1000));
  for (int i = 0; i < 3000; i++) ASSERT_EQ(z[i], 0);
  auto* r = static_cast<unsigned char*>(np_realloc(a, z, 100000));
  ASSERT_NE(r, nullptr);
  for (int i = 0; i < 3000; i++) ASSERT_EQ(r[i], 0);
  errno = 0;
  EXPECT_EQ(np_realloc(a, z, 10), nullptr);  // z was freed by the move
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(np_free(a, r), NP_OK);
  np_stats s = np_test::Stats(a);
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  np_allocator_destroy(a);
}

// A thread whose last destructor allocates after npool's exit handler ran:
// it gets blocks without a cache, so no cache is left behind by dead threads.
pthread_key_t late_key;
void late_destructor(void*) {
  void* p = npool_malloc(100);
  npool_free(p);
}

TEST(Malloc, AllocationAfterThreadExitHandlerMakesNoCache) {
  np_allocator* a = Default();
  npool_free(npool_malloc(1));  // npool's key exists before late_key
  ASSERT_EQ(pthread_key_create(&late_key, late_destructor), 0);
  uint64_t before = np_test::Stats(a).thread_caches;
  for (int i = 0; i < 20; i++) {
    std::thread t([] {
      pthread_setspecific(late_key, reinterpret_cast<void*>(1));
      npool_free(npool_malloc(100));
    });
    t.join();
  }
  EXPECT_EQ(np_test::Stats(a).thread_caches, before);
  pthread_key_delete(late_key);
}

// fork() while other threads allocate and free: the child can allocate (no
// lock was left held), and its caches of threads that did not survive are retired.
TEST(Malloc, ForkWhileOtherThreadsAllocate) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; t++)
    busy.emplace_back([&stop, t] {
      std::vector<void*> live(64, nullptr);
      for (unsigned i = 0; !stop.load(std::memory_order_relaxed); i++) {
        void*& slot = live[(i * 7 + t) % live.size()];
        npool_free(slot);
        slot = npool_malloc((i * 37) % 40000);
      }
      for (void* p : live) npool_free(p);
    });
  for (int round = 0; round < 20; round++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int ok = 1;
      for (int i = 0; i < 1000; i++) {
        void* p = npool_malloc((i * 91) % 70000);
        ok &= p != nullptr;
        npool_free(p);
      }
      np_stats s;
      np_allocator_stats(np_default_allocator(), &s);
      _exit(ok && s.thread_caches == 1 ? 0 : 3);  // only the forking thread's cache lives
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "round " << round;
  }
  stop = true;
  for (auto& t : busy) t.join();
}


// fork() while other threads are in the middle of flushing their caches to
// the arena (tiny caches and a trim every few lookups make them flush all the
// time; a flush waits on the arena lock, which the fork handler holds). The
// child must not free those half-flushed entries a second time: every block
// it allocates afterwards is distinct, and no free is reported invalid.
int ForkedChildChecksBlocks(np_allocator* a, const std::vector<void*>& held) {
  for (void* p : held)  // the forking thread's blocks are still its own
    if (np_free(a, p) != NP_OK) return 1;
  std::vector<uintptr_t> got;
  for (int i = 0; i < 4000; i++) {
    void* p = np_alloc(a, 16 + (i * 53) % 3000);
    if (p == nullptr) return 2;
    got.push_back(reinterpret_cast<uintptr_t>(p));
  }
  std::vector<uintptr_t> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return 3;  // handed out twice
  for (uintptr_t p : got)
    if (np_free(a, reinterpret_cast<void*>(p)) != NP_OK) return 4;
  np_stats s;
  if (np_allocator_stats(a, &s) != NP_OK) return 5;
  if (s.invalid_frees != 0) return 6;
  if (s.thread_caches != 1) return 7;  // only the forking thread's cache lives
  return 0;
}

TEST(Fork, ChildDoesNotRefreeCachesCaughtMidFlush) {
  np_config c = np_config_default();
  c.small_cache_size = 4;
  c.normal_cache_size = 4;
  c.cache_trim_interval = 3;
  c.arenas = 1;
  c.release_empty_init_chunks = 1;
  np_allocator* a = nullptr;
  ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
  np_free(a, np_alloc(a, 64));  // the forking thread has a cache too
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; t++)
    busy.emplace_back([&stop, a, t] {
      std::vector<void*> live(32, nullptr);
      for (unsigned i = 0; !stop.load(std::memory_order_relaxed); i++) {
        for (int k = 0; k < 16; k++) live[k] = np_alloc(a, 16 + ((i + k + t) * 97) % 40000);
        for (int k = 0; k < 16; k++) np_free(a, live[k]);
      }
    });
  int failed_round = -1, status = 0;
  for (int round = 0; round < 100 && failed_round < 0; round++) {
    std::vector<void*> held;  // taken while the others flush: maybe blocks they just gave back
    for (int k = 0; k < 64; k++) held.push_back(np_alloc(a, 16 + (k * 389) % 40000));
    pid_t pid = fork();
    if (pid == 0) _exit(ForkedChildChecksBlocks(a, held));
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failed_round = round;
    for (void* p : held) EXPECT_EQ(np_free(a, p), NP_OK);
  }
  stop = true;
  for (auto& t : busy) t.join();
  EXPECT_EQ(failed_round, -1) << "child status " << status << ": signal " << WTERMSIG(status)
                              << ", exit code " << WEXITSTATUS(status)
                              << " (see ForkedChildChecksBlocks)";
  EXPECT_EQ(np_test::Stats(a).invalid_frees, 0u);
  np_allocator_destroy(a);
}

// fork() in the middle of remote traffic (threads freeing each other's
// blocks all the time, so producers are inside pushes onto other threads'
// remote lists when the fork comes): in the child, the forking thread's lists
// accept frees from a new thread, and a new thread's lists accept the forking
// thread's, and both get back distinct blocks (nothing wedged, nothing
// handed out twice, nothing refused).
int DistinctAndFreed(np_allocator* a, std::vector<void*>& v) {
  std::vector<void*> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  if (std::find(sorted.begin(), sorted.end(), nullptr) != sorted.end()) return 1;
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return 2;
  for (void* p : v)
    if (np_free(a, p) != NP_OK) return 3;
  return 0;
}

int ChildRemoteTraffic(np_allocator* a) {
  const int n = 2000;
  std::vector<void*> mine(n), theirs(n), again(n);
  for (int i = 0; i < n; i++) mine[i] = np_alloc(a, 64);
  std::atomic<int> step{0}, rc{0};
  std::thread other([&] {
    for (void* p : mine)  // remote frees onto the forking thread's lists
      if (np_free(a, p) != NP_OK) rc = 10;
    for (int i = 0; i < n; i++) theirs[i] = np_alloc(a, 64);
    step = 1;
    while (step.load() != 2) std::this_thread::yield();
    for (int i = 0; i < n; i++) again[i] = np_alloc(a, 64);  // its remote lists, taken
    if (int r = DistinctAndFreed(a, again)) rc = 20 + r;
  });
  while (step.load() != 1) std::this_thread::yield();
  int r = 0;
  for (void* p : theirs)  // remote frees onto the new thread's lists
    if (np_free(a, p) != NP_OK) r = 30;
  step = 2;
  for (int i = 0; i < n; i++) mine[i] = np_alloc(a, 64);  // what came home to this thread
  if (!r) r = DistinctAndFreed(a, mine);
  other.join();
  if (r || rc) return r ? r : rc.load();
  return np_test::Stats(a).invalid_frees == 0 ? 0 : 40;
}

TEST(Fork, ChildOfRemoteTrafficHasWorkingRemoteLists) {
#ifdef __SANITIZE_THREAD__
  GTEST_SKIP() << "TSan cannot start threads in the child of a multi-threaded fork";
#endif
  np_allocator* a = nullptr;
  np_config c = np_config_default();
  ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
  np_free(a, np_alloc(a, 64));  // the forking thread has a cache
  std::atomic<bool> stop{false};
  std::vector<std::atomic<void*>> slots(64);
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; t++)
    busy.emplace_back([&, t] {
      for (unsigned i = 0; !stop.load(std::memory_order_relaxed); i++) {
        void* p = np_alloc(a, 64);
        void* old = slots[(i * 7 + t) % slots.size()].exchange(p);
        if (old) np_free(a, old);  // mostly another thread's block
      }
    });
  int failed_round = -1, status = 0;
  for (int round = 0; round < 200 && failed_round < 0; round++) {
    for (unsigned i = 0; i < 500; i++) {  // this thread's blocks travel too
      void* old = slots[(i * 13 + round) % slots.size()].exchange(np_alloc(a, 64));
      if (old) np_free(a, old);
    }
    pid_t pid = fork();
    if (pid == 0) _exit(ChildRemoteTraffic(a));
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failed_round = round;
  }
  stop = true;
  for (auto& t : busy) t.join();
  for (auto& s : slots)
    if (void* p = s.load()) EXPECT_EQ(np_free(a, p), NP_OK);
  EXPECT_EQ(failed_round, -1) << "child status " << status << ": signal " << WTERMSIG(status)
                              << ", exit code " << WEXITSTATUS(status) << " (see ChildRemoteTraffic)";
  np_stats st = np_test::Stats(a);
  EXPECT_EQ(st.invalid_frees, 0u);
  EXPECT_EQ(st.small.active, 0u);
  np_allocator_destroy(a);
}

}  // namespace
