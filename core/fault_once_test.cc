// Fault injection on what the library makes once per process, on first use:
// the default allocator (np_default_allocator, npool's malloc) and the private
// allocators behind pooled buffers' objects and leak records. A failure there
// must give NULL with errno ENOMEM (or an untracked buffer) and must not stick:
// once memory is back, the next call makes what the failed one could not.
// Each sweep runs in a child process of its own, forked before anything was
// made, so that every step starts from "not made yet".
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "npool_buf.h"
#include "core/base/fault_inject.h"
#include "core/internal.h"

namespace {

const char* KindName(np_fault_kind k) { return k == NP_FAULT_MAP ? "map" : "meta"; }

// Runs body in a forked child; the child's failed expectations fail the test.
template <class F>
void InFreshChild(const char* what, F body) {
  fflush(stdout);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    fflush(stdout);
    _exit(testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << what << ": the child failed";
}

class FaultOnce : public testing::TestWithParam<np_fault_kind> {};

// The nth call np_default_allocator's creation makes fails, for n = 1, 2, ...:
// NULL, ENOMEM, nothing left mapped, and the next call tries again, until
// one succeeds.
TEST_P(FaultOnce, DefaultAllocatorCreationFailsCleanlyAndIsTriedAgain) {
  const np_fault_kind kind = GetParam();
  InFreshChild("default allocator", [kind] {
    ASSERT_EQ(__atomic_load_n(&np_default_alloc, __ATOMIC_ACQUIRE), nullptr)
        << "made before the test";
    const int64_t base = np_fault_mapped_bytes();
    int failures = 0;
    np_allocator* a = nullptr;
    for (long n = 1; a == nullptr; n++) {
      SCOPED_TRACE(testing::Message() << KindName(kind) << " #" << n);
      np_fault_arm(kind, n);
      errno = 0;
      a = np_default_allocator();
      const bool fired = np_fault_fired();
      np_fault_arm(kind, 0);
      if (a == nullptr) {
        EXPECT_EQ(errno, ENOMEM);
        EXPECT_TRUE(fired);
        EXPECT_EQ(np_fault_mapped_bytes(), base) << "mappings left by a failed creation";
        failures++;
      } else {
        EXPECT_FALSE(fired) << "a call failed and the allocator was made anyway";
      }
      if (testing::Test::HasFailure() || n > 10000) return;
    }
    EXPECT_GT(failures, 0) << "creation made no call of this kind";
    void* p = np_alloc(a, 100);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(np_free(a, p), NP_OK);
    EXPECT_EQ(np_default_allocator(), a) << "made once";
  });
}

std::vector<std::string>* reports;
void Collect(void*, const char* report) { reports->push_back(report); }

// The nth call of the first np_buf_alloc (buffer memory, the buffers' object
// allocator, the leak records' allocator, a record) fails, for n = 1, 2, ...:
// the buffer is NULL with ENOMEM, or made and merely untracked; and after
// that, with memory back, a leaked buffer is tracked and reported.
TEST_P(FaultOnce, BufferAndLeakRecordAllocatorsAreMadeOnceMemoryIsBack) {
  const np_fault_kind kind = GetParam();
  InFreshChild("buffers and leak records", [kind] {
    std::vector<std::string> got;
    reports = &got;
    np_leak_set_reporter(Collect, nullptr);
    np_config c = np_config_default();
    c.leak_detection = NP_LEAK_PARANOID;
    int failed = 0;
    for (long n = 1;; n++) {
      SCOPED_TRACE(testing::Message() << KindName(kind) << " #" << n);
      np_allocator* a = nullptr;
      ASSERT_EQ(np_allocator_create(&c, &a), NP_OK);
      np_fault_arm(kind, n);
      errno = 0;
      np_buf* b = np_buf_alloc(a, 64, 4096);
      const bool fired = np_fault_fired();
      np_fault_arm(kind, 0);
      if (b == nullptr) {
        EXPECT_EQ(errno, ENOMEM);
        EXPECT_TRUE(fired);
        failed++;
      } else {
        EXPECT_EQ(np_buf_write_u32(b, 7), NP_OK);
        EXPECT_EQ(np_buf_release(b), NP_OK);
      }
      np_buf* leaked = np_buf_alloc(a, 64, 4096);  // memory is back
      ASSERT_NE(leaked, nullptr);
      got.clear();
      np_allocator_destroy(a);
      EXPECT_EQ(got.size(), 1u) << "the leaked buffer made with memory back is reported";
      if (testing::Test::HasFailure() || !fired) break;
    }
    EXPECT_GT(failed, 0);
    np_leak_set_reporter(nullptr, nullptr);
  });
}

INSTANTIATE_TEST_SUITE_P(Kinds, FaultOnce, testing::Values(NP_FAULT_MAP, NP_FAULT_META),
                         [](const testing::TestParamInfo<np_fault_kind>& i) {
                           return std::string(i.param == NP_FAULT_MAP ? "Map" : "Meta");
                         });

}  // namespace
