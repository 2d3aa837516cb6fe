// Metadata memory (meta.c), on the memory layer alone: zeroed objects that
// never overlap, a granule's free list reused last-in first-out, large
// objects mapped on their own and kept for the next of their size, and the
// mapped bytes accounted for to the end.
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/memory/memory.h"

namespace {

bool AllZero(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  return std::all_of(b, b + n, [](unsigned char c) { return c == 0; });
}

class Meta : public testing::Test {
 protected:
  void SetUp() override { np_meta_init(&m_); }
  void TearDown() override { np_meta_destroy(&m_); }
  np_meta m_;
};

TEST_F(Meta, ObjectsAreZeroedAlignedAndDisjoint) {
  std::vector<std::pair<char*, size_t>> got;
  for (size_t size : {size_t(1), size_t(24), size_t(32), size_t(33), size_t(200), size_t(4096)}) {
    for (int i = 0; i < 50; i++) {
      char* p = static_cast<char*>(np_meta_alloc(&m_, size));
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % NP_META_GRANULE, 0u);
      EXPECT_TRUE(AllZero(p, size));
      memset(p, 0xEE, size);
      got.push_back({p, size});
    }
  }
  std::sort(got.begin(), got.end());
  for (size_t i = 1; i < got.size(); i++)
    EXPECT_LE(got[i - 1].first + got[i - 1].second, got[i].first) << "objects overlap";
  EXPECT_GT(m_.mapped_bytes, 0u);
}

TEST_F(Meta, AFreedObjectIsReusedZeroedBySizeGranule) {
  char* a = static_cast<char*>(np_meta_alloc(&m_, 100));  // granule class of 128
  char* b = static_cast<char*>(np_meta_alloc(&m_, 100));
  ASSERT_TRUE(a && b);
  memset(a, 0x55, 100);
  memset(b, 0x66, 100);
  np_meta_free(&m_, a, 100);
  np_meta_free(&m_, b, 100);
  // Last in, first out, and any size of the same granule class takes it.
  char* c = static_cast<char*>(np_meta_alloc(&m_, 120));
  EXPECT_EQ(c, b);
  EXPECT_TRUE(AllZero(c, 120));
  EXPECT_EQ(np_meta_alloc(&m_, 97), a);
  // Another class does not.
  char* d = static_cast<char*>(np_meta_alloc(&m_, 64));
  EXPECT_NE(d, a);
  EXPECT_NE(d, b);
}

TEST_F(Meta, LargeObjectsAreMappedKeptAndReleased) {
  const uint64_t before = m_.mapped_bytes;
  const size_t size = 3 * 4096 + 1;  // a mapping of 4 pages
  char* p = static_cast<char*>(np_meta_alloc(&m_, size));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(m_.mapped_bytes, before + 4 * 4096);
  memset(p, 0x77, size);
  np_meta_free(&m_, p, size);
  EXPECT_EQ(m_.mapped_bytes, before + 4 * 4096) << "kept for the next of its size";
  char* q = static_cast<char*>(np_meta_alloc(&m_, size + 100));  // the same 4 pages
  EXPECT_EQ(q, p);
  EXPECT_TRUE(AllZero(q, size + 100));
  np_meta_free(&m_, q, size + 100);
  np_meta_release_kept(&m_);
  EXPECT_EQ(m_.mapped_bytes, before) << "kept mappings go back to the system";
  EXPECT_EQ(m_.n_large_kept, 0u);
}

TEST_F(Meta, AtMostAFixedNumberOfLargeMappingsAreKept) {
  const size_t keep = sizeof m_.large_kept / sizeof m_.large_kept[0];
  std::vector<void*> v;
  for (size_t i = 0; i < keep + 8; i++) {
    void* p = np_meta_alloc(&m_, 8192 + 1);
    ASSERT_NE(p, nullptr);
    v.push_back(p);
  }
  const uint64_t all = m_.mapped_bytes;
  for (void* p : v) np_meta_free(&m_, p, 8192 + 1);
  EXPECT_EQ(m_.n_large_kept, keep);
  EXPECT_EQ(m_.mapped_bytes, all - 8 * 3 * 4096) << "the ones past the keep limit were unmapped";
}

TEST_F(Meta, NullAndZeroSize) {
  np_meta_free(&m_, nullptr, 100);  // a no-op
  void* p = np_meta_alloc(&m_, 0);  // one granule
  ASSERT_NE(p, nullptr);
  np_meta_free(&m_, p, 0);
  EXPECT_EQ(np_meta_alloc(&m_, 1), p);
}

}  // namespace
