/*
 * The fast paths of allocation and of free by pointer, inline: np_alloc and
 * np_free are these (allocator.c), and so are the malloc library's malloc and
 * free (malloc.c), which would otherwise pay a call into them. Everything they
 * do not do themselves is one of the slow paths below (allocator.c), as a tail
 * call.
 */
#ifndef NP_FAST_PATH_H
#define NP_FAST_PATH_H

#include "internal.h"

/* allocator.c: the slow paths. What the fast path found comes along, but not
 * the chunk: a slow path that needs it (a block for the arena) finds it again,
 * so that the fast path holds fewer values (no callee-saved registers). */
NP_INTERNAL void *np_alloc_slow(np_allocator *a, size_t size);
NP_INTERNAL int np_free_refused(np_allocator *a, int rc); /* counts an invalid free */
NP_INTERNAL int np_free_slow(np_allocator *a, void *ptr);
NP_INTERNAL int np_free_push_on_full(np_allocator *a, np_tcache *tc, void *ptr, unsigned idx);
NP_INTERNAL int np_free_to_cpu_cache_slow(np_allocator *a, np_tcache *tc, void *ptr, unsigned idx);
NP_INTERNAL int np_free_not_own(np_allocator *a, np_tcache *tc, void *ptr, unsigned cls, np_block_tag tag);

/* The fast path: the thread's cache (slot 0 of its table), the class (one
 * table load up to 4 KiB, the log2 formula past it), a pop. Anything else is
 * np_alloc_slow's, as a tail call. */
static inline __attribute__((always_inline)) void *np_alloc_inline(np_allocator *a, size_t size) {
  const np_tls_slot *slot = &np_tls_caches[0];
  if (__builtin_expect(a == NULL || slot->uid != a->uid, 0)) return np_alloc_slow(a, size);
  unsigned idx;
  if (__builtin_expect(size - 1 < (size_t)NP_LOOKUP_ENTRIES << NP_LOG2_QUANTUM, 1))
    idx = a->pool.sc.size2idx_tab[(size - 1) >> NP_LOG2_QUANTUM];
  else if (size - 1 < a->caches.inline_max_size) /* (size 0 wraps: the slow path's) */
    idx = np_size_class_past_table(size);
  else
    return np_alloc_slow(a, size);
  np_tcache *tc = slot->tc;
  if (__builtin_expect(np_percpu_on(&a->caches), NP_PERCPU_COMPILED)) { /* the thread's stacks stay empty */
    if (__builtin_expect(idx >= a->caches.n_cached, 0)) return np_alloc_slow(a, size);
    void *p = np_cpu_cache_pop(&a->caches, tc, idx);
    /* A miss asks for the class's own size (the same class), so that size
     * need not live across the sequence: no callee-saved register. */
    return __builtin_expect(p != NULL, 1) ? p : np_alloc_slow(a, np_index_to_size(&a->pool.sc, idx));
  }
  np_cache_class *cc = &tc->classes[idx];
  if (__builtin_expect(np_tcache_can_pop(tc, cc), 1)) return np_tcache_pop(tc, cc);
  return np_alloc_slow(a, size);
}

/* The fast path's end with per-CPU caches: a validated small block. */
static inline int np_free_to_cpu_cache(np_allocator *a, np_tcache *tc, void *ptr, unsigned idx) {
  if (__builtin_expect(!np_block_claim(&a->caches, ptr), 0)) return np_free_refused(a, NP_ERR_DOUBLE_FREE);
  if (__builtin_expect(np_cpu_cache_push(&a->caches, tc, idx, ptr), 1)) return NP_OK;
  return np_free_to_cpu_cache_slow(a, tc, ptr, idx);
}

/*
 * Free by pointer, the fast path, for a block of a cached class going onto
 * the caller's own cache: the chunk (one of the thread's recent chunks, or
 * the registry: root, leaf), the chunk's page map entry (one 32-byte load:
 * the run handle, and a small run's tags, element count, class and magic),
 * the element (a multiplication) or the normal run, its tag (out of the
 * arena, and whose); then the claim, one atomic swap of the free mark in the
 * block itself, and a push. Nothing is written before the block is known to
 * be a live one. Anything else is a slow path's, as a tail call. (Always
 * inline, as np_alloc_inline: GCC would otherwise keep it a function of its
 * own, that np_free and free jump to.)
 */
static inline __attribute__((always_inline)) int np_free_inline(np_allocator *a, void *ptr) {
  if (__builtin_expect(a == NULL, 0)) return NP_ERR_NULL_ARGUMENT;
  if (__builtin_expect(ptr == NULL, 0)) return NP_OK;
  const np_tls_slot *slot = &np_tls_caches[0];
  if (__builtin_expect(slot->uid != a->uid, 0)) return np_free_slow(a, ptr);
  np_tcache *tc = slot->tc;
  /* The chunk: from the thread's recent chunks, else the registry. */
  uintptr_t key = (uintptr_t)ptr >> a->pool.registry.shift;
  np_region *r;
  uint64_t epoch = atomic_load_explicit(&a->pool.chunk_epoch, memory_order_acquire);
  unsigned k = (unsigned)key & (NP_RECENT_CHUNKS - 1);
  if (__builtin_expect(tc->recent_chunks[k].key == key && tc->chunk_epoch == epoch, 1)) {
    r = &tc->recent_chunks[k].chunk->region;
  } else {
    r = np_registry_get(&a->pool.registry, ptr);
    if (__builtin_expect(r == NULL || r->kind != NP_REGION_CHUNK, 0)) return np_free_slow(a, ptr);
    if (tc->chunk_epoch != epoch) np_tcache_forget_chunks(tc, epoch);
    tc->recent_chunks[k].key = key;
    tc->recent_chunks[k].chunk = (np_chunk *)r;
  }
  const np_chunk *c = (const np_chunk *)r;
  const unsigned page_shift = a->pool.sc.page_shift;
  size_t off = (uintptr_t)ptr & a->pool.chunk_mask;
  const np_page_entry *e = &c->map[off >> page_shift];
  uint64_t h = NP_LOAD(&e->handle);
  size_t run_start = (size_t)np_handle_offset(h) << page_shift;
  np_block_tag tag;
  unsigned cls;
  if (__builtin_expect(np_handle_is_subpage(h), 1)) { /* small: the element of the subpage */
    /* One multiplication gives the element (the high half: run_off /
     * elem_size) and whether run_off is its start (the low half below the
     * magic: Lemire, Kaser and Kurz's divisibility test, exact for 32-bit
     * offsets). */
    uint32_t run_off = (uint32_t)(off - run_start);
    uint64_t magic = NP_LOAD(&e->elem_magic);
    uint32_t max_elems = NP_LOAD(&e->max_elems);
    unsigned __int128 q = (unsigned __int128)magic * run_off;
    uint32_t idx = (uint32_t)(q >> 64);
    if (__builtin_expect((uint64_t)q >= magic || idx >= max_elems, 0)) return np_free_slow(a, ptr);
    tag = NP_LOAD(&NP_LOAD(&e->tags)[idx]);
    cls = NP_LOAD(&e->size_idx);
  } else { /* normal: the run itself (a free page, or not its start: the slow path says why) */
    if (__builtin_expect(h == 0 || off != run_start, 0)) return np_free_slow(a, ptr);
    tag = NP_LOAD(&c->run_tags[np_handle_offset(h)]);
    cls = np_handle_bitmap_idx(h);
  }
  /* A class without a cache (no mark either) is the arena's; one whose
   * capacity is 0 gets its claim, then np_free_push_on_full's way there. */
  if (__builtin_expect(!(tag & NP_TAG_OUT) || cls >= a->caches.n_cached, 0)) return np_free_slow(a, ptr);
  if (__builtin_expect(np_percpu_on(&a->caches), NP_PERCPU_COMPILED)) return np_free_to_cpu_cache(a, tc, ptr, cls);
  if (__builtin_expect((tag & NP_TAG_OWNER_MASK) != tc->id, 0)) return np_free_not_own(a, tc, ptr, cls, tag);
  if (__builtin_expect(!np_block_claim(&a->caches, ptr), 0)) return np_free_refused(a, NP_ERR_DOUBLE_FREE);
  np_cache_class *cc = &tc->classes[cls];
  uint32_t n = cc->count;
  if (__builtin_expect(n >= cc->cap, 0)) return np_free_push_on_full(a, tc, ptr, cls);
  cc->stack[n] = ptr;
  NP_STORE(&cc->count, n + 1); /* (not counted: own_pushes in thread_cache.c derives it) */
  return NP_OK;
}

#endif
