// Multi-threaded stress: (a) per-thread churn of mixed sizes, (b) producer-
// consumer where every block is freed by another thread, (c) threads that exit
// while others still hold and free their blocks, (d) more threads than cores.
// Every block is filled with a pattern naming it and checked before it is
// freed, so a block handed out twice while live is caught; every test ends,
// after all threads have finished, with zero active blocks and bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "npool.h"

namespace {

// Under sanitizers everything is slower: fewer operations, same shapes.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 4;
#else
constexpr int kScale = 1;
#endif

struct Block {
  uint64_t *p;
  size_t size;
  uint64_t id;
};

// Fills the block with its id: all of a small block, the first and last 256
// bytes of a larger one.
void Fill(const Block &b) {
  size_t words = b.size / 8;
  if (words <= 64) {
    for (size_t i = 0; i < words; i++) b.p[i] = b.id ^ i;
  } else {
    for (size_t i = 0; i < 32; i++) b.p[i] = b.id ^ i, b.p[words - 1 - i] = b.id ^ (words - 1 - i);
  }
}

::testing::AssertionResult Check(const Block &b) {
  size_t words = b.size / 8;
  auto bad = [&](size_t i) {
    return ::testing::AssertionFailure() << "block " << b.id << " word " << i << " overwritten";
  };
  if (words <= 64) {
    for (size_t i = 0; i < words; i++)
      if (b.p[i] != (b.id ^ i)) return bad(i);
  } else {
    for (size_t i = 0; i < 32; i++) {
      if (b.p[i] != (b.id ^ i)) return bad(i);
      if (b.p[words - 1 - i] != (b.id ^ (words - 1 - i))) return bad(words - 1 - i);
    }
  }
  return ::testing::AssertionSuccess();
}

// Mostly small, some normal, rarely huge.
size_t RandomSize(std::mt19937_64 &rng) {
  unsigned r = rng() % 1000;
  if (r < 800) return 8 + rng() % 1024;
  if (r < 950) return 1024 + rng() % 28000;
  if (r < 998) return 32768 + rng() % (512 * 1024);
  return (4u << 20) + rng() % (1u << 20);
}

class Concurrency : public ::testing::Test {
 public:
  void SetUp() override {
    np_config c = np_config_default();
    c.arenas = 2;
    c.cache_trim_interval = 512;  // trims happen often while others free
    ASSERT_EQ(np_allocator_create(&c, &a_), NP_OK);
  }
  void TearDown() override { np_allocator_destroy(a_); }

  Block Alloc(std::mt19937_64 &rng) {
    size_t size = RandomSize(rng);
    Block b{(uint64_t *)np_alloc(a_, size), size, next_id_++};
    EXPECT_NE(b.p, nullptr);
    EXPECT_GE(np_usable_size(a_, b.p), size);
    b.size = size & ~size_t{7};
    Fill(b);
    return b;
  }
  void Free(const Block &b) {
    EXPECT_TRUE(Check(b));
    EXPECT_EQ(np_free(a_, b.p), NP_OK);
  }
  void ExpectNothingActive() {
    // Per-CPU caches (rseq) outlive the threads: return them first. For
    // thread caches this is a no-op (this thread has none; the others exited).
    np_thread_cache_flush(a_);
    np_stats s;
    np_allocator_stats(a_, &s);
    EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
    EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes, 0u);
    EXPECT_EQ(s.cached_bytes, 0u);
    EXPECT_EQ(s.invalid_frees, 0u);
    EXPECT_LE(s.thread_caches, 1u);  // with per-CPU caches, the flush's own
  }

  np_allocator *a_ = nullptr;
  std::atomic<uint64_t> next_id_{1};
};

// (a) and (d): each thread churns its own working set of mixed sizes.
void Churn(Concurrency *t, int threads, int ops) {
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; i++)
    ts.emplace_back([t, i, ops] {
      std::mt19937_64 rng(1000 + i);
      std::vector<Block> live;
      for (int op = 0; op < ops; op++) {
        if (live.size() < 64 && (live.empty() || rng() % 2)) {
          live.push_back(t->Alloc(rng));
        } else {
          size_t k = rng() % live.size();
          t->Free(live[k]);
          live[k] = live.back();
          live.pop_back();
        }
      }
      for (const Block &b : live) t->Free(b);
    });
  for (auto &th : ts) th.join();
}

TEST_F(Concurrency, ThreadLocalChurn) {
  Churn(this, 4, 40000 / kScale);
  ExpectNothingActive();
}

TEST_F(Concurrency, MoreThreadsThanCores) {
  unsigned n = 4 * std::max(2u, std::thread::hardware_concurrency());
  Churn(this, (int)std::min(n, 32u), 10000 / kScale);
  ExpectNothingActive();
}

// A bounded hand-off queue between threads.
struct Channel {
  std::mutex m;
  std::deque<Block> q;
  bool closed = false;
  void Push(const Block &b) {
    std::lock_guard<std::mutex> g(m);
    q.push_back(b);
  }
  bool Pop(Block *b, bool *done) {
    std::lock_guard<std::mutex> g(m);
    *done = closed && q.empty();
    if (q.empty()) return false;
    *b = q.front();
    q.pop_front();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> g(m);
    closed = true;
  }
};

// (b) Producers allocate, consumers free: every block is freed by another
// thread, so frees go back to the producers' caches through their remote lists.
TEST_F(Concurrency, ProducerConsumer) {
  const int pairs = 3, per_producer = 30000 / kScale;
  std::vector<Channel> ch(pairs);
  std::vector<std::thread> ts;
  for (int i = 0; i < pairs; i++) {
    ts.emplace_back([&, i] {
      std::mt19937_64 rng(7 + i);
      for (int k = 0; k < per_producer; k++) {
        ch[i].Push(Alloc(rng));
        if (k % 64 == 0) std::this_thread::yield();
      }
      ch[i].Close();
    });
    ts.emplace_back([&, i] {
      Block b;
      bool done = false;
      while (!done) {
        if (ch[i].Pop(&b, &done)) Free(b);
        else std::this_thread::yield();
      }
    });
  }
  for (auto &t : ts) t.join();
  ExpectNothingActive();
}

// (c) Producers exit while consumers still hold their blocks; the consumers
// free them after the owners' caches are gone (some while the owners exit).
TEST_F(Concurrency, OwnersExitWhileOthersHoldTheirBlocks) {
  Channel ch;
  std::vector<std::thread> producers;
  std::atomic<int> running{0};
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < 3; i++) {
      running++;
      producers.emplace_back([&, round, i] {
        std::mt19937_64 rng(round * 10 + i);
        std::vector<Block> mine;
        for (int k = 0; k < 2000 / kScale; k++) {
          Block b = Alloc(rng);
          if (k % 3) ch.Push(b);  // handed over, freed by the consumer later
          else mine.push_back(b);
        }
        for (const Block &b : mine) Free(b);  // into its own cache, then exit
        running--;
      });
    }
  }
  std::thread consumer([&] {
    Block b;
    bool done = false;
    std::mt19937_64 rng(99);
    while (!done) {
      if (ch.Pop(&b, &done)) {
        if (rng() % 4 == 0) std::this_thread::yield();  // let owners exit meanwhile
        Free(b);
      } else {
        std::this_thread::yield();
      }
    }
  });
  for (auto &t : producers) t.join();
  ch.Close();
  consumer.join();
  ExpectNothingActive();
}

// Owners that live for a moment: each hands its blocks to two freeing threads
// and exits at once, so its death races the remote pushes into its lists (a
// producer that finds the owner dead after its push empties the list itself).
// No block may be stranded in a dead cache: nothing cached at the end.
TEST_F(Concurrency, OwnersExitRacingRemoteFrees) {
  Channel ch[2];
  std::atomic<int> freed{0}, flushes[2] = {{0}, {0}};
  std::thread freers[2];
  for (int f = 0; f < 2; f++)
    freers[f] = std::thread([&, f] {
      Block b;
      bool done = false;
      while (!done) {
        if (ch[f].Pop(&b, &done)) {
          Free(b), freed++;
        } else {
          np_thread_cache_flush(a_);  // idle: its batched frees go (the outbox)
          flushes[f]++;
          std::this_thread::yield();
        }
      }
    });
  const int per_round = 64;
  for (int round = 0; round < 300 / kScale; round++) {
    std::thread owner([&, round] {
      for (int k = 0; k < per_round; k++) {
        Block b{(uint64_t *)np_alloc(a_, 16 + 16 * (k % 4)), 16 + 16 * (size_t)(k % 4), next_id_++};
        ASSERT_NE(b.p, nullptr);
        Fill(b);
        ch[(round + k) % 2].Push(b);
      }
    });
    owner.join();  // the owner is gone; its blocks may still be on their way home
    while (freed.load() < per_round * (round + 1)) std::this_thread::yield();
    // Each freer flushed once after that (one freer flushing twice is not
    // enough: the other's outbox may still hold its last batch). A flush under
    // way now began after its thread's last free, so one more counts.
    int since[2] = {flushes[0].load(), flushes[1].load()};
    for (int f = 0; f < 2; f++)
      while (flushes[f].load() < since[f] + 1) std::this_thread::yield();
    // Every block of the round is freed and its owner dead: none may sit in a
    // thread cache (the freeing threads' caches hold no blocks of their own,
    // and have flushed what they batched). Per-CPU caches (rseq) keep blocks
    // beyond their threads: checked at the end.
    np_stats s;
    np_allocator_stats(a_, &s);
    if (std::string(s.cache_mode) == "per-CPU") continue;
    ASSERT_EQ(s.cached_bytes, 0u) << "round " << round << ": blocks stranded in a dead cache";
    ASSERT_LE(s.thread_caches, 2u) << "the freers' own";
  }
  for (auto &c : ch) c.Close();
  for (auto &t : freers) t.join();
  ExpectNothingActive();
}

// Many threads hammer one small class, freeing each other's blocks: the
// owners' remote lists see many producers at once, including preempted ones.
TEST_F(Concurrency, OneClassManyProducers) {
  const int threads = 12, ops = 20000 / kScale;
  std::vector<Channel> ch(threads);
  std::vector<std::thread> ts;
  std::atomic<int> finished{0};
  for (int i = 0; i < threads; i++)
    ts.emplace_back([&, i] {
      Block b;
      bool done;
      for (int k = 0; k < ops; k++) {
        Block n{(uint64_t *)np_alloc(a_, 48), 48, next_id_++};
        ASSERT_NE(n.p, nullptr);
        Fill(n);
        ch[(i + 1 + k) % threads].Push(n);  // freed by someone else
        if (ch[i].Pop(&b, &done)) Free(b);
      }
      finished++;
      while (finished.load() < threads) std::this_thread::yield();
      while (ch[i].Pop(&b, &done)) Free(b);
    });
  for (auto &t : ts) t.join();
  for (auto &c : ch) {
    Block b;
    bool done;
    while (c.Pop(&b, &done)) Free(b);
  }
  ExpectNothingActive();
}

}  // namespace
