/*
 * The memory layer: what npool's metadata lives in, and the map from any
 * address to the region (a chunk or a huge block) that holds it. It builds on
 * the base layer and the strategy's lock (lockfree/strategy.h), nothing else.
 *
 *   np_meta      metadata memory: slabs of 32-byte granules and direct
 *                mappings, never malloc, never inside a block (meta.c)
 *   np_region    a mapped range of address space the pool hands out from:
 *                chunk-aligned, whole chunks (its kind and owner arena are the
 *                pool's to read; the arena is opaque here)
 *   np_registry  chunk-aligned address -> np_region, read without a lock by
 *                every free (chunk_registry.c)
 */
#ifndef NP_MEMORY_H
#define NP_MEMORY_H

#include "core/base/base.h"
#include "lockfree/strategy.h"

/* ---- Metadata memory --------------------------------------------------------
 * Small metadata objects come from slabs, one free list per 32-byte size
 * granule; large ones are mapped directly. Not thread-safe: each arena owns one
 * and uses it under its lock. */
#define NP_META_GRANULE 32
#define NP_META_SLAB_MAX 4096 /* larger objects are mapped directly */
#define NP_META_CLASSES (NP_META_SLAB_MAX / NP_META_GRANULE)

typedef struct np_meta {
  void *free_lists[NP_META_CLASSES];
  char *bump, *bump_end;   /* unused rest of the newest slab */
  void *slabs;             /* every slab, linked through its first word */
  /* Freed direct mappings kept for reuse (meta.c), out of line: a stale
   * reader of a freed record must still find its arena word intact. */
  void *large_kept[64];
  size_t large_kept_size[64];
  unsigned n_large_kept;
  uint64_t mapped_bytes;   /* slabs plus direct mappings */
} np_meta;

/* ---- Regions: what the registry maps an address to ------------------------- */
/* NP_REGION_RELEASED_HUGE: the registry's mark on the first chunk slot of a
 * huge block since given back (np_registry_released_huge, never a real
 * region), so that a second free of its start is told a double free. */
typedef enum np_region_kind {
  NP_REGION_CHUNK = 1,
  NP_REGION_HUGE = 2,
  NP_REGION_RELEASED_HUGE = 3
} np_region_kind;

struct np_arena;

typedef struct np_region {
  /* The first word is reused as a free-list link when the object is freed, so
   * the fields read before taking the arena's lock come after it. */
  struct np_region *list_next; /* huge list of the arena */
  struct np_arena *arena;      /* stable: a slot of an arena's metadata stays its own */
  struct np_region *list_prev;
  char *base;                  /* start of the mapping */
  size_t size;                 /* bytes mapped */
  np_region_kind kind;
  bool span_reused;            /* huge: its span came from retained memory, so the pages
                                * past the block may hold an earlier user's writes */
} np_region;

/* ---- Registry: address -> region, readable without a lock ------------------- */
#define NP_REGISTRY_ADDRESS_BITS 48

typedef struct np_registry {
  unsigned shift;            /* log2(chunk size) */
  unsigned leaf_bits, root_bits;
  unsigned root_shift;       /* shift + leaf_bits: an address's root index */
  uintptr_t leaf_mask;       /* (1 << leaf_bits) - 1 */
  NP_ATOMIC(NP_ATOMIC(np_region *) *) *root; /* [1 << root_bits] leaves */
  size_t root_bytes;
  np_lock lock;              /* serialises leaf creation */
} np_registry;

#ifdef __cplusplus
extern "C" {
#endif

/* meta.c: metadata memory (zeroed), see np_meta. */
NP_INTERNAL void np_meta_init(np_meta *m);
NP_INTERNAL void *np_meta_alloc(np_meta *m, size_t size);
NP_INTERNAL void np_meta_free(np_meta *m, void *p, size_t size);
NP_INTERNAL void np_meta_destroy(np_meta *m);
NP_INTERNAL void np_meta_release_kept(np_meta *m); /* unmaps the freed mappings kept for reuse */

/* chunk_registry.c */
NP_INTERNAL int np_registry_init(np_registry *r, unsigned chunk_shift);
/* fork(): the registry's lock, held across the fork by the forking thread. */
NP_INTERNAL void np_registry_fork_lock(np_registry *r);
NP_INTERNAL void np_registry_fork_unlock(np_registry *r);
NP_INTERNAL void np_registry_destroy(np_registry *r);
NP_INTERNAL int np_registry_set(np_registry *r, const void *addr, np_region *region);
NP_INTERNAL void np_registry_clear(np_registry *r, const void *addr);
/* The mark a released huge block leaves on its first chunk slot (kind
 * NP_REGION_RELEASED_HUGE; np_registry_get returns it until the slot is set
 * again): a later free of that address is a double free, not a foreign one. */
NP_INTERNAL extern np_region np_registry_released_huge;
NP_INTERNAL void np_registry_mark_released_huge(np_registry *r, const void *addr);

/* Splits addr into root and leaf index; 0 if addr is outside the space. */
static inline int np_registry_key(const np_registry *r, const void *addr, size_t *ri, size_t *li) {
  uintptr_t a = (uintptr_t)addr;
  if (a >> NP_REGISTRY_ADDRESS_BITS) return 0;
  *ri = a >> r->root_shift;
  *li = (a >> r->shift) & r->leaf_mask;
  return 1;
}

/* The region holding addr, or NULL: two loads, no lock (every free starts here). */
static inline np_region *np_registry_get(const np_registry *r, const void *addr) {
  size_t ri, li;
  if (!np_registry_key(r, addr, &ri, &li)) return NULL;
#ifdef __cplusplus
  auto *leaf = r->root[ri].load(std::memory_order_acquire);
  return leaf ? leaf[li].load(std::memory_order_acquire) : NULL;
#else
  _Atomic(np_region *) *leaf = atomic_load_explicit(&r->root[ri], memory_order_acquire);
  return leaf ? atomic_load_explicit(&leaf[li], memory_order_acquire) : NULL;
#endif
}

#ifdef __cplusplus
}
#endif
#endif
