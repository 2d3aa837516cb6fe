// Size classes: every figure of NETTY_FACTS.md, for 4 MiB and 16 MiB chunks,
// and the invariants of the table for other page sizes and alignments.
#include "core/pool/size_classes.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

np_size_classes Make(size_t page, unsigned max_order, size_t alignment = 0) {
  np_size_classes sc;
  np_size_classes_init(&sc, page, max_order, alignment);
  return sc;
}

TEST(SizeClasses, CountsFor4MiBChunks) {
  np_size_classes sc = Make(8192, 9);
  EXPECT_EQ(sc.chunk_size, 4u << 20);
  EXPECT_EQ(sc.n_sizes, 68u);
  EXPECT_EQ(sc.n_small, 39u);
  EXPECT_EQ(np_index_to_size(&sc, 38), 28672u);
  EXPECT_EQ(np_index_to_size(&sc, 39), 32768u);
  EXPECT_EQ(sc.n_psizes, 32u);
  EXPECT_EQ(np_index_to_size(&sc, sc.n_sizes - 1), sc.chunk_size);
}

TEST(SizeClasses, CountsFor16MiBChunks) {
  np_size_classes sc = Make(8192, 11);
  EXPECT_EQ(sc.chunk_size, 16u << 20);
  EXPECT_EQ(sc.n_sizes, 76u);
  EXPECT_EQ(sc.n_small, 39u);
  EXPECT_EQ(sc.n_psizes, 40u);
  EXPECT_EQ(np_index_to_size(&sc, sc.n_sizes - 1), sc.chunk_size);
}

TEST(SizeClasses, FirstClassesMatchNetty) {
  const uint32_t expect[] = {16,   32,   48,   64,   80,   96,   112,  128,  160,   192,  224,
                             256,  320,  384,  448,  512,  640,  768,  896,  1024,  1280, 1536,
                             1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168,  8192, 10240};
  for (unsigned max_order : {9u, 11u}) {
    np_size_classes sc = Make(8192, max_order);
    for (unsigned i = 0; i < sizeof expect / sizeof expect[0]; i++)
      EXPECT_EQ(np_index_to_size(&sc, i), expect[i]) << "index " << i;
    EXPECT_EQ(np_index_to_size(&sc, 38), 28672u);
    EXPECT_EQ(np_index_to_size(&sc, 39), 32768u);
    EXPECT_EQ(np_index_to_size(&sc, 40), 40960u);
  }
}

TEST(SizeClasses, PageCountClasses) {
  const size_t expect[] = {1,  2,  3,  4,  5,   6,   7,   8,   10,  12,  14,  16,  20,  24,  28,  32,
                           40, 48, 56, 64, 80,  96,  112, 128, 160, 192, 224, 256, 320, 384, 448, 512};
  np_size_classes sc = Make(8192, 9);
  ASSERT_EQ(sc.n_psizes, sizeof expect / sizeof expect[0]);
  for (unsigned i = 0; i < sc.n_psizes; i++) EXPECT_EQ(np_pindex_to_pages(&sc, i), expect[i]);
  np_size_classes big = Make(8192, 11);
  for (unsigned i = 0; i < 32; i++) EXPECT_EQ(np_pindex_to_pages(&big, i), expect[i]);
  EXPECT_EQ(np_pindex_to_pages(&big, big.n_psizes - 1), 2048u);
  EXPECT_EQ(np_pindex_to_pages(&big, big.n_psizes - 2), 1792u);
}

TEST(SizeClasses, Normalisation) {
  for (unsigned max_order : {9u, 11u}) {
    np_size_classes sc = Make(8192, max_order);
    EXPECT_EQ(np_normalize_size(&sc, 0), 16u);
    EXPECT_EQ(np_normalize_size(&sc, 15), 16u);
    EXPECT_EQ(np_normalize_size(&sc, 510), 512u);
    EXPECT_EQ(np_normalize_size(&sc, 1023), 1024u);
    EXPECT_EQ(np_normalize_size(&sc, 1024), 1024u);
    EXPECT_EQ(np_normalize_size(&sc, 1025), 1280u);
    EXPECT_EQ(np_size_to_index(&sc, 4096), 27u);
    EXPECT_EQ(np_size_to_index(&sc, 4097), 28u);
    EXPECT_EQ(np_size_to_index(&sc, sc.chunk_size), sc.n_sizes - 1);
    EXPECT_EQ(np_size_to_index(&sc, sc.chunk_size + 1), sc.n_sizes);  // huge
  }
}

// Every size up to the chunk size: the index is monotonic, its class holds the
// size and the previous class does not, and the table agrees with the log2
// computation.
void CheckEverySize(const np_size_classes &sc) {
  unsigned prev = 0;
  for (size_t size = 1; size <= sc.chunk_size; size++) {
    unsigned idx = np_size_to_index(&sc, size);
    ASSERT_LT(idx, sc.n_sizes) << size;
    ASSERT_GE(idx, prev) << size;
    ASSERT_GE(np_index_to_size(&sc, idx), size) << size;
    if (idx > 0 && sc.alignment == 0) ASSERT_LT(np_index_to_size(&sc, idx - 1), size) << size;
    if (size <= 4096) ASSERT_EQ(idx, np_size_to_index_compute(&sc, size)) << size;
    prev = idx;
  }
}

TEST(SizeClasses, EverySizeUpToChunk4MiB) { CheckEverySize(Make(8192, 9)); }
TEST(SizeClasses, EverySizeUpToChunk16MiB) { CheckEverySize(Make(8192, 11)); }

TEST(SizeClasses, PageIndexCeilingAndFloor) {
  for (unsigned max_order : {9u, 11u}) {
    np_size_classes sc = Make(8192, max_order);
    size_t pages_total = sc.chunk_size / sc.page_size;
    for (size_t pages = 1; pages <= pages_total; pages++) {
      unsigned ceil = np_pages_to_pindex(&sc, pages), floor = np_pages_to_pindex_floor(&sc, pages);
      ASSERT_GE(np_pindex_to_pages(&sc, ceil), pages);
      if (ceil > 0) ASSERT_LT(np_pindex_to_pages(&sc, ceil - 1), pages);
      ASSERT_LE(np_pindex_to_pages(&sc, floor), pages);
      if (floor + 1 < sc.n_psizes) ASSERT_GT(np_pindex_to_pages(&sc, floor + 1), pages);
    }
    EXPECT_EQ(np_pages_to_pindex(&sc, pages_total + 1), sc.n_psizes);
  }
}

// Any valid page size and max order: strictly increasing classes ending at the
// chunk size, small classes below 4 pages, page classes all page multiples.
TEST(SizeClasses, AnyValidGeometry) {
  for (size_t page : {4096u, 8192u, 16384u, 65536u}) {
    for (unsigned max_order = 0; max_order <= 14; max_order++) {
      if ((page << max_order) > (1u << 30)) continue;
      np_size_classes sc = Make(page, max_order);
      ASSERT_LE(sc.n_sizes, (unsigned)NP_MAX_SIZE_CLASSES);
      EXPECT_EQ(np_index_to_size(&sc, sc.n_sizes - 1), sc.chunk_size) << page << " " << max_order;
      for (unsigned i = 1; i < sc.n_sizes; i++) ASSERT_GT(np_index_to_size(&sc, i), np_index_to_size(&sc, i - 1));
      ASSERT_GE(sc.n_small, 1u);
      EXPECT_LT(np_index_to_size(&sc, sc.n_small - 1), 4 * page);
      if (sc.n_small < sc.n_sizes) EXPECT_GE(np_index_to_size(&sc, sc.n_small), 4 * page);
      for (unsigned i = 0; i < sc.n_psizes; i++) EXPECT_EQ(sc.pidx2size[i] % page, 0u);
      EXPECT_EQ(np_pindex_to_pages(&sc, sc.n_psizes - 1), (size_t)1 << max_order);
      for (size_t size : {1ul, 17ul, 4095ul, 4097ul, sc.chunk_size / 3, sc.chunk_size})
        if (size <= sc.chunk_size) {
          EXPECT_GE(np_normalize_size(&sc, size), size);
        }
    }
  }
}

TEST(SizeClasses, AlignmentRoundsEveryClass) {
  for (size_t alignment : {32u, 64u, 256u, 4096u, 8192u}) {
    np_size_classes sc = Make(8192, 9, alignment);
    for (unsigned i = 0; i < sc.n_sizes; i++) ASSERT_EQ(np_index_to_size(&sc, i) % alignment, 0u);
    CheckEverySize(sc);
  }
}

// np_alloc's inline class past the table: the same as np_size_to_index for
// every size from the table's end to the chunk size, for alignments up to
// 1 KiB (np_alloc uses it only then).
TEST(SizeClasses, PastTableFormulaMatchesIndex) {
  for (size_t alignment : {0, 16, 64, 1024})
    for (unsigned max_order : {0, 4, 9, 11}) {
      np_size_classes sc = Make(8192, max_order, alignment);
      for (size_t size = sc.lookup_max_size + 1; size <= sc.chunk_size; size++) {
        ASSERT_EQ(np_size_class_past_table(size), np_size_to_index(&sc, size))
            << "size " << size << " alignment " << alignment << " max_order " << max_order;
        if (size > (1u << 20)) size += 4095;  // every 4 KiB past 1 MiB
      }
    }
}

}  // namespace
