/*
 * npool's data structures above the memory layer (np_meta, np_region and
 * np_registry are core/memory/memory.h's; the base macros core/base/base.h's).
 *
 *   np_allocator ── arenas[] ── np_arena ── small_heads[n_small]   (subpage lists per small class)
 *        │                          ├────── lists[6]  qInit q000 q025 q050 q075 q100
 *        │                          │         └── np_chunk ⇄ np_chunk ⇄ ...   (by usage)
 *        │                          ├────── huge list (one mapping per huge block)
 *        │                          └────── np_meta  (metadata memory, never malloc)
 *        └── np_registry: chunk-aligned address -> np_region (chunk or huge block)
 *
 * All metadata lives out of line (in np_meta memory), never inside the blocks
 * handed out, so a bad pointer from a caller cannot corrupt it, and any
 * pointer can be checked against it. The one in-band state is the free mark
 * of a cached block (see "Block state").
 */
#ifndef NP_TYPES_H
#define NP_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "npool.h"
#include "size_classes.h"
#include "core/memory/memory.h"
#include "lockfree/strategy.h"

/* ---- Handles ---------------------------------------------------------------
 * One 64-bit word names a run or a subpage element inside a chunk (Netty's):
 *
 *   bit 63..49  run offset in pages (15 bits)
 *   bit 48..34  run length in pages (15 bits)
 *   bit 33      in use
 *   bit 32      is subpage
 *   bit 31..0   bitmap index of the element (subpages only)
 */
#define NP_HANDLE_OFFSET_SHIFT 49
#define NP_HANDLE_PAGES_SHIFT 34
#define NP_HANDLE_USED_BIT (1ull << 33)
#define NP_HANDLE_SUBPAGE_BIT (1ull << 32)
#define NP_HANDLE_FIELD_MASK 0x7fffull

static inline uint64_t np_handle_make(uint32_t offset, uint32_t pages, int used) {
  return ((uint64_t)offset << NP_HANDLE_OFFSET_SHIFT) | ((uint64_t)pages << NP_HANDLE_PAGES_SHIFT) |
         (used ? NP_HANDLE_USED_BIT : 0);
}
static inline uint32_t np_handle_offset(uint64_t h) { return (uint32_t)(h >> NP_HANDLE_OFFSET_SHIFT); }
static inline uint32_t np_handle_pages(uint64_t h) {
  return (uint32_t)((h >> NP_HANDLE_PAGES_SHIFT) & NP_HANDLE_FIELD_MASK);
}
static inline int np_handle_is_used(uint64_t h) { return (h & NP_HANDLE_USED_BIT) != 0; }
static inline int np_handle_is_subpage(uint64_t h) { return (h & NP_HANDLE_SUBPAGE_BIT) != 0; }
static inline uint32_t np_handle_bitmap_idx(uint64_t h) { return (uint32_t)h; }

/* ---- Block state -------------------------------------------------------------
 * Two pieces, chosen so that a free touches as little shared memory as it can:
 *
 * - Out of line, a 16-bit tag per pooled block, written only by the arena
 *   (under the lock that guards the block's run or subpage): NP_TAG_OUT while
 *   the block is outside the arena (handed to a user, or sitting in a cache or
 *   a queue), plus the id of the thread cache that owns it (0: none). 0 when the
 *   arena holds the block. Frees read it without a lock.
 * - In band, for cached classes only: word 1 of a block that sits in a cache or
 *   a queue holds its free mark (np_free_mark: a per-allocator secret mixed
 *   with the block's address, glibc's tcache key idea). Every free swaps the
 *   mark in atomically (np_block_claim), so of two frees of one live block,
 *   even at the same instant, exactly one finds the block unmarked and goes on;
 *   every path that hands a block to a user clears the mark.
 *
 *   block state            tag           word 0                word 1
 *   in the arena           0             anything              anything
 *   live (a user's)        OUT | owner   user data             user data (not the mark)
 *   in a cache's stack     OUT | owner   anything              the mark
 *   on a remote list       OUT | owner   the list's link       the mark
 */
typedef uint16_t np_block_tag;
#define NP_TAG_OUT ((np_block_tag)0x8000)
#define NP_TAG_OWNER_MASK ((np_block_tag)0x7fff)
#define NP_MAX_THREAD_CACHES 32767

/* ---- Subpages ---------------------------------------------------------------
 * A run split into equal elements of one small class, tracked by a bitmap. */
typedef struct np_subpage {
  uint64_t elem_magic;            /* UINT64_MAX / elem_size + 1: division by multiplication */
  uint32_t run_offset;            /* in pages */
  uint32_t elem_size;
  uint32_t max_elems;
  uint32_t size_idx;
  uint64_t *bitmap;               /* [bitmap_words], after the tags: bit set = element out of
                                     the arena (in use or cached); under the class lock */
  /* The arena's, under the class lock: */
  struct np_chunk *chunk;
  struct np_subpage *prev, *next; /* the class list (a sentinel head per class) */
  uint32_t run_pages;
  uint32_t num_avail;
  uint32_t next_avail;            /* hint: an element known free, or NP_NO_HINT */
  uint32_t bitmap_words;
  int do_not_destroy;             /* cleared once the subpage is given back */
  /* [max_elems] owner cache and OUT bit. Right after the header: the page map
   * points at them, and the subpage is found from them (np_page_subpage). */
  np_block_tag tags[];
} np_subpage;

#define NP_NO_HINT UINT32_MAX

/* ---- Chunks -----------------------------------------------------------------
 * A chunk-aligned mapping of chunk_size bytes, split into runs of pages. */
/* Page-count classes of a chunk: at most 52 (max_order 14); chunk_fit.c keeps
 * one bit per class in a 64-bit mask. */
#define NP_MAX_PSIZES 64

typedef struct np_run_heap {
  uint64_t *items; /* min-heap of free-run handles: lowest offset on top */
  uint32_t len, cap;
} np_run_heap;

struct np_chunk_list;

/* What a free by pointer reads first: one entry per page, 32 bytes, one
 * load. For a small run, on every page, what its subpage's element needs
 * (copies of the subpage's, written before the handle): a free finds the
 * element and its tag with no load of the subpage in between. */
typedef struct __attribute__((aligned(32))) np_page_entry {
  uint64_t handle;       /* in-use run covering the page (0: a free page); for a
                            normal run the low 32 bits hold its size class */
  np_block_tag *tags;    /* small run: its subpage's tags (np_page_subpage) */
  uint64_t elem_magic;   /* small run: the subpage's (also says whether an offset is
                            an element's start: np_free) */
  uint32_t max_elems;    /* small run: the subpage's (0: no element; a freed run) */
  uint32_t size_idx;     /* small run: the subpage's */
} np_page_entry;

typedef struct np_chunk {
  np_region region;               /* kind NP_REGION_CHUNK; must stay first */
  struct np_chunk_list *list;     /* the chunk list it is on */
  struct np_chunk *prev, *next;   /* neighbours on that list */
  size_t free_bytes;
  uint32_t pages;
  /* Arrays in one metadata mapping (tables_size bytes at `tables`): */
  void *tables;
  size_t tables_size;
  np_run_heap *run_heaps;   /* [n_psizes] free runs filed by floor page-count class */
  uint64_t *free_run_at;    /* [pages] free run handle at its first and last page */
  uint32_t *heap_pos;       /* [pages] index in its heap of the free run starting here */
  np_block_tag *run_tags;   /* [pages] tag of the normal run starting at the page */
  /* Free runs written since the chunk's last purge (purge.c): */
  uint64_t dirty_since;     /* ns (np_clock_ns) of the oldest; 0: none */
  size_t dirty_bytes;       /* bytes of runs freed since (an upper bound) */
  /* The arena's free-run index (chunk_fit.c): */
  uint64_t avail;                   /* bit k: run_heaps[k] is not empty */
  uint32_t fit_pos[NP_MAX_PSIZES];  /* place in the arena's heap k, while bit k is set */
  np_page_entry map[];      /* [pages]: in the chunk's own record, one load from it */
} np_chunk;

/* ---- Chunk lists ------------------------------------------------------------ */
typedef struct np_chunk_list {
  const char *name;
  struct np_chunk_list *next_list; /* where chunks go as usage rises */
  struct np_chunk_list *prev_list; /* where they go as it falls; NULL: release */
  np_chunk *head;
  int min_usage, max_usage;
  size_t max_capacity;       /* largest request a member chunk can satisfy */
  size_t free_min_threshold; /* move up when free bytes fall to this */
  size_t free_max_threshold; /* move down when free bytes rise above this */
  uint64_t chunks;
} np_chunk_list;

/* ---- Retained memory (retained.c) --------------------------------------------
 * Address ranges an arena released (emptied chunks, freed huge blocks) and
 * keeps mapped for its next chunk or huge block: chunk-aligned, multiples of
 * the chunk size, sorted by address, never adjacent (freed neighbours merge).
 * All of it is dirty (touched, resident); purge.c unmaps a range once it has
 * been unused for dirty_decay_ms. Under the arena lock. */
typedef struct np_extent {
  struct np_extent *next;   /* the next range up */
  char *base;
  size_t size;
  uint64_t dirty_since;     /* ns (np_clock_ns) when its oldest part was released */
} np_extent;

typedef struct np_retained {
  np_extent *head;          /* lowest address first */
  size_t bytes;             /* sum of sizes */
  uint64_t reused_bytes;    /* handed out again instead of mapped, ever */
} np_retained;

/* ---- Arenas ------------------------------------------------------------------ */
/* Updated with NP_ADD: small blocks are counted under their class lock only. */
typedef struct np_kind_counters {
  uint64_t allocations, deallocations, active_bytes;
} np_kind_counters;

struct np_allocator;

/* chunk_fit.c: for each page-count class k, the arena's chunks that have a
 * free run of class k, a min-heap by address in items[k * cap ...]. */
typedef struct np_chunk_fit {
  struct np_chunk **items;   /* n_psizes heaps of cap entries each */
  uint32_t cap;              /* entries per heap: at least the arena's chunks */
  uint32_t chunks;           /* chunks of the arena */
  uint32_t len[NP_MAX_PSIZES];
  uint64_t mask;             /* bit k: heap k is not empty */
} np_chunk_fit;

typedef struct np_arena {
  np_lock lock;              /* chunks, chunk lists, normal and huge blocks */
  struct np_allocator *alloc;
  const np_size_classes *sc;
  np_subpage *small_heads;   /* [n_small] sentinels of the subpage lists */
  np_lock *small_locks;      /* [n_small] one per list head (taken after `lock`) */
  NP_ATOMIC(unsigned) bound_threads;
  np_chunk_list lists[NP_CHUNK_LISTS];
  np_chunk_fit fit;          /* free runs across the chunks (run_placement best_fit) */
  np_region *huge;           /* live huge blocks */
  np_meta meta;
  np_kind_counters small, normal, huge_stats;
  uint64_t chunk_allocations, chunk_deallocations;
  uint64_t mapped_bytes;     /* chunks and huge blocks in use (not retained) */
  np_retained retained;      /* released, kept mapped for reuse */
  uint64_t next_purge_ns;    /* when something dirty is due to be purged; 0: nothing is dirty */
  uint64_t purged_bytes;     /* returned to the system by purges (unmapped or madvised), ever */
  uint64_t purges;           /* system calls that did it, ever */
} np_arena;

/* ---- Small class geometry (fixed per allocator) ------------------------------ */
typedef struct np_small_run {
  uint32_t run_pages;
  uint32_t max_elems;
} np_small_run;

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

typedef struct np_purger np_purger; /* purge.c */

/* ---- The allocator ----------------------------------------------------------- */
struct np_allocator {
  np_config cfg;
  np_size_classes sc;
  np_small_run small_runs[NP_MAX_SIZE_CLASSES];
  np_registry registry;
  unsigned n_arenas;
  np_arena *arenas;
  size_t self_size;          /* bytes mapped for this struct and the arenas */
  NP_ATOMIC(uint64_t) invalid_frees;
  uint64_t free_key;         /* secret of the free marks (np_free_mark) */
  uintptr_t chunk_mask;      /* chunk size - 1: a pointer's chunk base without a load */
  NP_ATOMIC(uint64_t) chunk_epoch; /* chunks deleted, ever: invalidates np_tcache.recent_chunks */
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
  /* Purging (purge.c) */
  uint64_t decay_ns;      /* dirty_decay_ms in ns; 0: release at once, retain nothing */
  np_purger *purger;       /* the background purge thread (background_purge), or NULL */
};

#endif
