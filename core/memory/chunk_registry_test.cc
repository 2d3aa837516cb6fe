// The address registry (chunk_registry.c), on the memory layer alone: any
// address of a registered chunk finds its region, nothing else does, a
// cleared slot finds nothing, a released huge block's start keeps its mark
// until the slot is set again, and readers never see a torn entry while
// other threads set and clear slots.
#include <stdint.h>

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/memory/memory.h"

namespace {

constexpr unsigned kShift = 22;  // 4 MiB chunks
constexpr uintptr_t kChunk = uintptr_t(1) << kShift;

class Registry : public testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(np_registry_init(&r_, kShift), NP_OK); }
  void TearDown() override { np_registry_destroy(&r_); }
  const void* At(uintptr_t a) { return reinterpret_cast<const void*>(a); }
  np_registry r_;
};

TEST_F(Registry, EveryAddressOfASetChunkFindsItsRegion) {
  np_region region{};
  const uintptr_t base = 0x7f1234000000 & ~(kChunk - 1);
  ASSERT_EQ(np_registry_set(&r_, At(base), &region), NP_OK);
  for (uintptr_t off : {uintptr_t(0), uintptr_t(1), uintptr_t(4096), kChunk / 2, kChunk - 1})
    EXPECT_EQ(np_registry_get(&r_, At(base + off)), &region) << off;
  EXPECT_EQ(np_registry_get(&r_, At(base - 1)), nullptr);
  EXPECT_EQ(np_registry_get(&r_, At(base + kChunk)), nullptr);
  np_registry_clear(&r_, At(base + 123));  // any address of the chunk names its slot
  EXPECT_EQ(np_registry_get(&r_, At(base)), nullptr);
}

TEST_F(Registry, AddressesOutsideTheSpaceFindNothingAndCannotBeSet) {
  np_region region{};
  const uintptr_t high = uintptr_t(1) << NP_REGISTRY_ADDRESS_BITS;
  EXPECT_EQ(np_registry_get(&r_, At(high)), nullptr);
  EXPECT_EQ(np_registry_get(&r_, At(~uintptr_t(0))), nullptr);
  EXPECT_EQ(np_registry_set(&r_, At(high + kChunk), &region), NP_ERR_NO_MEMORY);
  np_registry_clear(&r_, At(high));  // a no-op
  np_registry_mark_released_huge(&r_, At(high));
  EXPECT_EQ(np_registry_get(&r_, nullptr), nullptr);  // the lowest slot, never set
}

TEST_F(Registry, AReleasedHugeStartKeepsItsMarkUntilTheSlotIsSetAgain) {
  np_region huge{};
  const uintptr_t base = 0x7f0000000000;
  ASSERT_EQ(np_registry_set(&r_, At(base), &huge), NP_OK);
  np_registry_mark_released_huge(&r_, At(base));
  const np_region* mark = np_registry_get(&r_, At(base));
  EXPECT_EQ(mark, &np_registry_released_huge);
  EXPECT_EQ(mark->kind, NP_REGION_RELEASED_HUGE);
  np_region chunk{};
  ASSERT_EQ(np_registry_set(&r_, At(base), &chunk), NP_OK);
  EXPECT_EQ(np_registry_get(&r_, At(base)), &chunk);
  // A slot whose leaf was never made gets no mark (nothing was there).
  const uintptr_t far = 0x100000000000;
  np_registry_mark_released_huge(&r_, At(far));
  EXPECT_EQ(np_registry_get(&r_, At(far)), nullptr);
}

// Writers set and clear their own slots (in leaves they create as they go)
// while readers look everything up: a reader sees a slot's region or
// nothing, never another's.
TEST_F(Registry, ConcurrentSetClearAndGet) {
  constexpr int kWriters = 2, kSlots = 256, kRounds = 200;
  std::vector<np_region> regions(kWriters * kSlots);
  auto addr = [](int w, int i) {  // spread over several leaves
    return (uintptr_t(w + 1) << 40) + uintptr_t(i) * (kChunk << 10);
  };
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++)
    threads.emplace_back([&, w] {
      for (int round = 0; round < kRounds; round++)
        for (int i = 0; i < kSlots; i++) {
          if (round % 2 == 0) ASSERT_EQ(np_registry_set(&r_, At(addr(w, i)), &regions[w * kSlots + i]), NP_OK);
          else np_registry_clear(&r_, At(addr(w, i)));
        }
    });
  std::thread reader([&] {
    while (!stop.load()) {
      for (int w = 0; w < kWriters; w++)
        for (int i = 0; i < kSlots; i++) {
          const np_region* got = np_registry_get(&r_, At(addr(w, i) + 4096));
          ASSERT_TRUE(got == nullptr || got == &regions[w * kSlots + i]);
        }
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  reader.join();
  for (int w = 0; w < kWriters; w++)
    for (int i = 0; i < kSlots; i++) EXPECT_EQ(np_registry_get(&r_, At(addr(w, i))), nullptr);  // last round cleared
}

}  // namespace
