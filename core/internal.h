/* npool's internal functions, one group per file (see np_types.h for the data). */
#ifndef NP_INTERNAL_H
#define NP_INTERNAL_H

#include "np_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NP_INTERNAL __attribute__((visibility("hidden")))

/* leak.c: reports (and forgets) the leak records of a, before it goes away. */
NP_INTERNAL void np_leak_allocator_destroy(np_allocator *a);

/* config.c: the settings table (np_option), in np_config's field order. */
extern const np_option np_options[] NP_INTERNAL;
extern const unsigned np_option_count NP_INTERNAL;
NP_INTERNAL const np_option *np_option_find(const char *name); /* NULL: no such key */
NP_INTERNAL uint64_t np_option_get(const np_config *c, const np_option *o);
/* NP_OK, or the error code of the first setting outside its own range. */
NP_INTERNAL int np_config_check_each(const np_config *c);

/* os_mem.c: anonymous mappings. NULL when the system refuses. */
NP_INTERNAL void *np_os_map(size_t size);
NP_INTERNAL void *np_os_map_aligned(size_t size, size_t alignment);
NP_INTERNAL void np_os_unmap(void *p, size_t size);
NP_INTERNAL size_t np_os_page_size(void); /* the system's page (sysconf, asked once) */

static inline int np_is_pow2(size_t v) { return v != 0 && (v & (v - 1)) == 0; }

/* meta.c: metadata memory (zeroed), see np_meta. */
NP_INTERNAL void np_meta_init(np_meta *m);
NP_INTERNAL void *np_meta_alloc(np_meta *m, size_t size);
NP_INTERNAL void np_meta_free(np_meta *m, void *p, size_t size);
NP_INTERNAL void np_meta_destroy(np_meta *m);

/* run_heap.c: min-heap of free-run handles; pos[run offset] tracks each
 * run's index so any run can be removed in O(log n). */
NP_INTERNAL void np_run_heap_push(np_run_heap *h, uint32_t *pos, uint64_t handle);
NP_INTERNAL uint64_t np_run_heap_pop(np_run_heap *h, uint32_t *pos);
NP_INTERNAL void np_run_heap_remove(np_run_heap *h, uint32_t *pos, uint64_t handle);

/* chunk.c: runs inside a chunk. */
NP_INTERNAL np_chunk *np_chunk_new(np_arena *arena);
NP_INTERNAL void np_chunk_delete(np_arena *arena, np_chunk *chunk);
NP_INTERNAL uint64_t np_chunk_alloc_run(np_chunk *chunk, size_t pages); /* 0: no room */
NP_INTERNAL void np_chunk_free_run(np_chunk *chunk, uint64_t handle);
/* A block of class size_idx (small or normal) from this chunk, its tag set to
 * owner; NULL: no room (or no metadata memory for a new subpage). Arena lock held. */
NP_INTERNAL void *np_chunk_alloc(np_chunk *chunk, unsigned size_idx, np_block_tag owner);
NP_INTERNAL int np_chunk_usage(const np_chunk *chunk);
/* The subpage whose run holds ptr, or NULL for a normal run or a free page. */
NP_INTERNAL np_subpage *np_chunk_subpage_of(const np_chunk *chunk, const void *ptr);
/* What the block starting at ptr is: run handle (with the element index for
 * small blocks), subpage, size, class and tag. Reads without a lock are
 * exact for a live block; callers that need certainty hold the locks and
 * check np_subpage_is_allocated. */
typedef struct np_block_ref {
  uint64_t handle;
  np_subpage *subpage;  /* NULL for a normal block */
  size_t size;
  unsigned size_idx;
  np_block_tag *tag;
} np_block_ref;
NP_INTERNAL int np_chunk_find_block(const np_chunk *chunk, const void *ptr, np_block_ref *ref);
/* The tag of a live pooled block p of a. */
NP_INTERNAL np_block_tag *np_block_tag_of(np_allocator *a, const void *p);
static inline char *np_chunk_base(const np_chunk *c) { return c->region.base; }
/* The address of the element a subpage handle names. */
static inline void *np_subpage_block(const np_subpage *s, uint64_t handle) {
  return np_chunk_base(s->chunk) + ((size_t)s->run_offset << s->chunk->region.arena->sc->page_shift) +
         (size_t)np_handle_bitmap_idx(handle) * s->elem_size;
}

/* subpage.c: small elements inside a run. */
NP_INTERNAL np_subpage *np_subpage_new(np_chunk *chunk, unsigned size_idx, uint32_t run_offset,
                                       uint32_t run_pages);
NP_INTERNAL void np_subpage_delete(np_arena *arena, np_subpage *s);
NP_INTERNAL uint64_t np_subpage_alloc(np_subpage *s); /* handle, 0 if full */
/* np_subpage_alloc, tag the element with its owner, return its address (NULL if full). */
NP_INTERNAL void *np_subpage_alloc_block(np_subpage *s, np_block_tag owner);
NP_INTERNAL int np_subpage_is_allocated(const np_subpage *s, uint32_t idx);
/* Returns 1 while the subpage stays in use, 0 when its run must go back to
 * the chunk (the subpage is off its list then). */
NP_INTERNAL int np_subpage_free(np_subpage *s, np_subpage *head, uint32_t bitmap_idx);
NP_INTERNAL void np_subpage_head_init(np_subpage *head);

/* chunk_list.c: chunks grouped by usage. */
NP_INTERNAL void np_chunk_lists_init(np_arena *arena);
NP_INTERNAL void *np_chunk_list_alloc(np_chunk_list *list, unsigned size_idx, size_t norm_size,
                                      np_block_tag owner);
NP_INTERNAL void np_chunk_list_add(np_chunk_list *list, np_chunk *chunk);
/* Frees a run of chunk (on list); returns 0 when the chunk became free and
 * left the lists: the caller destroys it. */
NP_INTERNAL int np_chunk_list_free_run(np_chunk_list *list, np_chunk *chunk, uint64_t run);

/* arena.c */
NP_INTERNAL int np_arena_init(np_arena *arena, np_allocator *alloc);
NP_INTERNAL void np_arena_destroy(np_arena *arena);
NP_INTERNAL void *np_arena_alloc(np_arena *arena, size_t size, np_block_tag owner);
/* A huge block (a mapping of its own) of size bytes at a multiple of
 * alignment (a power of two; at least the chunk size is used). */
NP_INTERNAL void *np_arena_alloc_huge(np_arena *arena, size_t size, size_t alignment);
/* Frees a block; a cached block (tag NP_TAG_CACHED) is refused as a double
 * free unless from_cache says a cache is giving it back. */
NP_INTERNAL int np_arena_free(np_arena *arena, np_region *region, void *ptr, int from_cache);
/* Up to n blocks of a pooled class (taking each lock once where it can);
 * returns how many, 0 when out of memory. Tags are 0. */
NP_INTERNAL unsigned np_arena_alloc_batch(np_arena *arena, unsigned size_idx, void **out, unsigned n);
NP_INTERNAL size_t np_arena_usable_size(np_arena *arena, np_region *region, const void *ptr);
NP_INTERNAL void np_arena_stats_add(np_arena *arena, np_stats *out);

/* thread_cache.c */
NP_INTERNAL void np_tcaches_init(np_allocator *a);
NP_INTERNAL void np_tcaches_publish(np_allocator *a); /* a is made: on the live list */
NP_INTERNAL void np_tcaches_destroy(np_allocator *a);
/* The calling thread's cache for a (created on first use when create);
 * NULL when no cache could be made. Slot 0 is checked inline. */
NP_INTERNAL np_tcache *np_tcache_get_slow(np_allocator *a, int create);
extern NP_TLS np_tls_slot np_tls_caches[NP_TLS_SLOTS] NP_INTERNAL;
static inline np_tcache *np_tcache_get(np_allocator *a, int create) {
  if (np_tls_caches[0].alloc == a && np_tls_caches[0].uid == a->uid) return np_tls_caches[0].tc;
  return np_tcache_get_slow(a, create);
}
NP_INTERNAL void *np_tcache_alloc(np_tcache *tc, unsigned size_idx);
/* Takes a block being freed into its owner's cache; 0 if it must go to the arena. */
NP_INTERNAL int np_tcache_free(np_allocator *a, np_tcache *mine, void *ptr, const np_block_ref *ref,
                               np_block_tag tag);
NP_INTERNAL void np_tcache_flush(np_tcache *tc);
NP_INTERNAL void np_tcache_stats_add(np_allocator *a, np_stats *out);
NP_INTERNAL np_arena *np_arena_least_used(np_allocator *a);

/* cpu_cache.c: per-CPU caches (strategies with np_percpu_available()). */
NP_INTERNAL int np_cpu_cache_init(np_allocator *a);
NP_INTERNAL void np_cpu_cache_destroy(np_allocator *a);
NP_INTERNAL void *np_cpu_cache_alloc(np_allocator *a, np_tcache *tc, unsigned size_idx);
NP_INTERNAL int np_cpu_cache_free(np_allocator *a, np_tcache *tc, void *ptr, const np_block_ref *ref,
                                  np_block_tag tag);
NP_INTERNAL void np_cpu_cache_trim_current(np_allocator *a, np_tcache *tc);
NP_INTERNAL void np_cpu_cache_flush_all(np_allocator *a, np_tcache *tc);
NP_INTERNAL np_arena *np_cpu_cache_arena(np_allocator *a); /* this CPU's */

/* default_allocator.c: 1 while this thread is making the default allocator
 * (np_default_allocator() returns NULL to a call from inside that). */
NP_INTERNAL int np_default_allocator_creating(void);

/* fork.c: every lock of a, taken before fork() and released after it. */
NP_INTERNAL void np_fork_lock(np_allocator *a);
NP_INTERNAL void np_fork_unlock(np_allocator *a);

/* chunk_registry.c */
NP_INTERNAL int np_registry_init(np_registry *r, unsigned chunk_shift);
NP_INTERNAL void np_registry_destroy(np_registry *r);
NP_INTERNAL int np_registry_set(np_registry *r, const void *addr, np_region *region);
NP_INTERNAL void np_registry_clear(np_registry *r, const void *addr);

/* Splits addr into root and leaf index; 0 if addr is outside the space. */
static inline int np_registry_key(const np_registry *r, const void *addr, size_t *ri, size_t *li) {
  uintptr_t a = (uintptr_t)addr;
  if (a >> NP_REGISTRY_ADDRESS_BITS) return 0;
  uintptr_t key = a >> r->shift;
  *ri = key >> r->leaf_bits;
  *li = key & (((uintptr_t)1 << r->leaf_bits) - 1);
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
