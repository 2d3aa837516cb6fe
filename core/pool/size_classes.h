/*
 * Size classes, jemalloc-style, exactly as Netty's SizeClasses computes them.
 *
 * Four classes per doubling, quantum 16 B:
 *
 *   size = (1 << log2_group) + (n_delta << log2_delta)
 *
 *   group   log2_group log2_delta  sizes
 *   first       4          4       16   32   48   64      (n_delta 0..3)
 *   1           6          4       80   96  112  128      (n_delta 1..4)
 *   2           7          5      160  192  224  256
 *   ...                            ... up to and including the chunk size
 *
 * A class is "small" (served from a subpage) while floor(log2(size)) <
 * page_shift + 2, "multi-page" when its size is a multiple of the page size
 * (those form the page-count classes used for runs). Sizes up to 4096 map to a
 * class through a table indexed by (size - 1) >> 4; larger sizes through a
 * log2 computation. With an alignment, every class size is rounded up to it
 * (Netty's directMemoryCacheAlignment), so every block is aligned.
 */
#ifndef NP_SIZE_CLASSES_H
#define NP_SIZE_CLASSES_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "npool.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NP_LOG2_QUANTUM 4
#define NP_LOG2_SIZE_CLASS_GROUP 2
#define NP_LOG2_MAX_LOOKUP_SIZE 12
#define NP_LOOKUP_ENTRIES ((1u << NP_LOG2_MAX_LOOKUP_SIZE) >> NP_LOG2_QUANTUM)

typedef struct np_size_classes {
  unsigned page_shift;
  size_t page_size;
  size_t chunk_size;
  size_t alignment;         /* 0: none */
  unsigned n_sizes;         /* classes; the last is the chunk size */
  unsigned n_small;         /* classes 0..n_small-1 are small */
  unsigned n_psizes;        /* page-count classes */
  size_t lookup_max_size;   /* largest size served by size2idx_tab */
  uint32_t idx2size[NP_MAX_SIZE_CLASSES];
  uint32_t pidx2size[NP_MAX_SIZE_CLASSES]; /* page-count class -> bytes */
  uint8_t size2idx_tab[NP_LOOKUP_ENTRIES];
} np_size_classes;

/* Builds the tables. page_size a power of two >= 4096, chunk_size =
 * page_size << max_order <= 1 GiB, alignment 0 or a power of two. */
void np_size_classes_init(np_size_classes *sc, size_t page_size, unsigned max_order,
                          size_t alignment);

/* Class index for a request; n_sizes for a request above the chunk size. */
unsigned np_size_to_index(const np_size_classes *sc, size_t size);

/* np_size_to_index with the table lookup inline: one load for sizes up to
 * 4096 (the table already holds the alignment's rounding). */
static inline unsigned np_size_class(const np_size_classes *sc, size_t size) {
  if (__builtin_expect(size - 1 < NP_LOOKUP_ENTRIES << NP_LOG2_QUANTUM, 1))
    return sc->size2idx_tab[(size - 1) >> NP_LOG2_QUANTUM];
  return np_size_to_index(sc, size);
}

/* The class of a size past the lookup table (4 KiB < size <= chunk size) by
 * the log2 formula, with no rounding to the alignment: exact for alignments
 * up to 1 KiB, of which every class there is a multiple. Inline in np_alloc. */
static inline unsigned np_size_class_past_table(size_t size) {
  unsigned x = 63u - (unsigned)__builtin_clzll(((uint64_t)size << 1) - 1); /* log2, rounded up */
  unsigned group = (x - (NP_LOG2_SIZE_CLASS_GROUP + NP_LOG2_QUANTUM)) << NP_LOG2_SIZE_CLASS_GROUP;
  unsigned log2_delta = x - NP_LOG2_SIZE_CLASS_GROUP - 1;
  return group + (unsigned)(((size - 1) >> log2_delta) & ((1u << NP_LOG2_SIZE_CLASS_GROUP) - 1));
}

/* The same computed with the log2 formula only (no table): for tests. */
unsigned np_size_to_index_compute(const np_size_classes *sc, size_t size);

/* Bytes of class idx. */
static inline size_t np_index_to_size(const np_size_classes *sc, unsigned idx) {
  return sc->idx2size[idx];
}

/* The class size a request is rounded to (size <= chunk size). */
size_t np_normalize_size(const np_size_classes *sc, size_t size);

/* Page-count class for a run of `pages`: the smallest class that holds it
 * (ceiling), or the largest class it fills (floor). n_psizes if too big. */
unsigned np_pages_to_pindex(const np_size_classes *sc, size_t pages);
unsigned np_pages_to_pindex_floor(const np_size_classes *sc, size_t pages);

static inline size_t np_pindex_to_pages(const np_size_classes *sc, unsigned pidx) {
  return sc->pidx2size[pidx] >> sc->page_shift;
}

static inline bool np_is_small_index(const np_size_classes *sc, unsigned idx) {
  return idx < sc->n_small;
}

#ifdef __cplusplus
}
#endif
#endif
