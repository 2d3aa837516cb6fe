/*
 * The pool layer: what npool pools memory in, below every cache. An arena
 * owns chunks (chunk-aligned mappings split into runs of pages, small runs
 * split into subpage elements), filed on chunk lists by usage, its huge
 * blocks, and the ranges it released and keeps mapped (retained memory); it
 * gives dirty memory back to the system on the decay schedule. The arenas of
 * one allocator share an np_pool: size classes, run geometry, the address
 * registry and the settings they follow.
 *
 *   np_pool ── arenas[] ── np_arena ── small_heads[n_small]   (subpage lists per small class)
 *     │                       ├────── lists[6]  qInit q000 q025 q050 q075 q100
 *     │                       │         └── np_chunk ⇄ np_chunk ⇄ ...   (by usage)
 *     │                       ├────── huge list (one mapping per huge block)
 *     │                       ├────── retained ranges (released, kept mapped)
 *     │                       └────── np_meta  (metadata memory, never malloc)
 *     └── np_registry: chunk-aligned address -> np_region (chunk or huge block)
 *
 * All metadata lives out of line (in np_meta memory), never inside the blocks
 * handed out, so a bad pointer from a caller cannot corrupt it, and any
 * pointer can be checked against it.
 *
 * May call: the memory and base layers, the strategy's lock. Called by: the
 * caches and the API (this header); the layer's own files share
 * pool_internal.h.
 */
#ifndef NP_POOL_H
#define NP_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "npool.h"
#include "core/pool/size_classes.h"
#include "core/memory/memory.h"
#include "lockfree/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

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
static inline bool np_handle_is_used(uint64_t h) { return (h & NP_HANDLE_USED_BIT) != 0; }
static inline bool np_handle_is_subpage(uint64_t h) { return (h & NP_HANDLE_SUBPAGE_BIT) != 0; }
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
  struct np_pool *pool;
  const np_size_classes *sc; /* &pool->sc */
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

/* ---- Small class geometry (fixed per pool) ----------------------------------- */
typedef struct np_small_run {
  uint32_t run_pages;
  uint32_t max_elems;
} np_small_run;


/* ---- The pool ----------------------------------------------------------------
 * What an allocator's arenas share. Fixed once np_pool_init returns, but for
 * chunk_epoch and the dirty hook. */
typedef struct np_pool {
  np_size_classes sc;
  np_small_run small_runs[NP_MAX_SIZE_CLASSES];
  np_registry registry;
  uintptr_t chunk_mask;      /* chunk size - 1: a pointer's chunk base without a load */
  NP_ATOMIC(uint64_t) chunk_epoch; /* chunks deleted, ever: invalidates what callers
                                      remember of chunks (np_tcache.recent_chunks) */
  unsigned n_arenas;
  np_arena *arenas;          /* [n_arenas], the caller's memory (np_pool_init) */
  /* Settings (np_config's, as the pool uses them) */
  uint64_t decay_ns;         /* dirty_decay_ms in ns; 0: release at once, retain nothing */
  size_t retained_max;
  np_run_placement run_placement;
  int release_empty_init_chunks;
  /* Called (arena lock held) when an arena that had nothing dirty gets
   * something to purge: the background purger's wake-up (np_pool_on_dirty). */
  void (*on_dirty)(void *arg);
  void *on_dirty_arg;
} np_pool;

/* ---- The pool's entry points ----------------------------------------------- */
/* Geometry and settings from cfg (checked by the caller), the registry, and
 * n arenas in `arenas` (memory for n). NP_OK, or NP_ERR_NO_MEMORY with
 * whatever was made given back by np_pool_destroy. */
NP_INTERNAL int np_pool_init(np_pool *p, const np_config *cfg, np_arena *arenas, unsigned n);
/* Unmaps every arena's chunks, huge blocks and retained ranges. */
NP_INTERNAL void np_pool_destroy(np_pool *p);
/* fork(): every lock of the pool, in the order the code nests them (each
 * arena's lock, then its small-class locks; the registry's last: it is taken
 * under an arena lock), held by the forking thread across the fork; unlock:
 * the reverse, in the parent and the child. */
NP_INTERNAL void np_pool_fork_lock(np_pool *p);
NP_INTERNAL void np_pool_fork_unlock(np_pool *p);
/* fn(arg) is called when an arena starts to hold dirty memory (NULL: none). */
NP_INTERNAL void np_pool_on_dirty(np_pool *p, void (*fn)(void *), void *arg);


static inline char *np_chunk_base(const np_chunk *c) { return c->region.base; }

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

/* Finds the block that starts at ptr in chunk c of p: the page map entry, then
 * (small blocks) the subpage's element by a multiplication. NP_OK, or why ptr
 * is no block start (a free page: NP_ERR_DOUBLE_FREE). Reads only, no lock:
 * exact for a live block; the arena checks again under its locks. */
static inline int np_chunk_find_block(const np_pool *p, const np_chunk *c, const void *ptr,
                                      np_block_ref *ref) {
  const unsigned page_shift = p->sc.page_shift;
  size_t off = (uintptr_t)ptr & p->chunk_mask;
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


/* arena.c */
/* A block of class idx (a pooled class), tagged NP_TAG_OUT | owner. */
NP_INTERNAL void *np_arena_alloc(np_arena *arena, unsigned idx, np_block_tag owner);
/* A huge block (whole chunks of address space of its own, a retained range
 * or a new mapping) of size bytes at a multiple of alignment (a power of two;
 * at least the chunk size is used); NP_ZERO_NEEDED: zeroed (a new mapping
 * is already). */
typedef enum np_zero { NP_ZERO_NOT_NEEDED, NP_ZERO_NEEDED } np_zero;
NP_INTERNAL void *np_arena_alloc_huge(np_arena *arena, size_t size, size_t alignment, np_zero zero);
/* The bytes a huge block of size holds (its mapping: whole OS pages, at
 * least one); 0 if that overflows. */
NP_INTERNAL size_t np_huge_block_size(size_t size);
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
NP_INTERNAL void np_arena_free_cached(np_pool *p, void *const *blocks, unsigned n);
NP_INTERNAL np_arena *np_arena_least_used(np_pool *p);
NP_INTERNAL void np_arena_stats_add(np_arena *arena, np_stats *out);

/* purge.c: dirty memory back to the system on the decay schedule. */
/* Purges what is due at now (all: everything dirty); arena lock held.
 * Returns the arena's next due time (0: nothing dirty). */
NP_INTERNAL uint64_t np_arena_purge(np_arena *arena, uint64_t now, int all);
NP_INTERNAL size_t np_arena_dirty_bytes(const np_arena *arena); /* arena lock held */
/* A mapping failed: every arena's retained ranges (own's first) go back to
 * the system, each arena's under its lock alone. No arena lock held on
 * entry. Returns the bytes unmapped (0: a retry would fail the same way). */
NP_INTERNAL size_t np_release_retained(np_pool *p, np_arena *own);
/* Arena activity: purges what is due. Arena lock held. */
static inline void np_purge_tick(np_arena *arena) {
  if (__builtin_expect(arena->next_purge_ns != 0, 0)) {
    uint64_t now = np_clock_ns();
    if (now >= arena->next_purge_ns) np_arena_purge(arena, now, 0);
  }
}

/* The error for a free of ptr whose registry slot holds r, which is not the
 * region ptr was found in (NULL, the released-huge mark, another region's): a
 * double free where ptr is the start of a huge block given back, else a
 * pointer npool does not know. */
static inline int np_free_of_released(const np_pool *p, const np_region *r, const void *ptr) {
  return r == &np_registry_released_huge && ((uintptr_t)ptr & p->chunk_mask) == 0 ? NP_ERR_DOUBLE_FREE
                                                                                  : NP_ERR_FOREIGN_POINTER;
}

#ifdef __cplusplus
}
#endif
#endif
