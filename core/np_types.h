/*
 * npool's data structures above the pool layer (core/pool/pool.h: arenas,
 * chunks, subpages and the np_pool they share; core/memory/memory.h:
 * metadata memory and the registry; core/base/base.h: the base macros).
 *
 *   np_allocator ── pool (np_pool: the arenas and what they share)
 *        ├── thread caches (np_tcache, one per thread) or per-CPU caches
 *        ├── transfer cache (with per-CPU caches)
 *        └── the background purger
 *
 * The one in-band state is the free mark of a cached block (see "Block
 * state" in core/pool/pool.h).
 */
#ifndef NP_TYPES_H
#define NP_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "npool.h"
#include "core/pool/pool.h"
#include "lockfree/strategy.h"

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
   * are not counted as they happen (np_tcache_own_pushes derives them);
   * `pushes` counts those onto per-CPU stacks. */
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
#define NP_OUTBOX_SLOTS 8 /* a power of two */
typedef struct np_outbox_slot {
  struct np_tcache *owner;
  unsigned idx, n;
  void *first;
} np_outbox_slot;

typedef struct np_tcache {
  struct np_allocator *alloc;
  np_arena *arena;                /* bound for the thread's lifetime */
  struct np_tcache *next_free;    /* retired slots, for reuse */
  size_t mapped;                  /* bytes of this mapping */
  NP_ATOMIC(int) alive;           /* remote producers check it, before and after a push */
  uint32_t until_trim;            /* cache lookups left before the next trim */
  size_t grown;                   /* capacity bytes its classes grew (cache_capacity.c) */
  /* The chunks this thread freed into last (jemalloc's rtree cache idea): a
   * free that finds its chunk here skips the registry. Valid while the
   * allocator's chunk_epoch (bumped by every chunk deletion) is chunk_epoch;
   * an empty entry's key is NP_NO_CHUNK_KEY, which no address gives. */
  uint64_t chunk_epoch;
  struct { uintptr_t key; np_chunk *chunk; } recent_chunks[NP_RECENT_CHUNKS];
  uint16_t id;                    /* 1..NP_MAX_THREAD_CACHES, the owner tag */
  np_outbox_slot outbox[NP_OUTBOX_SLOTS]; /* this thread's frees of others' blocks, batched */
  np_cache_class classes[];       /* [alloc->n_tc_classes]; those from n_cached on stay empty */
} np_tcache;

/* Whether np_tcache_get may make the calling thread a cache. */
typedef enum np_cache_lookup { NP_CACHE_FIND, NP_CACHE_FIND_OR_CREATE } np_cache_lookup;

/* A thread's way to its caches: one slot per allocator it uses. The uid alone
 * names the allocator (unique in the process, never 0, so an empty slot
 * matches none): the fast paths compare only it. */
#define NP_TLS_SLOTS 8
typedef struct np_tls_slot {
  struct np_allocator *alloc;
  uint64_t uid;
  np_tcache *tc;
} np_tls_slot;

typedef struct np_purger np_purger; /* purger.c */

/* ---- The allocator ----------------------------------------------------------- */
struct np_allocator {
  np_config cfg;
  np_pool pool;              /* the arenas (pool.arenas: right after this struct) */
  size_t self_size;          /* bytes mapped for this struct and the arenas */
  NP_ATOMIC(uint64_t) invalid_frees;
  uint64_t free_key;         /* secret of the free marks (np_free_mark) */
  uint64_t uid;              /* tells a new allocator from a destroyed one at the same address */
  struct np_allocator *next_live;
  /* Thread caches */
  unsigned n_cached;                          /* classes 0..n_cached-1 are cached */
  unsigned n_tc_classes;                      /* classes a thread cache has: n_cached, or
                                                 every class of the size table, so that
                                                 np_alloc indexes without a bound check */
  size_t inline_max_size;                     /* np_alloc finds the class of sizes past
                                                 the lookup table inline up to this (the
                                                 last class a cache has; 0: none) */
  uint32_t cache_cap[NP_MAX_SIZE_CLASSES];    /* a class's configured capacity ... */
  uint32_t cache_max_cap[NP_MAX_SIZE_CLASSES]; /* ... and what it may grow to (cache_capacity.c) */
  NP_ATOMIC(np_tcache *) *tcaches;            /* [NP_MAX_THREAD_CACHES] by id - 1 */
  unsigned tcache_count;                      /* ids handed out (under cache_lock) */
  np_tcache *free_tcaches;                    /* retired, reusable */
  np_lock cache_lock;
  uint32_t refill_count[NP_MAX_SIZE_CLASSES]; /* blocks a cache miss takes from the arena */
  /* Counters of retired caches, per class, and of remote pushes by threads
   * that have no cache of their own */
  uint64_t retired_hits[NP_MAX_SIZE_CLASSES];
  uint64_t retired_pushes[NP_MAX_SIZE_CLASSES];
  uint64_t retired_flushed[NP_MAX_SIZE_CLASSES];
  uint64_t retired_refilled[NP_MAX_SIZE_CLASSES];
  uint64_t uncached_remote_pushes[NP_MAX_SIZE_CLASSES];
  uint64_t uncached_remote_flushed[NP_MAX_SIZE_CLASSES]; /* their drains of dead lists */
  /* Per-CPU caches (cpu_cache.c), when the strategy has them and they work */
  int percpu_active;
  np_percpu percpu;
  size_t percpu_bytes;
  size_t *percpu_grown;   /* [n_cpus] bytes each CPU's classes grew (cache_capacity.c; __atomic) */
  int fork_percpu_locked; /* fork.c holds the CPUs' maintenance locks */
  struct np_transfer_class *transfer; /* [n_cached] between the CPUs and the arenas
                                       * (transfer_cache.c), with per-CPU caches */
  size_t transfer_bytes;
  /* The background purge thread (purger.c) */
  np_purger *purger;       /* the background purge thread (background_purge), or NULL */
};

#endif
