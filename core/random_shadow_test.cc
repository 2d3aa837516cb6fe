// Randomized test against a shadow model: thousands of random allocations and
// frees of small, normal and huge sizes, with fixed seeds, for 4 MiB and 16 MiB
// chunks and both qInit policies. The model keeps every live block; the test
// checks that blocks never overlap, have the expected usable size, keep their
// contents (a pattern naming the block) until freed, that the statistics agree
// with the model, and that after np_allocator_destroy no chunk or huge mapping
// is left in the process.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "npool.h"
#include "core/test_support.h"

namespace {

using np_test::SizeClassTable;
using np_test::Stats;

constexpr size_t KiB = 1024;
constexpr size_t MiB = 1024 * KiB;
constexpr size_t kOps = 20000;
constexpr size_t kMaxLiveBytes = 160 * MiB;
constexpr size_t kMaxLiveBlocks = 3000;


enum Kind { kSmall, kNormal, kHuge, kKinds };
const char* const kKindName[kKinds] = {"small", "normal", "huge"};

uint64_t Word(uint64_t id, size_t off) { return (id * 0x9E3779B97F4A7C15ull) ^ (off >> 3); }

// Small blocks are filled whole; bigger ones at both ends and every 16 KiB.
template <bool kWrite>
bool Pattern(char* p, size_t n, uint64_t id) {
  auto word = [&](size_t off) {
    uint64_t w = Word(id, off), r;
    if (kWrite) {
      memcpy(p + off, &w, 8);
      return true;
    }
    memcpy(&r, p + off, 8);
    return r == w;
  };
  if (n <= 32 * KiB) {
    for (size_t off = 0; off + 8 <= n; off += 8)
      if (!word(off)) return false;
    return true;
  }
  for (size_t off = 0; off < 64; off += 8)
    if (!word(off) || !word(n - 64 + off)) return false;
  for (size_t off = 16 * KiB; off + 64 < n; off += 16 * KiB)
    if (!word(off)) return false;
  return true;
}

struct Block {
  char* p;
  size_t req, usable;
  Kind kind;
  uint64_t id;
  unsigned class_idx;  // small blocks: size class index
};

struct Range {
  uintptr_t lo, hi;
};

struct Param {
  unsigned max_order;
  int release_empty_init_chunks;
  uint64_t seed;
  np_run_placement placement;
};

std::string ParamName(const testing::TestParamInfo<Param>& i) {
  return std::string(i.param.max_order == 9 ? "4MiB" : "16MiB") +
         (i.param.release_empty_init_chunks ? "_release" : "_netty") +
         (i.param.placement == NP_PLACEMENT_NETTY ? "_lists" : "_bestfit") + "_seed" +
         std::to_string(i.param.seed);
}

class RandomShadow : public testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const Param prm = GetParam();
    np_config c = np_config_default();
    c.max_order = prm.max_order;
    c.release_empty_init_chunks = prm.release_empty_init_chunks;
    c.run_placement = prm.placement;
    ASSERT_EQ(np_allocator_create(&c, &a_), NP_OK);
    page_ = c.page_size;
    chunk_ = c.page_size << c.max_order;
    table_ = SizeClassTable(chunk_);
    small_max_ = 0;
    for (size_t s : table_)
      if (s < (page_ << 2)) small_max_ = s;
    rng_.seed(prm.seed * 7919 + prm.max_order * 31 + prm.release_empty_init_chunks);
    // Reserved before the allocator maps anything: the final check reads
    // /proc/self/maps without allocating.
    maps_buf_.resize(16 * MiB);
    mincore_rc_.reserve(1 << 16);
  }

  void TearDown() override {
    if (a_) np_allocator_destroy(a_);
  }

  size_t LogUniform(size_t lo, size_t hi) {
    std::uniform_real_distribution<double> d(std::log(double(lo)), std::log(double(hi) + 1));
    size_t v = size_t(std::exp(d(rng_)));
    return std::min(std::max(v, lo), hi);
  }

  size_t RandomSize() {
    unsigned r = unsigned(rng_() % 1000);
    if (r < 5) return chunk_ + 1 + rng_() % chunk_;  // huge
    if (r < 300) return LogUniform(small_max_ + 1, chunk_);
    if (r < 310) return 0;
    if (r < 340) return table_[rng_() % 39];  // exact class sizes
    return LogUniform(1, small_max_);
  }

  void DoAlloc(size_t req) {
    // Every 16th through calloc: zeros, whether the memory is fresh, reused
    // from a freed block, a retained range or a purged one.
    const bool zeroed = next_id_ % 16 == 0;
    char* p = static_cast<char*>(zeroed ? np_calloc(a_, 1, req) : np_alloc(a_, req));
    ASSERT_NE(p, nullptr) << "np_alloc(" << req << ") errno " << errno;
    if (zeroed) {
      for (size_t i = 0; i < req; i += 61) ASSERT_EQ(p[i], 0) << "calloc(" << req << ") byte " << i;
      if (req) ASSERT_EQ(p[req - 1], 0) << "calloc(" << req << ") last byte";
    }
    Block b{p, req, np_usable_size(a_, p), kHuge, ++next_id_, 0};
    auto it = std::lower_bound(table_.begin(), table_.end(), std::max<size_t>(req, 1));
    if (it != table_.end()) {
      b.kind = *it <= small_max_ ? kSmall : kNormal;
      b.class_idx = unsigned(it - table_.begin());
      ASSERT_EQ(b.usable, *it) << "request " << req;
      chunk_bases_.insert(reinterpret_cast<uintptr_t>(p) & ~uintptr_t(chunk_ - 1));
    } else {
      ASSERT_GE(b.usable, req);
      ASSERT_EQ(b.usable % 4096, 0u);
      ASSERT_LT(b.usable - req, page_) << "huge usable size is page-rounded";
      huge_ranges_.push_back({reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(p) + b.usable});
    }
    const uintptr_t lo = reinterpret_cast<uintptr_t>(p), hi = lo + b.usable;
    auto next = by_addr_.lower_bound(lo);
    if (next != by_addr_.end())
      ASSERT_LE(hi, next->first) << "new block [" << lo << "," << hi << ") overlaps block at "
                                 << next->first;
    if (next != by_addr_.begin()) {
      auto prev = std::prev(next);
      ASSERT_LE(prev->second, lo) << "new block at " << lo << " overlaps the block ending at "
                                  << prev->second;
    }
    by_addr_[lo] = hi;
    Pattern<true>(p, b.usable, b.id);
    live_.push_back(b);
    live_bytes_ += b.usable;
    ++allocs_[b.kind];
    ++live_count_[b.kind];
    live_kind_bytes_[b.kind] += b.usable;
    if (b.kind == kHuge) huge_span_bytes_ += Span(b.usable);
  }

  void DoFree(size_t i) {
    Block b = live_[i];
    ASSERT_TRUE(Pattern<false>(b.p, b.usable, b.id))
        << kKindName[b.kind] << " block of " << b.usable << " bytes was overwritten";
    ASSERT_EQ(np_usable_size(a_, b.p), b.usable);
    ASSERT_EQ(np_free(a_, b.p), NP_OK);
    live_[i] = live_.back();
    live_.pop_back();
    by_addr_.erase(reinterpret_cast<uintptr_t>(b.p));
    live_bytes_ -= b.usable;
    ++frees_[b.kind];
    --live_count_[b.kind];
    live_kind_bytes_[b.kind] -= b.usable;
    if (b.kind == kHuge) huge_span_bytes_ -= Span(b.usable);
  }

  // A huge block holds whole chunks of address space.
  size_t Span(size_t usable) const { return (usable + chunk_ - 1) / chunk_ * chunk_; }

  // Pokes at a live block without freeing it.
  void Probe() {
    const Block& b = live_[rng_() % live_.size()];
    ASSERT_EQ(np_usable_size(a_, b.p), b.usable);
    ASSERT_EQ(np_usable_size(a_, b.p + 1), 0u);
    ASSERT_EQ(np_usable_size(a_, b.p + b.usable / 2 + 1), 0u);
    if (rng_() % 4 == 0) {
      ASSERT_EQ(np_free(a_, b.p + b.usable / 2 + 1), NP_ERR_NOT_BLOCK_START);
      ++invalid_;
    }
  }

  void CrossCheckStats() {
    np_stats s;
    ASSERT_EQ(np_allocator_stats(a_, &s), NP_OK);
    const np_size_kind_stats* k[kKinds] = {&s.small, &s.normal, &s.huge};
    for (int i = 0; i < kKinds; ++i) {
      EXPECT_EQ(k[i]->active, live_count_[i]) << kKindName[i];
      EXPECT_EQ(k[i]->active_bytes, live_kind_bytes_[i]) << kKindName[i];
      EXPECT_EQ(k[i]->allocations, allocs_[i]) << kKindName[i];
      EXPECT_EQ(k[i]->deallocations, frees_[i]) << kKindName[i];
    }
    EXPECT_EQ(s.invalid_frees, invalid_);
    uint64_t chunks = 0, free_bytes = 0;
    for (int l = 0; l < NP_CHUNK_LISTS; ++l) {
      chunks += s.lists[l].chunks;
      free_bytes += s.lists[l].free_bytes;
      // Netty's thresholds keep every chunk within its list's usage bounds.
      for (uint64_t c = 0; c < s.lists[l].chunks && c < NP_STATS_MAX_CHUNKS; ++c) {
        EXPECT_GE(s.lists[l].usage[c], s.lists[l].min_usage) << s.lists[l].name;
        EXPECT_LE(s.lists[l].usage[c], s.lists[l].max_usage) << s.lists[l].name;
      }
    }
    EXPECT_EQ(s.chunk_allocations - s.chunk_deallocations, chunks);
    EXPECT_EQ(s.mapped_bytes, chunks * chunk_ + huge_span_bytes_)
        << "mapped bytes are the chunks plus the huge blocks' spans";
    EXPECT_LE(s.retained_bytes, s.arenas * np_config_default().retained_max);
    EXPECT_LE(s.dirty_bytes, s.retained_bytes + free_bytes);
    EXPECT_LE(free_bytes + live_kind_bytes_[kSmall] + live_kind_bytes_[kNormal], chunks * chunk_);
    // Every live small block is an element in use in a subpage of its class.
    std::vector<uint64_t> live_per_class(table_.size(), 0);
    for (const Block& b : live_)
      if (b.kind == kSmall) ++live_per_class[b.class_idx];
    for (unsigned i = 0; i < s.small_classes && i < NP_MAX_SIZE_CLASSES; ++i) {
      const np_small_class_stats& cs = s.small_class[i];
      EXPECT_LE(cs.free_elements, cs.elements) << "class " << i;
      EXPECT_GE(cs.elements - cs.free_elements, live_per_class[i]) << "class " << i;
      EXPECT_EQ(cs.elements, cs.subpages * cs.elems_per_run) << "class " << i;
    }
  }

  // After destroy: none of the recorded chunk or huge ranges may be mapped.
  void ExpectNothingLeftMapped() {
    std::vector<Range> ranges;
    for (uintptr_t base : chunk_bases_) ranges.push_back({base, base + chunk_});
    ranges.insert(ranges.end(), huge_ranges_.begin(), huge_ranges_.end());
    unsigned char vec[1];
    mincore_rc_.clear();
    np_allocator_destroy(a_);
    a_ = nullptr;
    // No allocation from here until the maps are read.
    for (const Range& r : ranges) {
      int rc = mincore(reinterpret_cast<void*>(r.lo), 4096, vec);
      mincore_rc_.push_back(rc == 0 ? 0 : errno);
    }
    size_t len = 0;
    int fd = open("/proc/self/maps", O_RDONLY);
    ASSERT_GE(fd, 0);
    for (;;) {
      ssize_t n = read(fd, &maps_buf_[len], maps_buf_.size() - len);
      if (n <= 0) break;
      len += size_t(n);
      ASSERT_LT(len, maps_buf_.size()) << "/proc/self/maps too large for the buffer";
    }
    close(fd);
    for (size_t i = 0; i < ranges.size(); ++i)
      EXPECT_EQ(mincore_rc_[i], ENOMEM)
          << "range at 0x" << std::hex << ranges[i].lo << " is still mapped after destroy";
    std::string maps(maps_buf_.data(), len);
    size_t pos = 0, mappings = 0;
    while (pos < maps.size()) {
      size_t eol = maps.find('\n', pos);
      if (eol == std::string::npos) eol = maps.size();
      std::string line = maps.substr(pos, eol - pos);
      pos = eol + 1;
      unsigned long lo = 0, hi = 0;
      if (sscanf(line.c_str(), "%lx-%lx", &lo, &hi) != 2) continue;
      ++mappings;
      for (const Range& r : ranges)
        EXPECT_FALSE(lo < r.hi && r.lo < hi)
            << "npool range [0x" << std::hex << r.lo << ", 0x" << r.hi
            << ") still mapped after destroy: " << line;
    }
    EXPECT_GT(mappings, 0u);
    EXPECT_GT(chunk_bases_.size(), 0u);
    EXPECT_GT(huge_ranges_.size(), 0u);
  }

  np_allocator* a_ = nullptr;
  size_t page_ = 0, chunk_ = 0, small_max_ = 0;
  std::vector<size_t> table_;
  std::mt19937_64 rng_;
  std::vector<Block> live_;
  std::map<uintptr_t, uintptr_t> by_addr_;  // start -> end of live blocks
  uint64_t next_id_ = 0, live_bytes_ = 0, invalid_ = 0;
  uint64_t allocs_[kKinds] = {}, frees_[kKinds] = {}, live_count_[kKinds] = {},
           live_kind_bytes_[kKinds] = {};
  uint64_t huge_span_bytes_ = 0;
  std::set<uintptr_t> chunk_bases_;
  std::vector<Range> huge_ranges_;
  std::vector<char> maps_buf_;
  std::vector<int> mincore_rc_;
};

TEST_P(RandomShadow, RandomOperationsAgreeWithTheModel) {
  for (size_t op = 0; op < kOps; ++op) {
    // Alternate growing and shrinking phases so that chunks fill up, empty out
    // and (where the policy says so) get released.
    const bool growing = (op / 2500) % 2 == 0;
    const unsigned alloc_pct = growing ? 62 : 38;
    bool alloc = live_.empty() || unsigned(rng_() % 100) < alloc_pct;
    if (live_.size() >= kMaxLiveBlocks) alloc = false;
    if (alloc) {
      size_t req = RandomSize();
      if (live_bytes_ + req > kMaxLiveBytes && !live_.empty()) {
        DoFree(rng_() % live_.size());
      } else {
        DoAlloc(req);
      }
    } else {
      DoFree(rng_() % live_.size());
    }
    if (HasFatalFailure()) {
      ADD_FAILURE() << "at operation " << op;
      return;
    }
    if (!live_.empty() && op % 97 == 0) {
      Probe();
      ASSERT_FALSE(HasFatalFailure()) << "at operation " << op;
    }
    if (op % 500 == 0) {
      CrossCheckStats();
      ASSERT_FALSE(HasFailure()) << "stats disagree with the model at operation " << op;
    }
    if (op % 3001 == 3000) {  // everything unused goes back to the system
      ASSERT_EQ(np_allocator_purge(a_), NP_OK);
      np_stats s;
      ASSERT_EQ(np_allocator_stats(a_, &s), NP_OK);
      EXPECT_EQ(s.retained_bytes, 0u);
      EXPECT_EQ(s.dirty_bytes, 0u);
      EXPECT_EQ(s.cached_bytes, 0u) << "purge flushes the calling thread's cache";
      CrossCheckStats();
      ASSERT_FALSE(HasFailure()) << "after a purge at operation " << op;
    }
  }
  // Every kind was exercised.
  EXPECT_GT(allocs_[kSmall], 1000u);
  EXPECT_GT(allocs_[kNormal], 1000u);
  EXPECT_GT(allocs_[kHuge], 10u);
  CrossCheckStats();
  // Free everything in random order.
  while (!live_.empty()) {
    DoFree(rng_() % live_.size());
    ASSERT_FALSE(HasFatalFailure());
  }
  CrossCheckStats();
  np_stats s;
  ASSERT_EQ(np_allocator_stats(a_, &s), NP_OK);
  EXPECT_GT(s.chunk_deallocations, 0u) << "the run should have released chunks";
  EXPECT_GT(s.chunk_allocations, 1u);
  EXPECT_GT(s.reused_bytes, 0u) << "released chunks and huge blocks should have been reused";
  EXPECT_GT(s.purged_bytes, 0u);
  EXPECT_EQ(s.small.active + s.normal.active + s.huge.active, 0u);
  EXPECT_EQ(s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes, 0u);
  EXPECT_EQ(s.small.allocations + s.normal.allocations + s.huge.allocations,
            s.small.deallocations + s.normal.deallocations + s.huge.deallocations);
  if (GetParam().release_empty_init_chunks) {
    // Only chunks holding a kept (empty) subpage may remain.
    uint64_t chunks = 0, subpages = 0;
    for (int l = 0; l < NP_CHUNK_LISTS; ++l) chunks += s.lists[l].chunks;
    for (unsigned i = 0; i < s.small_classes; ++i) subpages += s.small_class[i].subpages;
    EXPECT_LE(chunks, subpages);
  }
  ExpectNothingLeftMapped();
}

// np_allocator_destroy with blocks of every kind still live (the header: it
// "returns every mapping"): afterwards no chunk or huge range is mapped.
TEST_P(RandomShadow, DestroyWithLiveBlocksLeavesNothingMapped) {
  for (size_t op = 0; op < kOps / 4; ++op) {
    bool alloc = live_.empty() || rng_() % 100 < 60;
    if (alloc && live_bytes_ < kMaxLiveBytes / 2 && live_.size() < kMaxLiveBlocks) {
      DoAlloc(RandomSize());
    } else {
      DoFree(rng_() % live_.size());
    }
    ASSERT_FALSE(HasFatalFailure()) << "at operation " << op;
  }
  // Make sure huge blocks are among the live ones.
  DoAlloc(chunk_ + 1);
  DoAlloc(2 * chunk_ + 12345);
  ASSERT_FALSE(HasFatalFailure());
  CrossCheckStats();
  EXPECT_GT(live_count_[kSmall], 0u);
  EXPECT_GT(live_count_[kNormal], 0u);
  EXPECT_GE(live_count_[kHuge], 2u);
  for (const Block& b : live_) ASSERT_TRUE(Pattern<false>(b.p, b.usable, b.id));
  ExpectNothingLeftMapped();
}

std::vector<Param> AllParams() {
  std::vector<Param> v;
  for (unsigned order : {9u, 11u})
    for (int release : {0, 1})
      for (uint64_t seed : {1, 2, 3})  // both placements, the default on two seeds of three
        v.push_back({order, release, seed, seed == 2 ? NP_PLACEMENT_NETTY : NP_PLACEMENT_BEST_FIT});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomShadow, testing::ValuesIn(AllParams()), ParamName);

}  // namespace
