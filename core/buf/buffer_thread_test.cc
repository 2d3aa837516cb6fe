// Pooled buffers across threads: allocated on one thread and released on
// another (the memory goes back to the allocating thread's cache, the object
// to the releasing thread's recycler), and the reference count changed from
// many threads at once: exactly one release frees, a released buffer is never
// revived, and nothing leaks.
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "npool_buf.h"
#include "core/test_support.h"

extern "C" np_allocator* np_recycler_allocator(void);

namespace {

using np_test::Stats;

struct Destroyer {
  void operator()(np_allocator* a) const { np_allocator_destroy(a); }
};
using AllocPtr = std::unique_ptr<np_allocator, Destroyer>;

AllocPtr Make() {
  np_config cfg = np_config_default();
  np_allocator* a = nullptr;
  EXPECT_EQ(np_allocator_create(&cfg, &a), NP_OK);
  return AllocPtr(a);
}

uint32_t RefCnt(const np_buf* b) {
  uint32_t v = 12345;
  EXPECT_EQ(np_buf_refcnt(b, &v), NP_OK);
  return v;
}

// No block of a is in use (after the calling thread's cache is flushed; the
// other threads have exited, which empties theirs).
void ExpectNothingActive(np_allocator* a) {
  np_thread_cache_flush(a);
  np_stats s = Stats(a);
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  EXPECT_EQ(s.invalid_frees, 0u);
}

// A bounded blocking queue of buffers.
class Queue {
 public:
  explicit Queue(size_t cap) : cap_(cap) {}
  void Push(np_buf* b) {
    std::unique_lock<std::mutex> l(m_);
    not_full_.wait(l, [&] { return q_.size() < cap_; });
    q_.push_back(b);
    not_empty_.notify_one();
  }
  np_buf* Pop() {
    std::unique_lock<std::mutex> l(m_);
    not_empty_.wait(l, [&] { return !q_.empty(); });
    np_buf* b = q_.front();
    q_.pop_front();
    not_full_.notify_one();
    return b;
  }

 private:
  size_t cap_;
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::deque<np_buf*> q_;
};

// Producers allocate, write and hand over; consumers read, check and release.
TEST(BufferThreads, AllocatedOnOneThreadReleasedOnAnother) {
  AllocPtr a = Make();
  constexpr int kPairs = 2, kPerProducer = 5000;
  uint64_t objects_before = Stats(np_recycler_allocator()).small.active;
  std::vector<std::thread> ts;
  std::vector<std::unique_ptr<Queue>> queues;
  std::atomic<int> bad{0};
  for (int p = 0; p < kPairs; p++) {
    queues.emplace_back(new Queue(256));
    Queue* q = queues.back().get();
    ts.emplace_back([&, q, p] {
      for (int i = 0; i < kPerProducer; i++) {
        // Sizes across small and normal classes; most grow on write.
        size_t n = 16 + (size_t(i) * 97) % 12000;
        np_buf* b = np_buf_alloc(a.get(), 8, n + 8);
        if (b == nullptr) {
          bad++;
          continue;
        }
        std::vector<uint8_t> body(n, uint8_t(i + p));
        if (np_buf_write_u32(b, uint32_t(i)) != NP_OK || np_buf_write_u32_le(b, uint32_t(n)) != NP_OK ||
            np_buf_write_bytes(b, body.data(), n) != NP_OK)
          bad++;
        q->Push(b);
      }
      q->Push(nullptr);
    });
    ts.emplace_back([&, q, p] {
      int expect = 0;
      for (np_buf* b; (b = q->Pop()) != nullptr; expect++) {
        uint32_t i = 0, n = 0;
        if (np_buf_read_u32(b, &i) != NP_OK || i != uint32_t(expect)) bad++;
        if (np_buf_read_u32_le(b, &n) != NP_OK) bad++;
        std::vector<uint8_t> body(n);
        if (np_buf_read_bytes(b, body.data(), n) != NP_OK) bad++;
        for (uint8_t c : body)
          if (c != uint8_t(i + p)) {
            bad++;
            break;
          }
        if (np_buf_release(b) != NP_OK) bad++;
        if (np_buf_read_u8(b, nullptr) != NP_ERR_REFCNT) bad++;
      }
      if (expect != kPerProducer) bad++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  ExpectNothingActive(a.get());
  // Objects flow back from the consumers to the producers through the
  // recycler's depot: far fewer than the buffers handed over.
  uint64_t objects = Stats(np_recycler_allocator()).small.active - objects_before;
  EXPECT_LT(objects, 6000u) << "buffer objects are not reused across threads";
}

// Many threads retain and release one buffer; the count ends where it began.
TEST(BufferThreads, RetainReleaseFromManyThreads) {
  AllocPtr a = Make();
  np_buf* b = np_buf_alloc(a.get(), 64, 64);
  ASSERT_NE(b, nullptr);
  np_buf* s;
  ASSERT_EQ(np_buf_slice(b, 0, 8, &s), NP_OK);
  constexpr int kThreads = 8, kRounds = 20000;
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      np_buf* x = t % 2 ? s : b;  // through the slice or the parent: one count
      for (int i = 0; i < kRounds; i++) {
        uint32_t n = 1 + uint32_t(i % 3);
        if (np_buf_retain_n(x, n) != NP_OK) bad++;
        if (np_buf_release_n(x, n) != NP_OK) bad++;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(RefCnt(b), 1u);
  ASSERT_EQ(np_buf_release(s), NP_OK);
  EXPECT_EQ(RefCnt(b), 0u);
  ExpectNothingActive(a.get());
}

// A count of N released once by each of N threads: exactly one of them frees,
// every release succeeds, and one more is refused.
TEST(BufferThreads, LastOfManyReleasesFreesOnce) {
  AllocPtr a = Make();
  constexpr int kThreads = 8;
  for (int round = 0; round < 200; round++) {
    np_buf* b = np_buf_alloc(a.get(), 100, 100);
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(np_buf_retain_n(b, kThreads - 1), NP_OK);
    std::atomic<int> ok{0}, go{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++)
      ts.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        if (np_buf_release(b) == NP_OK) ok++;
      });
    go = 1;
    for (auto& t : ts) t.join();
    ASSERT_EQ(ok.load(), kThreads);
    EXPECT_EQ(RefCnt(b), 0u);
    EXPECT_EQ(np_buf_release(b), NP_ERR_REFCNT);
  }
  ExpectNothingActive(a.get());
}

// Threads that each hold no reference of their own keep taking one (retain)
// while the owner drops its own: once the count has reached 0 no retain
// succeeds again, and the memory is freed exactly once.
TEST(BufferThreads, RetainNeverRevivesAReleasedBuffer) {
  AllocPtr a = Make();
  for (int round = 0; round < 20; round++) {
    np_buf* b = np_buf_alloc(a.get(), 32, 32);
    ASSERT_NE(b, nullptr);
    std::atomic<int> bad{0}, go{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
      ts.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (;;) {
          int rc = np_buf_retain(b);
          if (rc == NP_ERR_REFCNT) break;  // released: and it stays so
          if (rc != NP_OK || np_buf_release(b) != NP_OK) bad++;
        }
        if (np_buf_retain(b) != NP_ERR_REFCNT) bad++;
      });
    go = 1;
    std::this_thread::yield();
    ASSERT_EQ(np_buf_release(b), NP_OK);
    for (auto& t : ts) t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(RefCnt(b), 0u);
  }
  ExpectNothingActive(a.get());
}

// Views made on several threads at once, each holding its own reference,
// all go back with the parent.
TEST(BufferThreads, ViewsMadeConcurrently) {
  AllocPtr a = Make();
  np_buf* b = np_buf_alloc(a.get(), 4096, 4096);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 1024; i++) ASSERT_EQ(np_buf_write_u32(b, uint32_t(i)), NP_OK);
  constexpr int kThreads = 4, kViews = 2000;
  ASSERT_EQ(np_buf_retain_n(b, kThreads), NP_OK);
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kViews; i++) {
        np_buf* v;
        size_t idx = size_t((i * 7 + t) % 1024);
        if (np_buf_slice(b, idx * 4, 4, &v) != NP_OK) {
          bad++;
          continue;
        }
        uint32_t x;
        if (np_buf_read_u32(v, &x) != NP_OK || x != idx) bad++;
      }
      if (np_buf_release(b) != NP_OK) bad++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  ASSERT_EQ(np_buf_release(b), NP_OK);
  EXPECT_EQ(RefCnt(b), 0u);
  ExpectNothingActive(a.get());
}

// The default allocator from many threads at once, and buffers handed
// between them.
TEST(BufferThreads, DefaultAllocatorFromManyThreads) {
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  std::vector<np_buf*> made(8, nullptr);
  for (int t = 0; t < 8; t++)
    ts.emplace_back([&, t] {
      np_buf* b = np_buf_alloc(np_default_allocator(), 16, 1024);
      if (b == nullptr || np_buf_write_u64(b, uint64_t(t)) != NP_OK) bad++;
      made[t] = b;
    });
  for (auto& t : ts) t.join();
  ts.clear();
  for (int t = 0; t < 8; t++)
    ts.emplace_back([&, t] {
      np_buf* b = made[7 - t];  // someone else's
      uint64_t v;
      if (np_buf_read_u64(b, &v) != NP_OK || v != uint64_t(7 - t)) bad++;
      if (np_buf_release(b) != NP_OK) bad++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
