// Leak detection of pooled buffers (np_config.leak_detection, leak.c): a
// planted leak is reported with its creation site (and, at advanced and
// paranoid, its touches) when the allocator is destroyed or at process exit;
// released buffers never are; simple samples 1 in leak_sampling_interval;
// disabled reports nothing. Linked with -rdynamic (core/BUILD) so that the
// reports name this file's functions.
#include <stdlib.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "npool_buf.h"

extern "C" {
// The planted leak: a buffer allocated, written and never released. Not
// inlined, and not a tail call (the write follows), so it is a frame of the
// creation backtrace; extern "C" so that its name appears unmangled.
__attribute__((noinline)) np_buf* leaky_function_for_test(np_allocator* a) {
  np_buf* b = np_buf_alloc(a, 64, NP_BUF_DEFAULT_MAX_CAPACITY);
  if (b != nullptr) np_buf_write_u32(b, 0xdeadbeef);
  asm volatile("" ::: "memory");
  return b;
}
}

namespace {

void Collect(void* ctx, const char* report) {
  static_cast<std::vector<std::string>*>(ctx)->push_back(report);
}

np_allocator* Make(np_leak_level level, unsigned interval) {
  np_config cfg = np_config_default();
  cfg.arenas = 1;
  cfg.leak_detection = level;
  cfg.leak_sampling_interval = interval;
  np_allocator* a = nullptr;
  EXPECT_EQ(np_allocator_create(&cfg, &a), NP_OK);
  return a;
}

class LeakTest : public ::testing::Test {
 protected:
  void SetUp() override { np_leak_set_reporter(Collect, &reports_); }
  void TearDown() override { np_leak_set_reporter(nullptr, nullptr); }
  std::vector<std::string> reports_;
};

bool Has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

TEST_F(LeakTest, ParanoidReportsPlantedLeakWithCreationSite) {
  np_allocator* a = Make(NP_LEAK_PARANOID, 128);
  ASSERT_NE(leaky_function_for_test(a), nullptr);
  EXPECT_TRUE(reports_.empty()); // nothing before the allocator goes
  np_allocator_destroy(a);
  ASSERT_EQ(reports_.size(), 1u);
  const std::string& r = reports_[0];
  EXPECT_TRUE(Has(r, "LEAK")) << r;
  EXPECT_TRUE(Has(r, "allocator destroyed")) << r;
  EXPECT_TRUE(Has(r, "Created at:")) << r;
  EXPECT_TRUE(Has(r, "leaky_function_for_test")) << r;
  EXPECT_TRUE(Has(r, "np_buf_write_u32")) << r; // paranoid keeps touches too
}

TEST_F(LeakTest, AdvancedReportsRecentTouches) {
  np_allocator* a = Make(NP_LEAK_ADVANCED, 1); // interval 1: every buffer sampled
  np_buf* b = leaky_function_for_test(a);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(np_buf_touch(b, "handed to the decoder"), NP_OK);
  uint8_t v;
  EXPECT_EQ(np_buf_read_u8(b, &v), NP_OK);
  np_allocator_destroy(a);
  ASSERT_EQ(reports_.size(), 1u);
  const std::string& r = reports_[0];
  EXPECT_TRUE(Has(r, "leaky_function_for_test")) << r;
  EXPECT_TRUE(Has(r, "Recent access records: 3 in all")) << r;
  EXPECT_TRUE(Has(r, "touch #3: np_buf_read_u8")) << r;
  EXPECT_TRUE(Has(r, "touch #2: handed to the decoder")) << r;
  EXPECT_TRUE(Has(r, "touch #1: np_buf_write_u32")) << r;
  EXPECT_TRUE(Has(r, "latest touch at:")) << r;
  // The latest touch's backtrace is this test's body, the creation's the planted function.
  EXPECT_LT(r.find("latest touch at:"), r.find("Created at:")) << r;
  // Each backtrace starts with the public function that was called.
  std::string touch = r.substr(r.find("latest touch at:"));
  EXPECT_TRUE(Has(touch.substr(0, touch.find('\n', touch.find("#0"))), "np_buf_read_u8")) << r;
  std::string created = r.substr(r.find("Created at:"));
  EXPECT_TRUE(Has(created.substr(0, created.find('\n', created.find("#0"))), "np_buf_alloc")) << r;
}

TEST_F(LeakTest, AdvancedKeepsOnlyTheLastTouches) {
  np_allocator* a = Make(NP_LEAK_ADVANCED, 1);
  np_buf* b = np_buf_alloc(a, 16, 16);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 10; i++) EXPECT_EQ(np_buf_touch(b, i == 9 ? "last" : "early"), NP_OK);
  np_allocator_destroy(a);
  ASSERT_EQ(reports_.size(), 1u);
  const std::string& r = reports_[0];
  EXPECT_TRUE(Has(r, "10 in all, the last 4")) << r;
  EXPECT_TRUE(Has(r, "touch #10: last")) << r;
  EXPECT_FALSE(Has(r, "touch #6:")) << r;
}

TEST_F(LeakTest, SimpleReportsCreationSiteOnly) {
  np_allocator* a = Make(NP_LEAK_SIMPLE, 1);
  np_buf* b = leaky_function_for_test(a);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(np_buf_touch(b, "not kept"), NP_OK);
  np_allocator_destroy(a);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_TRUE(Has(reports_[0], "leaky_function_for_test")) << reports_[0];
  EXPECT_FALSE(Has(reports_[0], "Recent access")) << reports_[0];
  EXPECT_FALSE(Has(reports_[0], "not kept")) << reports_[0];
}

TEST_F(LeakTest, ReleasedBuffersAreNeverReported) {
  np_allocator* a = Make(NP_LEAK_PARANOID, 128);
  std::vector<np_buf*> live;
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 500; i++) {
      np_buf* b = np_buf_alloc(a, 16 + (size_t)i * 7, NP_BUF_DEFAULT_MAX_CAPACITY);
      ASSERT_NE(b, nullptr);
      ASSERT_EQ(np_buf_write_u64(b, (uint64_t)i), NP_OK);
      if (i % 3 == 0) {
        np_buf *s, *d;
        ASSERT_EQ(np_buf_slice(b, 0, 4, &s), NP_OK);
        ASSERT_EQ(np_buf_duplicate(s, &d), NP_OK);
        ASSERT_EQ(np_buf_retain(s), NP_OK);
        ASSERT_EQ(np_buf_release(d), NP_OK); // the count is shared: 2 -> 1
      }
      if (i % 5 == 0) ASSERT_EQ(np_buf_write_bytes(b, nullptr, 0), NP_OK);
      live.push_back(b);
    }
    for (np_buf* b : live) ASSERT_EQ(np_buf_release(b), NP_OK);
    live.clear();
  }
  // Released on another thread too.
  for (int i = 0; i < 1000; i++) live.push_back(np_buf_alloc(a, 32, 64));
  std::thread([&] {
    for (np_buf* b : live) EXPECT_EQ(np_buf_release(b), NP_OK);
  }).join();
  np_allocator_destroy(a);
  EXPECT_TRUE(reports_.empty()) << reports_.size() << " reports, the first:\n" << reports_[0];
}

TEST_F(LeakTest, SimpleSamplesOneInInterval) {
  const unsigned interval = 16, n = 1600;
  np_allocator* a = Make(NP_LEAK_SIMPLE, interval);
  // A fresh thread: its sampling countdown starts anew.
  std::thread([&] {
    for (unsigned i = 0; i < n; i++) EXPECT_NE(np_buf_alloc(a, 16, 16), nullptr);
  }).join();
  np_allocator_destroy(a);
  EXPECT_GE(reports_.size(), n / interval - 5);
  EXPECT_LE(reports_.size(), n / interval + 5);
  for (const std::string& r : reports_) EXPECT_TRUE(Has(r, "leak_detection simple")) << r;
}

TEST_F(LeakTest, DefaultIntervalSamplesFewBuffers) {
  np_allocator* a = Make(NP_LEAK_SIMPLE, 128);
  std::thread([&] {
    for (unsigned i = 0; i < 1280; i++) EXPECT_NE(np_buf_alloc(a, 16, 16), nullptr);
  }).join();
  np_allocator_destroy(a);
  EXPECT_GE(reports_.size(), 5u);
  EXPECT_LE(reports_.size(), 15u);
}

TEST_F(LeakTest, DisabledReportsNothing) {
  np_allocator* a = Make(NP_LEAK_DISABLED, 1);
  for (int i = 0; i < 1000; i++) ASSERT_NE(leaky_function_for_test(a), nullptr);
  np_allocator_destroy(a);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(LeakTest, ReportsOnlyTheDestroyedAllocatorsBuffers) {
  np_allocator* a = Make(NP_LEAK_PARANOID, 128);
  np_allocator* b = Make(NP_LEAK_PARANOID, 128);
  ASSERT_NE(leaky_function_for_test(a), nullptr);
  ASSERT_NE(leaky_function_for_test(b), nullptr);
  ASSERT_NE(leaky_function_for_test(b), nullptr);
  np_allocator_destroy(a);
  EXPECT_EQ(reports_.size(), 1u);
  np_allocator_destroy(b);
  EXPECT_EQ(reports_.size(), 3u);
}

// An allocator never destroyed: the leak is reported to stderr at process exit.
TEST(LeakExitTest, ReportsAtProcessExit) {
  EXPECT_EXIT(
      {
        np_leak_set_reporter(nullptr, nullptr);
        np_allocator* a = Make(NP_LEAK_PARANOID, 128);
        leaky_function_for_test(a);
        exit(0);
      },
      ::testing::ExitedWithCode(0), "npool: LEAK.*process exit(.|\n)*leaky_function_for_test");
}

// The default allocator takes its level from NPOOL_CONF (set in the child
// before its first use) and, never destroyed, reports at exit.
TEST(LeakExitTest, DefaultAllocatorFromNpoolConf) {
  EXPECT_EXIT(
      {
        setenv("NPOOL_CONF", "leak_detection:paranoid", 1);
        leaky_function_for_test(np_default_allocator());
        exit(0);
      },
      ::testing::ExitedWithCode(0), "npool: LEAK(.|\n)*leaky_function_for_test");
}

}  // namespace
