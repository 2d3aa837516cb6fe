/*
 * The cache layer: what sits between a thread and the pool (core/pool/pool.h)
 * so that most allocations and frees take no lock. What the layers above use:
 *
 *   np_caches ── pool (np_pool *: the arenas the caches fill from and give to)
 *       ├── thread caches (np_tcache, one per thread: thread_cache.c), each
 *       │     with a remote list per class (frees by other threads) and an
 *       │     outbox (this thread's frees of others' blocks, remote_outbox.c)
 *       ├── or per-CPU caches (cpu_cache.c, strategies that have them), with
 *       │     the transfer cache between the CPUs and the arenas
 *       └── capacity policy (cache_capacity.c: how far a class may grow)
 *
 * A thread finds its np_tcache through the runtime (core/runtime); the
 * allocator embeds np_caches. The one in-band state is the free mark of a
 * cached block (see "Block state" in core/pool/pool.h): np_block_*.
 */
#ifndef NP_CACHE_H
#define NP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "npool.h"
#include "core/pool/pool.h"
#include "lockfree/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Thread caches (thread_cache.c) -------------------------------------------
 * Netty's PoolThreadCache: per thread, one bounded stack per cached class (the
 * owner's own frees) and one np_remote list per class (frees by other threads). */
typedef struct __attribute__((aligned(256))) np_cache_class {
  /* What np_alloc and np_free touch, first. 256-byte aligned: the class
   * index becomes a shift. */
  void **stack;            /* owner only; every entry carries its free mark */
  uint32_t count, cap;     /* (count: owner-written, __atomic stores; stats read it) */
  uint32_t low_water;      /* least count since the last trim: entries nobody used */
  uint32_t refill;         /* blocks taken from the arena per miss */
  /* Owner-written, read by stats (blocks cached = pushes + remote_out of every
   * cache + refilled - hits - flushed). The owner's pushes on its own stack
   * are not counted as they happen (own_pushes in thread_cache.c derives them);
   * nor are pushes onto per-CPU stacks (the stats count those stacks' blocks
   * instead). `pushes`: onto other caches' queues, none being the owner's. */
  uint64_t hits, pushes, refilled, flushed;
  uint64_t count_offset;   /* what moved count other than pushes and hits */
  uint64_t remote_out;     /* this thread's frees into other threads' queues */
  uint64_t hits_at_trim;   /* hits when the class was last trimmed */
  np_remote remote;        /* blocks freed by other threads (at most cap) */
} np_cache_class;

#define NP_RECENT_CHUNKS 4 /* a power of two */
#define NP_NO_CHUNK_KEY UINTPTR_MAX

/* A freeing thread's batch of blocks for one owner's class, waiting for one
 * handover (remote_outbox.c); linked from first by their first words. */
#define NP_OUTBOX_SLOTS 64 /* a power of two */
typedef struct np_outbox_slot {
  struct np_tcache *owner;
  unsigned idx, n;
  void *first;
} np_outbox_slot;

typedef struct np_tcache {
  struct np_caches *caches;
  np_arena *arena;                /* bound for the thread's lifetime */
  struct np_tcache *next_free;    /* retired slots, for reuse */
  size_t mapped;                  /* bytes of this mapping */
  NP_ATOMIC(int) alive;           /* remote producers check it, before and after a push */
  uint32_t until_trim;            /* cache lookups left before the next trim */
  np_percpu_cpu percpu_cpu;       /* per-CPU caches: the CPU this thread's sequences last ran on */
  intptr_t grown;                 /* capacity bytes its classes grew (cache_capacity.c; < 0: shrank) */
  /* The chunks this thread freed into last (jemalloc's rtree cache idea): a
   * free that finds its chunk here skips the registry. Valid while the
   * pool's chunk_epoch (bumped by every chunk deletion) is chunk_epoch;
   * an empty entry's key is NP_NO_CHUNK_KEY, which no address gives. */
  uint64_t chunk_epoch;
  struct { uintptr_t key; np_chunk *chunk; } recent_chunks[NP_RECENT_CHUNKS];
  uint16_t id;                    /* 1..NP_MAX_THREAD_CACHES, the owner tag */
  np_outbox_slot outbox[NP_OUTBOX_SLOTS]; /* this thread's frees of others' blocks, batched */
  np_cache_class classes[];       /* [caches->n_tc_classes]; those from n_cached on stay empty */
} np_tcache;

/* ---- An allocator's caches ------------------------------------------------- */
typedef struct np_caches {
  np_pool *pool;
  const np_config *cfg;      /* the allocator's settings */
  uint64_t free_key;         /* secret of the free marks (np_free_mark) */
  int exact_claims;          /* exact_double_free: np_block_claim swaps atomically */
  unsigned n_cached;         /* classes 0..n_cached-1 are cached */
  unsigned n_tc_classes;     /* classes a thread cache has: n_cached, or every
                                class of the size table, so that np_alloc
                                indexes without a bound check */
  size_t inline_max_size;    /* np_alloc finds the class of sizes past the
                                lookup table inline up to this (the last class
                                a cache has; 0: none) */
  int percpu_active;         /* per-CPU caches serve the allocator */
  np_percpu percpu;
  uint32_t cache_cap[NP_MAX_SIZE_CLASSES];     /* a class's configured capacity ... */
  uint32_t cache_max_cap[NP_MAX_SIZE_CLASSES]; /* ... and what it may grow to (cache_capacity.c) */
  uint32_t refill_count[NP_MAX_SIZE_CLASSES];  /* blocks a cache miss takes from the arena */
  /* Thread caches */
  NP_ATOMIC(np_tcache *) *tcaches;            /* [NP_MAX_THREAD_CACHES] by id - 1 */
  unsigned tcache_count;                      /* ids handed out (under cache_lock) */
  np_tcache *free_tcaches;                    /* retired, reusable */
  np_lock cache_lock;
  /* Counters of retired caches, per class, and of remote pushes by threads
   * that have no cache of their own */
  uint64_t retired_hits[NP_MAX_SIZE_CLASSES];
  uint64_t retired_pushes[NP_MAX_SIZE_CLASSES];
  uint64_t retired_flushed[NP_MAX_SIZE_CLASSES];
  uint64_t retired_refilled[NP_MAX_SIZE_CLASSES];
  uint64_t uncached_remote_pushes[NP_MAX_SIZE_CLASSES];
  uint64_t uncached_remote_flushed[NP_MAX_SIZE_CLASSES]; /* their drains of dead lists */
  /* Per-CPU caches (cpu_cache.c), when the strategy has them and they work */
  size_t percpu_bytes;
  intptr_t *percpu_grown; /* [n_cpus] bytes each CPU's classes grew (cache_capacity.c;
                           * __atomic; < 0: shrank) */
  uint64_t *percpu_trimmed_ns; /* [n_cpus] when a thread last trimmed the CPU (np_clock_ns;
                                * __atomic) */
  unsigned percpu_idle_next;   /* the CPU the next trim looks at for idleness (__atomic) */
  int fork_percpu_locked; /* fork holds the CPUs' maintenance locks */
  struct np_transfer_class *transfer; /* [n_cached] between the CPUs and the arenas
                                       * (transfer_cache.c), with per-CPU caches */
  size_t transfer_bytes;
} np_caches;

/* Sets up the caches of pool's classes with cfg's settings (both must outlive
 * them): thread caches, and per-CPU caches where the strategy has them. */
NP_INTERNAL int np_caches_init(np_caches *caches, np_pool *pool, const np_config *cfg);
NP_INTERNAL void np_caches_destroy(np_caches *caches);

/* Per-CPU caches serve the allocator (a constant false where the strategy has
 * none, so that the fast paths of the others carry no per-CPU branch). */
static inline bool np_percpu_on(const np_caches *caches) {
  return NP_PERCPU_COMPILED && caches->percpu_active;
}

/* ---- Free marks (see "Block state" in core/pool/pool.h) ---------------------------- */
static inline uint64_t np_free_mark(const np_caches *caches, const void *p) {
  return caches->free_key ^ (uintptr_t)p;
}
static inline uint64_t *np_mark_word(void *p) { return (uint64_t *)p + 1; }
/* The block enters a cache or queue: marked. */
static inline void np_block_mark(const np_caches *caches, void *p) {
  __atomic_store_n(np_mark_word(p), np_free_mark(caches, p), __ATOMIC_RELAXED);
}
/* The block goes to a user: unmarked. */
static inline void np_block_unmark(void *p) { __atomic_store_n(np_mark_word(p), 0, __ATOMIC_RELAXED); }
/* A free takes the block: true if it was unmarked (the caller owns the free), false
 * if it was marked already (a double free; nothing changed). By default a load
 * and a store: two threads that free one block at the same instant (a race in
 * the caller) may both get true. exact_double_free: one atomic swap, so that
 * exactly one does. */
static inline bool np_block_claim(const np_caches *caches, void *p) {
  uint64_t mark = np_free_mark(caches, p);
  if (__builtin_expect(caches->exact_claims, 0))
    return __atomic_exchange_n(np_mark_word(p), mark, __ATOMIC_RELAXED) != mark;
  if (__atomic_load_n(np_mark_word(p), __ATOMIC_RELAXED) == mark) return 0;
  __atomic_store_n(np_mark_word(p), mark, __ATOMIC_RELAXED);
  return 1;
}
static inline bool np_block_is_marked(const np_caches *caches, void *p) {
  return __atomic_load_n(np_mark_word(p), __ATOMIC_RELAXED) == np_free_mark(caches, p);
}

/* ---- Thread caches (thread_cache.c) ------------------------------------------ */
NP_INTERNAL np_tcache *np_tcache_acquire(np_caches *caches); /* a cache for a new thread */
/* The thread is gone: its caches emptied (stacks dropped instead in a fork
 * child, for a thread that did not come along) and made reusable. */
typedef enum np_retire_how { NP_RETIRE_THREAD_EXIT, NP_RETIRE_FORK_CHILD } np_retire_how;
NP_INTERNAL void np_tcache_retire(np_tcache *tc, np_retire_how how);
/* A fork child: retires every live cache for which came_along(tc, arg) is
 * false (its thread did not come along). */
NP_INTERNAL void np_tcaches_retire_left_behind(np_caches *caches,
                                               bool (*came_along)(const np_tcache *, void *), void *arg);
/* The miss path of np_alloc: the remote queue, else a batch from the arena. */
NP_INTERNAL void *np_tcache_alloc_miss(np_tcache *tc, unsigned size_idx);
/* A claimed block onto the caller's own full stack: the class grows
 * (cache_capacity.c), or its older half goes back to the arena first. false if
 * the class has no cache. */
NP_INTERNAL bool np_tcache_push_full(np_tcache *tc, unsigned size_idx, void *ptr);
/* Takes a claimed block of a cached class into a cache (the caller's own, or
 * its owner's queue); false if it must go to the arena. */
NP_INTERNAL bool np_tcache_free_slow(np_caches *caches, np_tcache *mine, void *ptr, unsigned size_idx,
                                    np_block_tag tag);
NP_INTERNAL void np_tcache_flush(np_tcache *tc);
/* fork(): the lock of the cache table, and every thread cache's remote queue
 * (core/runtime/fork.c takes them in its order). */
NP_INTERNAL void np_tcaches_fork_lock(np_caches *caches);
NP_INTERNAL void np_tcaches_fork_unlock(np_caches *caches);
NP_INTERNAL void np_tcache_queues_fork_lock(np_caches *caches);
NP_INTERNAL void np_tcache_queues_fork_unlock(np_caches *caches);
/* Adds the caches' counts to stats of the arenas: blocks in a cache are
 * neither allocated nor active. */
NP_INTERNAL void np_caches_stats_add(np_caches *caches, np_stats *out);

/* The thread-cache fast paths, inline in np_alloc and np_free. A pop that
 * would start a trim, or finds nothing, is np_tcache_alloc_miss's. */
static inline bool np_tcache_can_pop(const np_tcache *tc, const np_cache_class *cc) {
  return cc->count != 0 && tc->until_trim > 1;
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
/* Empties tc's recent chunks, valid from now on for the pool's epoch. */
static inline void np_tcache_forget_chunks(np_tcache *tc, uint64_t epoch) {
  for (int i = 0; i < NP_RECENT_CHUNKS; i++) tc->recent_chunks[i].key = NP_NO_CHUNK_KEY;
  tc->chunk_epoch = epoch;
}
/* A claimed block onto tc's own stack of class idx; false if it is full. */
static inline bool np_tcache_push(np_tcache *tc, unsigned idx, void *p) {
  np_cache_class *cc = &tc->classes[idx];
  uint32_t n = cc->count;
  if (__builtin_expect(n >= cc->cap, 0)) return 0;
  cc->stack[n] = p;
  NP_STORE(&cc->count, n + 1); /* (a push: counted by own_pushes in thread_cache.c) */
  return 1;
}

/* ---- Per-CPU caches (cpu_cache.c; strategies with np_percpu_available()) ---- */
NP_INTERNAL void *np_cpu_cache_alloc(np_caches *caches, np_tcache *tc, unsigned size_idx);
/* Takes a claimed block of a cached class; false if it must go to the arena. */
NP_INTERNAL bool np_cpu_cache_free(np_caches *caches, np_tcache *tc, void *ptr, unsigned size_idx);
NP_INTERNAL void np_cpu_cache_flush_all(np_caches *caches, np_tcache *tc);
NP_INTERNAL np_arena *np_cpu_cache_arena(np_caches *caches); /* this CPU's */
/* fork(): every CPU's maintenance lock (where the strategy has them), and
 * the transfer cache's class locks. */
NP_INTERNAL void np_cpu_cache_fork_lock(np_caches *caches);
NP_INTERNAL void np_cpu_cache_fork_unlock(np_caches *caches);
NP_INTERNAL void np_transfer_fork_lock(np_caches *caches);
NP_INTERNAL void np_transfer_fork_unlock(np_caches *caches);

/* The per-CPU fast paths, inline in np_alloc and np_free: one sequence each.
 * NULL / 0: np_cpu_cache_alloc / np_cpu_cache_free's turn (a miss, a trim
 * due, a full stack, a CPU under maintenance). */
static inline void *np_cpu_cache_pop(np_caches *caches, np_tcache *tc, unsigned idx) {
  if (__builtin_expect(tc->until_trim <= 1, 0)) return NULL;
  void *p = np_percpu_pop(&caches->percpu, &tc->percpu_cpu, idx);
  if (__builtin_expect(p == NULL, 0)) return NULL;
  tc->until_trim--;
  NP_STORE(&tc->classes[idx].hits, tc->classes[idx].hits + 1);
  np_block_unmark(p);
  return p;
}
static inline bool np_cpu_cache_push(np_caches *caches, np_tcache *tc, unsigned idx, void *p) {
  return np_percpu_push(&caches->percpu, &tc->percpu_cpu, idx, p); /* (not counted: see np_caches_stats_add) */
}

#ifdef __cplusplus
}
#endif
#endif
