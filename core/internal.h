/* npool's internal functions above the memory layer, one group per file (see
 * np_types.h for the data; core/base/base.h and core/memory/memory.h for the
 * layers below). */
#ifndef NP_INTERNAL_H
#define NP_INTERNAL_H

#include "np_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-CPU caches serve a (a constant 0 where the strategy has none, so that
 * the fast paths of the others carry no per-CPU branch). */
static inline int np_percpu_on(const np_allocator *a) { return NP_PERCPU_COMPILED && a->percpu_active; }

/* leak.c: reports (and forgets) the leak records of a, before it goes away. */
NP_INTERNAL void np_leak_allocator_destroy(np_allocator *a);

/* run_heap.c: min-heap of free-run handles; pos[run offset] tracks each
 * run's index so any run can be removed in O(log n). */
NP_INTERNAL void np_run_heap_push(np_run_heap *h, uint32_t *pos, uint64_t handle);
NP_INTERNAL void np_run_heap_remove(np_run_heap *h, uint32_t *pos, uint64_t handle);

/* chunk_fit.c: the arena's chunks by the free-run classes they hold (arena
 * lock). reserve: room for one more chunk (before np_chunk_new files it);
 * find: the chunk with the best-fitting run of `pages`, lowest address first. */
NP_INTERNAL int np_chunk_fit_reserve(np_arena *arena);
NP_INTERNAL void np_chunk_fit_add(np_arena *arena, np_chunk *chunk, unsigned pidx);
NP_INTERNAL void np_chunk_fit_remove(np_arena *arena, np_chunk *chunk, unsigned pidx);
NP_INTERNAL np_chunk *np_chunk_fit_find(np_arena *arena, size_t pages);
NP_INTERNAL void np_chunk_fit_destroy(np_arena *arena);

/* chunk.c: runs inside a chunk. */
NP_INTERNAL np_chunk *np_chunk_new(np_arena *arena);
NP_INTERNAL void np_chunk_delete(np_arena *arena, np_chunk *chunk);
NP_INTERNAL uint64_t np_chunk_alloc_run(np_chunk *chunk, size_t pages); /* 0: no room */
NP_INTERNAL void np_chunk_free_run(np_chunk *chunk, uint64_t handle);
/* A block of class size_idx (small or normal) from this chunk, its tag set to
 * NP_TAG_OUT | owner; NULL: no room (or no metadata memory for a new
 * subpage). Arena lock held. */
NP_INTERNAL void *np_chunk_alloc(np_chunk *chunk, unsigned size_idx, np_block_tag owner);
NP_INTERNAL int np_chunk_usage(const np_chunk *chunk);
static inline char *np_chunk_base(const np_chunk *c) { return c->region.base; }
/* The address of the element a subpage handle names. */
static inline void *np_subpage_block(const np_subpage *s, uint64_t handle) {
  return np_chunk_base(s->chunk) + ((size_t)s->run_offset << s->chunk->region.arena->sc->page_shift) +
         (size_t)np_handle_bitmap_idx(handle) * s->elem_size;
}

/* What a freed run's pages map to instead of a subpage: no elements, tag 0,
 * so that a lock-free reader that saw the run's old handle finds no block. */
extern const np_subpage np_subpage_none NP_INTERNAL;

/* The subpage of a small run's page entry (its tags follow its header). */
static inline np_subpage *np_page_subpage(const np_page_entry *e) {
  np_block_tag *tags = NP_LOAD(&e->tags);
  return (np_subpage *)((char *)tags - offsetof(np_subpage, tags));
}

/* What the block starting at ptr is, as a free needs it. */
typedef struct np_block_ref {
  np_chunk *chunk;
  uint64_t handle;      /* its run (with the element index for small blocks) */
  np_subpage *subpage;  /* NULL for a normal block */
  unsigned size_idx;
  np_block_tag *tag;
} np_block_ref;

/* Finds the block that starts at ptr in chunk c of a: the page map entry, then
 * (small blocks) the subpage's element by a multiplication. NP_OK, or why ptr
 * is no block start (a free page: NP_ERR_DOUBLE_FREE). Reads only, no lock:
 * exact for a live block; the arena checks again under its locks. */
static inline int np_chunk_find_block(const np_allocator *a, const np_chunk *c, const void *ptr,
                                      np_block_ref *ref) {
  const unsigned page_shift = a->sc.page_shift;
  size_t off = (uintptr_t)ptr & a->chunk_mask;
  const np_page_entry *e = &c->map[off >> page_shift];
  uint64_t h = NP_LOAD(&e->handle);
  ref->chunk = (np_chunk *)c;
  if (h == 0) return NP_ERR_DOUBLE_FREE; /* the page belongs to no live run */
  size_t run_off = off - ((size_t)np_handle_offset(h) << page_shift);
  if (!np_handle_is_subpage(h)) {
    if (run_off != 0) return NP_ERR_NOT_BLOCK_START;
    ref->handle = h;
    ref->subpage = NULL;
    ref->size_idx = np_handle_bitmap_idx(h);
    ref->tag = &c->run_tags[np_handle_offset(h)];
    return NP_OK;
  }
  np_subpage *s = np_page_subpage(e);
  if (s == &np_subpage_none) return NP_ERR_DOUBLE_FREE; /* the run was freed under us */
  /* run_off / elem_size, exact for 32-bit operands (Lemire's fastdiv). */
  uint32_t idx = (uint32_t)(((unsigned __int128)s->elem_magic * (uint32_t)run_off) >> 64);
  if ((size_t)idx * s->elem_size != run_off || idx >= s->max_elems) return NP_ERR_NOT_BLOCK_START;
  ref->handle = h | idx;
  ref->subpage = s;
  ref->size_idx = s->size_idx;
  ref->tag = &s->tags[idx];
  return NP_OK;
}

/* ---- Free marks (see "Block state" in np_types.h) ---------------------------- */
static inline uint64_t np_free_mark(const np_allocator *a, const void *p) {
  return a->free_key ^ (uintptr_t)p;
}
static inline uint64_t *np_mark_word(void *p) { return (uint64_t *)p + 1; }
/* The block enters a cache or queue: marked. */
static inline void np_block_mark(const np_allocator *a, void *p) {
  __atomic_store_n(np_mark_word(p), np_free_mark(a, p), __ATOMIC_RELAXED);
}
/* The block goes to a user: unmarked. */
static inline void np_block_unmark(void *p) { __atomic_store_n(np_mark_word(p), 0, __ATOMIC_RELAXED); }
/* A free takes the block: 1 if it was unmarked (the caller owns the free), 0
 * if it was marked already (a double free; nothing changed). One atomic swap. */
static inline int np_block_claim(const np_allocator *a, void *p) {
  uint64_t mark = np_free_mark(a, p);
  return __atomic_exchange_n(np_mark_word(p), mark, __ATOMIC_RELAXED) != mark;
}
static inline int np_block_is_marked(const np_allocator *a, void *p) {
  return __atomic_load_n(np_mark_word(p), __ATOMIC_RELAXED) == np_free_mark(a, p);
}

/* subpage.c: small elements inside a run. */
NP_INTERNAL np_subpage *np_subpage_new(np_chunk *chunk, unsigned size_idx, uint32_t run_offset,
                                       uint32_t run_pages);
NP_INTERNAL void np_subpage_delete(np_arena *arena, np_subpage *s);
/* An element of s, tagged NP_TAG_OUT | owner: its address (NULL if s is full). */
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
/* After a block came from `chunk`: up to the next list if its usage passed the
 * upper threshold of its own. */
NP_INTERNAL void np_chunk_list_note_alloc(np_chunk *chunk);
/* Frees a run of chunk (on list); returns 0 when the chunk became free and
 * left the lists: the caller destroys it. */
NP_INTERNAL int np_chunk_list_free_run(np_chunk_list *list, np_chunk *chunk, uint64_t run);

/* arena.c */
NP_INTERNAL int np_arena_init(np_arena *arena, np_allocator *alloc);
NP_INTERNAL void np_arena_destroy(np_arena *arena);
/* A block of class idx (a pooled class), tagged NP_TAG_OUT | owner. */
NP_INTERNAL void *np_arena_alloc(np_arena *arena, unsigned idx, np_block_tag owner);
/* A huge block (whole chunks of address space of its own, a retained range
 * or a new mapping) of size bytes at a multiple of alignment (a power of two;
 * at least the chunk size is used); NP_ZERO_NEEDED: zeroed (a new mapping
 * is already). */
typedef enum np_zero { NP_ZERO_NOT_NEEDED, NP_ZERO_NEEDED } np_zero;
NP_INTERNAL void *np_arena_alloc_huge(np_arena *arena, size_t size, size_t alignment, np_zero zero);
/* Frees a huge block (region r), or refuses a pointer that is none. */
NP_INTERNAL int np_arena_free_huge(np_arena *arena, np_region *r, void *ptr);
/* Frees the pooled block ref names (found by np_chunk_find_block; the caller
 * claimed it, or it is of an uncached class): checked again under the locks. */
NP_INTERNAL int np_arena_free_block(np_arena *arena, void *ptr, const np_block_ref *ref);
/* Up to n blocks of a pooled class with one acquisition of each lock, tagged
 * NP_TAG_OUT | owner; returns how many (0: out of memory). */
NP_INTERNAL unsigned np_arena_alloc_batch(np_arena *arena, unsigned size_idx, void **out, unsigned n,
                                          np_block_tag owner);
/* Gives n cached blocks back to their arenas, one acquisition of the locks per
 * run of blocks of one arena. Every block must be out of the arena and marked
 * (a cache's own); n may be 0. */
NP_INTERNAL void np_arena_free_cached(np_allocator *a, void *const *blocks, unsigned n);
NP_INTERNAL np_arena *np_arena_least_used(np_allocator *a);
NP_INTERNAL void np_arena_stats_add(np_arena *arena, np_stats *out);

/* retained.c: released ranges kept mapped (np_retained); arena lock held. */
/* A range of size bytes at a multiple of alignment out of the retained ones
 * (best fit), or NULL; *dirty_since: when its range was released. */
NP_INTERNAL char *np_retained_take(np_arena *arena, size_t size, size_t alignment, uint64_t *dirty_since);
/* Keeps [base, base + size) (chunk-aligned, whole chunks), or unmaps it. */
NP_INTERNAL void np_retained_put(np_arena *arena, char *base, size_t size, uint64_t now);
/* Unmaps the ranges due at now (all: every one); returns the next due time, 0: none. */
NP_INTERNAL uint64_t np_retained_purge(np_arena *arena, uint64_t now, int all);
NP_INTERNAL void np_retained_destroy(np_arena *arena); /* unmaps every range */

/* purge.c: dirty memory back to the system on the decay schedule. */
/* Something of arena became dirty at since: its due time is since + decay. */
NP_INTERNAL void np_purge_note_dirty(np_arena *arena, uint64_t since);
/* A run of bytes went back to chunk c: the chunk's free runs are dirty. */
NP_INTERNAL void np_chunk_note_dirty(np_chunk *c, size_t bytes);
/* Purges what is due at now (all: everything dirty); arena lock held.
 * Returns the arena's next due time (0: nothing dirty). */
NP_INTERNAL uint64_t np_arena_purge(np_arena *arena, uint64_t now, int all);
NP_INTERNAL size_t np_arena_dirty_bytes(const np_arena *arena); /* arena lock held */
/* A mapping failed: every arena's retained ranges (own's first) go back to
 * the system, each arena's under its lock alone. No arena lock held on
 * entry. Returns the bytes unmapped (0: a retry would fail the same way). */
NP_INTERNAL size_t np_release_retained(np_allocator *alloc, np_arena *own);
/* Arena activity: purges what is due. Arena lock held. */
static inline void np_purge_tick(np_arena *arena) {
  if (__builtin_expect(arena->next_purge_ns != 0, 0)) {
    uint64_t now = np_clock_ns();
    if (now >= arena->next_purge_ns) np_arena_purge(arena, now, 0);
  }
}
/* The background purge thread: made with the allocator (background_purge),
 * started outside every lock (np_purger_start), stopped and joined by destroy. */
NP_INTERNAL int np_purger_create(np_allocator *a);
NP_INTERNAL void np_purger_start_slow(np_allocator *a);
NP_INTERNAL void np_purger_destroy(np_allocator *a);
NP_INTERNAL void np_purger_fork_child(np_allocator *a); /* the thread is gone: start it again later */
NP_INTERNAL int np_purger_wanted(const np_allocator *a); /* made, not started */
static inline void np_purger_start(np_allocator *a) {
  if (__builtin_expect(a->purger != NULL, 0) && np_purger_wanted(a)) np_purger_start_slow(a);
}

/* thread_slots.c: each thread's way to its caches (a small initial-exec TLS
 * table keyed by allocator), the list of live allocators, and thread exit. */
NP_INTERNAL void np_thread_slots_register(np_allocator *a); /* gives a its uid */
NP_INTERNAL void np_live_allocators_add(np_allocator *a);    /* a is made */
NP_INTERNAL void np_live_allocators_remove(np_allocator *a); /* before a goes */
NP_INTERNAL np_tcache *np_tcache_get_slow(np_allocator *a, np_cache_lookup how);
extern NP_TLS np_tls_slot np_tls_caches[NP_TLS_SLOTS] NP_INTERNAL;
/* The calling thread's cache for a (made on first use with
 * NP_CACHE_FIND_OR_CREATE); NULL when it has none. Slot 0 is checked inline. */
static inline np_tcache *np_tcache_get(np_allocator *a, np_cache_lookup how) {
  if (np_tls_caches[0].uid == a->uid) return np_tls_caches[0].tc;
  return np_tcache_get_slow(a, how);
}
/* fork.c's view of the slot table: whether tc is the calling thread's. */
NP_INTERNAL int np_thread_slots_hold(const np_allocator *a, const np_tcache *tc);

/* thread_cache.c: the thread-cache policy. */
NP_INTERNAL void np_tcaches_init(np_allocator *a);
NP_INTERNAL void np_tcaches_destroy(np_allocator *a);
NP_INTERNAL np_tcache *np_tcache_acquire(np_allocator *a); /* a cache for a new thread */
/* The thread is gone: its caches emptied (stacks dropped instead in a fork
 * child, for a thread that did not come along) and made reusable. */
typedef enum np_retire_how { NP_RETIRE_THREAD_EXIT, NP_RETIRE_FORK_CHILD } np_retire_how;
NP_INTERNAL void np_tcache_retire(np_tcache *tc, np_retire_how how);
/* The miss path of np_alloc: the remote queue, else a batch from the arena. */
NP_INTERNAL void *np_tcache_alloc_miss(np_tcache *tc, unsigned size_idx);
/* A claimed block onto the caller's own full stack: the class grows
 * (cache_capacity.c), or its older half goes back to the arena first. 0 if
 * the class has no cache. */
NP_INTERNAL int np_tcache_push_full(np_tcache *tc, unsigned size_idx, void *ptr);
/* Takes a claimed block of a cached class into a cache (the caller's own, or
 * its owner's queue); 0 if it must go to the arena. */
NP_INTERNAL int np_tcache_free_slow(np_allocator *a, np_tcache *mine, void *ptr, unsigned size_idx,
                                    np_block_tag tag);
/* Hands n claimed blocks of class idx (linked from first by np_remote's link)
 * to their owner tc's remote list, as many as fit: returns the rest (NULL:
 * all went; all of them when tc is dead), still the caller's. Counts nothing
 * but a drain. */
NP_INTERNAL void *np_tcache_hand_over(np_allocator *a, np_tcache *mine, np_tcache *tc, unsigned idx,
                                      void *first, unsigned n);
/* Frees a linked list of claimed blocks of class idx to the arena, counted
 * as tc's flushes. */
NP_INTERNAL void np_tcache_give_back_list(np_tcache *tc, unsigned idx, void *list);
NP_INTERNAL void np_tcache_flush(np_tcache *tc);
NP_INTERNAL void np_tcache_stats_add(np_allocator *a, np_stats *out);

/* remote_outbox.c: with NP_REMOTE_HANDOVER_BATCH > 1, a thread's frees of
 * other threads' blocks wait in its outbox and go over a batch at a time.
 * np_outbox_add: 1 if ptr waits there (or went with its batch); 0 if its
 * owner is dead and the block is for the arena. */
NP_INTERNAL int np_outbox_add(np_allocator *a, np_tcache *mine, np_tcache *owner, unsigned idx, void *ptr);
NP_INTERNAL void np_outbox_send_all(np_allocator *a, np_tcache *mine);
NP_INTERNAL void np_outbox_drop(np_tcache *mine); /* fork child, a thread that did not come along */

/* cache_capacity.c: how far a cache class may grow past its configured size. */
NP_INTERNAL void np_cache_capacity_init(np_allocator *a); /* a->cache_max_cap from a->cache_cap */
/* The capacity a class at cap grows to when its stack overflows, given its
 * cache's growth so far (bytes); cap itself when it may not grow. */
NP_INTERNAL uint32_t np_cache_capacity_grown(const np_allocator *a, unsigned idx, uint32_t cap, size_t grown);
/* The capacity a class at cap has after a trim, given its low-water mark and
 * its hits since the last trim: half, if it had grown and entries sat unused
 * or nobody used it. */
NP_INTERNAL uint32_t np_cache_capacity_shrunk(const np_allocator *a, unsigned idx, uint32_t cap,
                                              uint32_t low_water, uint64_t hits);
NP_INTERNAL size_t np_cache_capacity_bytes(const np_allocator *a, unsigned idx, uint32_t entries);

/* The thread-cache fast paths, inline in np_alloc and np_free. A pop that
 * would start a trim, or finds nothing, is np_tcache_alloc_miss's. */
static inline int np_tcache_can_pop(const np_tcache *tc, const np_cache_class *cc) {
  return cc->count != 0 && tc->until_trim > 1;
}
/* A thread cache class's configured capacity (0: not cached, or per-CPU
 * caches serve the allocator); its current one (cc->cap, grown past this by
 * cache_capacity.c) is the owner's to read and change. */
static inline uint32_t np_tcache_base_cap(const np_allocator *a, unsigned c) {
  return np_percpu_on(a) ? 0 : a->cache_cap[c];
}
static inline void *np_tcache_pop(np_tcache *tc, np_cache_class *cc) { /* np_tcache_can_pop */
  tc->until_trim--;
  uint32_t n = cc->count - 1;
  NP_STORE(&cc->count, n);
  void *p = cc->stack[n];
  if (n < cc->low_water) cc->low_water = n;
  NP_STORE(&cc->hits, cc->hits + 1);
  np_block_unmark(p);
  return p;
}
NP_INTERNAL uint64_t np_tcache_own_pushes(const np_allocator *a, const np_cache_class *cc);
/* The usable size of the block np_alloc(a, size) just returned as mem: its
 * class's size, found without a lookup of the block (np_usable_size's, for a
 * huge one). */
static inline size_t np_alloc_usable_size(np_allocator *a, const void *mem, size_t size) {
  return size <= a->sc.chunk_size ? np_normalize_size(&a->sc, size) : np_usable_size(a, mem);
}

/* Empties tc's recent chunks, valid from now on for the allocator's epoch. */
static inline void np_tcache_forget_chunks(np_tcache *tc, uint64_t epoch) {
  for (int i = 0; i < NP_RECENT_CHUNKS; i++) tc->recent_chunks[i].key = NP_NO_CHUNK_KEY;
  tc->chunk_epoch = epoch;
}
static inline int np_tcache_push(np_tcache *tc, unsigned idx, void *p) {
  np_cache_class *cc = &tc->classes[idx];
  uint32_t n = cc->count;
  if (__builtin_expect(n >= cc->cap, 0)) return 0;
  cc->stack[n] = p;
  NP_STORE(&cc->count, n + 1); /* (a push: counted by np_tcache_own_pushes) */
  return 1;
}

/* transfer_cache.c: batches of free blocks between the per-CPU caches and
 * the arenas. insert copies up to n (returns how many fit), remove takes up
 * to n (returns how many), flush gives a class's blocks to the arenas
 * (returns how many). */
typedef struct np_transfer_class np_transfer_class;
NP_INTERNAL int np_transfer_init(np_allocator *a);
NP_INTERNAL void np_transfer_destroy(np_allocator *a);
NP_INTERNAL unsigned np_transfer_insert(np_allocator *a, unsigned idx, void *const *blocks, unsigned n);
NP_INTERNAL unsigned np_transfer_remove(np_allocator *a, unsigned idx, void **out, unsigned n);
NP_INTERNAL unsigned np_transfer_flush(np_allocator *a, unsigned idx);
NP_INTERNAL void np_transfer_fork_lock(np_allocator *a);
NP_INTERNAL void np_transfer_fork_unlock(np_allocator *a);

/* cpu_cache.c: per-CPU caches (strategies with np_percpu_available()). */
NP_INTERNAL int np_cpu_cache_init(np_allocator *a);
NP_INTERNAL void np_cpu_cache_destroy(np_allocator *a);
NP_INTERNAL void *np_cpu_cache_alloc(np_allocator *a, np_tcache *tc, unsigned size_idx);
/* Takes a claimed block of a cached class; 0 if it must go to the arena. */
NP_INTERNAL int np_cpu_cache_free(np_allocator *a, np_tcache *tc, void *ptr, unsigned size_idx);
NP_INTERNAL void np_cpu_cache_flush_all(np_allocator *a, np_tcache *tc);
NP_INTERNAL np_arena *np_cpu_cache_arena(np_allocator *a); /* this CPU's */

/* The per-CPU fast paths, inline in np_alloc and np_free: one sequence each.
 * NULL / 0: np_cpu_cache_alloc / np_cpu_cache_free's turn (a miss, a trim
 * due, a full stack, a CPU under maintenance). */
static inline void *np_cpu_cache_pop(np_allocator *a, np_tcache *tc, unsigned idx) {
  if (__builtin_expect(tc->until_trim <= 1, 0)) return NULL;
  void *p = np_percpu_pop(&a->percpu, idx);
  if (__builtin_expect(p == NULL, 0)) return NULL;
  tc->until_trim--;
  NP_STORE(&tc->classes[idx].hits, tc->classes[idx].hits + 1);
  np_block_unmark(p);
  return p;
}
static inline int np_cpu_cache_push(np_allocator *a, np_tcache *tc, unsigned idx, void *p) {
  if (__builtin_expect(!np_percpu_push(&a->percpu, idx, p), 0)) return 0;
  NP_STORE(&tc->classes[idx].pushes, tc->classes[idx].pushes + 1);
  return 1;
}

/* default_allocator.c: 1 while this thread is making the default allocator
 * (np_default_allocator() returns NULL to a call from inside that). */
NP_INTERNAL int np_default_allocator_creating(void);
/* default_allocator.c: a private allocator of the library's own (pooled
 * buffers' objects, leak records) in *slot, made on first use: one arena, no
 * thread caches (its blocks are freed on any thread, or never), no leak
 * tracking. A creation that fails (no memory) leaves *slot NULL, so a later
 * call tries again; two threads racing keep one and destroy the other. NULL
 * with errno ENOMEM when it cannot be made now. */
NP_INTERNAL np_allocator *np_private_allocator(np_allocator **slot);
/* The default allocator once made (default_allocator.c), for malloc's fast
 * paths: one load instead of a call; NULL: np_default_allocator() makes it. */
NP_INTERNAL extern np_allocator *np_default_alloc; /* __atomic */
static inline np_allocator *np_default_allocator_inline(void) {
  np_allocator *a = __atomic_load_n(&np_default_alloc, __ATOMIC_ACQUIRE);
  return __builtin_expect(a != NULL, 1) ? a : np_default_allocator();
}

/* fork.c: the pthread_atfork handlers (registered once, with the first
 * allocator); they lock every live allocator (np_live_allocators_lock). */
NP_INTERNAL void np_fork_handlers_register(void);
/* thread_slots.c: the live list, for fork.c (which walks it with
 * np_live_allocators_first / a->next_live while holding it). */
NP_INTERNAL void np_live_allocators_lock(void);
NP_INTERNAL void np_live_allocators_unlock(void);
NP_INTERNAL np_allocator *np_live_allocators_first(void);

/* The error for a free of ptr whose registry slot holds r, which is not the
 * region ptr was found in (NULL, the released-huge mark, another region's): a
 * double free where ptr is the start of a huge block given back, else a
 * pointer npool does not know. */
static inline int np_free_of_released(const np_allocator *a, const np_region *r, const void *ptr) {
  return r == &np_registry_released_huge && ((uintptr_t)ptr & a->chunk_mask) == 0 ? NP_ERR_DOUBLE_FREE
                                                                                  : NP_ERR_FOREIGN_POINTER;
}

#ifdef __cplusplus
}
#endif
#endif
