/*
 * The runtime layer: what is process-wide around the allocators, on the cache
 * layer (core/cache/cache.h) and the pool (core/pool/pool.h).
 *
 *   np_allocator ── pool   (np_pool: the arenas and what they share)
 *        ├── caches        (np_caches: thread or per-CPU caches)
 *        └── purger        (the background purge thread, purger.c)
 *   thread slots           each thread's way to its caches (thread_slots.c)
 *   live allocators        every allocator made and not destroyed (thread_slots.c)
 *   fork                   the pthread_atfork handlers (fork.c)
 *
 * The public API (core/allocator.c and the files beside it) makes and
 * destroys allocators on these.
 */
#ifndef NP_RUNTIME_H
#define NP_RUNTIME_H

#include "core/cache/cache.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct np_purger np_purger; /* purger.c */

struct np_allocator {
  np_config cfg;
  np_pool pool;              /* the arenas (pool.arenas: right after this struct) */
  uint64_t uid;              /* tells a new allocator from a destroyed one at the same address */
  np_caches caches;
  size_t self_size;          /* bytes mapped for this struct and the arenas */
  NP_ATOMIC(uint64_t) invalid_frees;
  struct np_allocator *next_live;
  np_purger *purger;         /* the background purge thread (background_purge), or NULL */
};

/* ---- Thread slots (thread_slots.c) ------------------------------------------
 * A thread's way to its caches: one slot per allocator it uses. The uid alone
 * names the allocator (unique in the process, never 0, so an empty slot
 * matches none): the fast paths compare only it. */
#define NP_TLS_SLOTS 8
typedef struct np_tls_slot {
  struct np_allocator *alloc;
  uint64_t uid;
  np_tcache *tc;
} np_tls_slot;

/* Whether np_tcache_get may make the calling thread a cache. */
typedef enum np_cache_lookup { NP_CACHE_FIND, NP_CACHE_FIND_OR_CREATE } np_cache_lookup;

NP_INTERNAL void np_thread_slots_register(np_allocator *a); /* gives a its uid */
NP_INTERNAL np_tcache *np_tcache_get_slow(np_allocator *a, np_cache_lookup how);
extern NP_TLS np_tls_slot np_tls_caches[NP_TLS_SLOTS] NP_INTERNAL;
/* The calling thread's cache for a (made on first use with
 * NP_CACHE_FIND_OR_CREATE); NULL when it has none. Slot 0 is checked inline. */
static inline np_tcache *np_tcache_get(np_allocator *a, np_cache_lookup how) {
  if (np_tls_caches[0].uid == a->uid) return np_tls_caches[0].tc;
  return np_tcache_get_slow(a, how);
}

/* ---- Live allocators (thread_slots.c) and fork (fork.c) ---------------------- */
NP_INTERNAL void np_live_allocators_add(np_allocator *a);    /* a is made */
NP_INTERNAL void np_live_allocators_remove(np_allocator *a); /* before a goes */
/* The pthread_atfork handlers (registered once, with the first allocator);
 * they lock every live allocator. */
NP_INTERNAL void np_fork_handlers_register(void);

/* ---- The background purge thread (purger.c) ----------------------------------
 * Made with the allocator (background_purge), started outside every lock
 * (np_purger_start), stopped and joined by destroy. */
NP_INTERNAL int np_purger_create(np_allocator *a);
NP_INTERNAL void np_purger_start_slow(np_allocator *a);
NP_INTERNAL void np_purger_destroy(np_allocator *a);
NP_INTERNAL bool np_purger_wanted(const np_allocator *a); /* made, not started */
static inline void np_purger_start(np_allocator *a) {
  if (__builtin_expect(a->purger != NULL, 0) && np_purger_wanted(a)) np_purger_start_slow(a);
}

#ifdef __cplusplus
}
#endif
#endif
