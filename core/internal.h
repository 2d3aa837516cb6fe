/* npool's internal functions above the pool layer, one group per file (see
 * np_types.h for the data; core/pool/pool.h, core/memory/memory.h and
 * core/base/base.h for the layers below). */
#ifndef NP_INTERNAL_H
#define NP_INTERNAL_H

#include "np_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-CPU caches serve a (a constant false where the strategy has none, so that
 * the fast paths of the others carry no per-CPU branch). */
static inline bool np_percpu_on(const np_allocator *a) { return NP_PERCPU_COMPILED && a->percpu_active; }

/* ---- Free marks (see "Block state" in core/pool/pool.h) ---------------------------- */
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
/* A free takes the block: true if it was unmarked (the caller owns the free), false
 * if it was marked already (a double free; nothing changed). One atomic swap. */
static inline bool np_block_claim(const np_allocator *a, void *p) {
  uint64_t mark = np_free_mark(a, p);
  return __atomic_exchange_n(np_mark_word(p), mark, __ATOMIC_RELAXED) != mark;
}
static inline bool np_block_is_marked(const np_allocator *a, void *p) {
  return __atomic_load_n(np_mark_word(p), __ATOMIC_RELAXED) == np_free_mark(a, p);
}

/* The background purge thread: made with the allocator (background_purge),
 * started outside every lock (np_purger_start), stopped and joined by destroy. */
NP_INTERNAL int np_purger_create(np_allocator *a);
NP_INTERNAL void np_purger_start_slow(np_allocator *a);
NP_INTERNAL void np_purger_destroy(np_allocator *a);
NP_INTERNAL void np_purger_fork_child(np_allocator *a); /* the thread is gone: start it again later */
NP_INTERNAL bool np_purger_wanted(const np_allocator *a); /* made, not started */
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
NP_INTERNAL bool np_thread_slots_hold(const np_allocator *a, const np_tcache *tc);

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
 * (cache_capacity.c), or its older half goes back to the arena first. false if
 * the class has no cache. */
NP_INTERNAL bool np_tcache_push_full(np_tcache *tc, unsigned size_idx, void *ptr);
/* Takes a claimed block of a cached class into a cache (the caller's own, or
 * its owner's queue); false if it must go to the arena. */
NP_INTERNAL bool np_tcache_free_slow(np_allocator *a, np_tcache *mine, void *ptr, unsigned size_idx,
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
/* fork(): the lock of the cache table, and every thread cache's remote queue
 * (fork.c takes them in its order). */
NP_INTERNAL void np_tcaches_fork_lock(np_allocator *a);
NP_INTERNAL void np_tcaches_fork_unlock(np_allocator *a);
NP_INTERNAL void np_tcache_queues_fork_lock(np_allocator *a);
NP_INTERNAL void np_tcache_queues_fork_unlock(np_allocator *a);
NP_INTERNAL void np_tcache_stats_add(np_allocator *a, np_stats *out);

/* remote_outbox.c: with NP_REMOTE_HANDOVER_BATCH > 1, a thread's frees of
 * other threads' blocks wait in its outbox and go over a batch at a time.
 * np_outbox_add: true if ptr waits there (or went with its batch); false if its
 * owner is dead and the block is for the arena. */
NP_INTERNAL bool np_outbox_add(np_allocator *a, np_tcache *mine, np_tcache *owner, unsigned idx, void *ptr);
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
static inline bool np_tcache_can_pop(const np_tcache *tc, const np_cache_class *cc) {
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
/* Empties tc's recent chunks, valid from now on for the allocator's epoch. */
static inline void np_tcache_forget_chunks(np_tcache *tc, uint64_t epoch) {
  for (int i = 0; i < NP_RECENT_CHUNKS; i++) tc->recent_chunks[i].key = NP_NO_CHUNK_KEY;
  tc->chunk_epoch = epoch;
}
static inline bool np_tcache_push(np_tcache *tc, unsigned idx, void *p) {
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
/* Takes a claimed block of a cached class; false if it must go to the arena. */
NP_INTERNAL bool np_cpu_cache_free(np_allocator *a, np_tcache *tc, void *ptr, unsigned size_idx);
NP_INTERNAL void np_cpu_cache_flush_all(np_allocator *a, np_tcache *tc);
NP_INTERNAL np_arena *np_cpu_cache_arena(np_allocator *a); /* this CPU's */
/* fork(): every CPU's maintenance lock (where the strategy has them). */
NP_INTERNAL void np_cpu_cache_fork_lock(np_allocator *a);
NP_INTERNAL void np_cpu_cache_fork_unlock(np_allocator *a);

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
static inline bool np_cpu_cache_push(np_allocator *a, np_tcache *tc, unsigned idx, void *p) {
  if (__builtin_expect(!np_percpu_push(&a->percpu, idx, p), 0)) return 0;
  NP_STORE(&tc->classes[idx].pushes, tc->classes[idx].pushes + 1);
  return 1;
}

/* default_allocator.c: true while this thread is making the default allocator
 * (np_default_allocator() returns NULL to a call from inside that). */
NP_INTERNAL bool np_default_allocator_creating(void);
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

#ifdef __cplusplus
}
#endif
#endif
