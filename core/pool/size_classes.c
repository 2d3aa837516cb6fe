/* Size classes: see size_classes.h for the layout of the table. */
#include "core/pool/size_classes.h"

#include <string.h>

static unsigned log2_floor(uint64_t v) { return 63u - (unsigned)__builtin_clzll(v); }

static size_t align_up(size_t size, size_t alignment) {
  if (alignment == 0) return size;
  size_t delta = size & (alignment - 1);
  return delta == 0 ? size : size + alignment - delta;
}

/* Appends one class (log2_group, log2_delta, n_delta); returns its raw size. */
static uint64_t add_class(np_size_classes *sc, unsigned log2_group, unsigned log2_delta,
                          unsigned n_delta) {
  uint64_t raw = (1ull << log2_group) + ((uint64_t)n_delta << log2_delta);
  unsigned n = sc->n_sizes++;
  sc->idx2size[n] = (uint32_t)align_up(raw, sc->alignment);
  if (log2_floor(raw) < sc->page_shift + NP_LOG2_SIZE_CLASS_GROUP) sc->n_small = n + 1;
  if (log2_delta >= sc->page_shift || raw % sc->page_size == 0)
    sc->pidx2size[sc->n_psizes++] = (uint32_t)raw;
  return raw;
}

void np_size_classes_init(np_size_classes *sc, size_t page_size, unsigned max_order,
                          size_t alignment) {
  memset(sc, 0, sizeof *sc);
  sc->page_size = page_size;
  sc->page_shift = log2_floor(page_size);
  sc->chunk_size = page_size << max_order;
  sc->alignment = alignment;

  const unsigned per_group = 1u << NP_LOG2_SIZE_CLASS_GROUP;
  /* First group: 16, 32, 48, 64 (n_delta from 0). */
  for (unsigned nd = 0; nd < per_group; nd++) add_class(sc, NP_LOG2_QUANTUM, NP_LOG2_QUANTUM, nd);
  /* Later groups: n_delta 1..4, the delta doubling per group, up to the chunk size. */
  uint64_t raw = 0;
  for (unsigned lg = NP_LOG2_QUANTUM + NP_LOG2_SIZE_CLASS_GROUP, ld = NP_LOG2_QUANTUM;
       raw < sc->chunk_size; lg++, ld++)
    for (unsigned nd = 1; nd <= per_group && raw < sc->chunk_size; nd++)
      raw = add_class(sc, lg, ld, nd);

  /* Lookup table for sizes up to 4096: entry i serves sizes ((i << 4), (i + 1) << 4]
   * and agrees with the computed index by construction. */
  sc->lookup_max_size = 1u << NP_LOG2_MAX_LOOKUP_SIZE;
  for (unsigned i = 0; i < NP_LOOKUP_ENTRIES; i++)
    sc->size2idx_tab[i] = (uint8_t)np_size_to_index_compute(sc, (size_t)(i + 1) << NP_LOG2_QUANTUM);
}

unsigned np_size_to_index_compute(const np_size_classes *sc, size_t size) {
  if (size == 0) return 0;
  if (size > sc->chunk_size) return sc->n_sizes;
  size = align_up(size, sc->alignment);
  /* x: log2 of the power of two at or above size. Below 2^lo the classes
   * are the quantum's multiples (the first group); from there on, groups of
   * 2^NP_LOG2_SIZE_CLASS_GROUP per doubling. */
  unsigned x = log2_floor(((uint64_t)size << 1) - 1);
  const unsigned lo = NP_LOG2_SIZE_CLASS_GROUP + NP_LOG2_QUANTUM + 1;
  if (x < lo) return (unsigned)((size - 1) >> NP_LOG2_QUANTUM);
  return np_size_class_past_table(size);
}

unsigned np_size_to_index(const np_size_classes *sc, size_t size) {
  if (size == 0) return 0;
  if (size > sc->chunk_size) return sc->n_sizes;
  size_t aligned = align_up(size, sc->alignment);
  if (aligned <= sc->lookup_max_size) return sc->size2idx_tab[(aligned - 1) >> NP_LOG2_QUANTUM];
  return np_size_to_index_compute(sc, size);
}

size_t np_normalize_size(const np_size_classes *sc, size_t size) {
  return sc->idx2size[np_size_to_index(sc, size)];
}

static unsigned pages_to_pindex(const np_size_classes *sc, size_t pages, int floor) {
  uint64_t bytes = (uint64_t)pages << sc->page_shift;
  if (pages == 0) return 0;
  if (bytes > sc->chunk_size) return sc->n_psizes;
  unsigned ps = sc->page_shift;
  unsigned x = log2_floor((bytes << 1) - 1);
  unsigned shift = x < NP_LOG2_SIZE_CLASS_GROUP + ps ? 0 : x - (NP_LOG2_SIZE_CLASS_GROUP + ps);
  unsigned group = shift << NP_LOG2_SIZE_CLASS_GROUP;
  unsigned log2_delta = x < NP_LOG2_SIZE_CLASS_GROUP + ps + 1 ? ps : x - NP_LOG2_SIZE_CLASS_GROUP - 1;
  unsigned mod = (unsigned)(((bytes - 1) >> log2_delta) & ((1u << NP_LOG2_SIZE_CLASS_GROUP) - 1));
  unsigned pidx = group + mod;
  if (floor && sc->pidx2size[pidx] > bytes) pidx--;
  return pidx;
}

unsigned np_pages_to_pindex(const np_size_classes *sc, size_t pages) {
  return pages_to_pindex(sc, pages, 0);
}

unsigned np_pages_to_pindex_floor(const np_size_classes *sc, size_t pages) {
  return pages_to_pindex(sc, pages, 1);
}
