/*
 * npool: Netty's pooled allocator (arenas, chunks of pages, runs, subpages,
 * chunk lists grouped by usage, jemalloc-style size classes) as a C library.
 *
 * Quick start:
 *
 *   np_config cfg = np_config_default();
 *   np_allocator *a;
 *   int rc = np_allocator_create(&cfg, &a);
 *   if (rc != NP_OK) { fprintf(stderr, "npool: %s\n", np_strerror(rc)); ... }
 *   void *p = np_alloc(a, 100);          // NULL + errno ENOMEM when memory runs out
 *   rc = np_free(a, p);                  // NP_OK, or an error for a bad pointer
 *   np_allocator_destroy(a);             // returns every mapping to the system
 *
 * Every function is safe to call from any thread; a block may be freed by a
 * thread other than the one that allocated it.
 */
#ifndef NPOOL_H
#define NPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Public symbols stay visible when the library is built with hidden visibility. */
#define NP_API __attribute__((visibility("default")))

/* ---- Errors --------------------------------------------------------------
 * Functions that can fail return one of these codes; np_strerror() names it. */
typedef enum np_error {
  NP_OK = 0,
  NP_ERR_NULL_ARGUMENT,       /* a required pointer argument was NULL */
  NP_ERR_PAGE_SIZE,           /* page_size not a power of two or below 4096 */
  NP_ERR_MAX_ORDER,           /* max_order above 14 */
  NP_ERR_CHUNK_SIZE,          /* page_size << max_order above 1 GiB */
  NP_ERR_ALIGNMENT,           /* alignment not 0 or a power of two up to page_size */
  NP_ERR_ARENAS,              /* arena count out of range */
  NP_ERR_CACHE,               /* thread-cache setting out of range */
  NP_ERR_NO_MEMORY,           /* the system refused memory (mmap failed) */
  NP_ERR_FOREIGN_POINTER,     /* pointer is not inside memory of this allocator */
  NP_ERR_NOT_BLOCK_START,     /* pointer is inside a block, not at its start */
  NP_ERR_DOUBLE_FREE,         /* block is already free */
  NP_ERR_CONFIG_KEY,          /* np_config_set: no setting has that name */
  NP_ERR_CONFIG_VALUE,        /* np_config_set: the value does not parse or is out of range */
  NP_ERR_LEAK_DETECTION,      /* leak_detection not a level, or leak_sampling_interval 0 */
  NP_ERR_ARENA_INDEX,         /* np_allocator_arena_stats: no arena with that index */
  NP_ERR_OUTPUT,              /* np_stats_print: writing to the stream failed */
  NP_ERR_REFCNT,              /* buffer: used after release, or a count change below 0,
                               * past its maximum or by 0 (npool_buf.h) */
  NP_ERR_INDEX,               /* buffer: index or length out of range, or reading past
                               * the writer index */
  NP_ERR_MAX_CAPACITY,        /* buffer: a write or growth past the max capacity */
  NP_ERR__COUNT
} np_error;

/* A human-readable message for an error code (never NULL). */
NP_API const char *np_strerror(int code);

/* ---- Configuration --------------------------------------------------------
 * Every setting has a name, a default and a one-line description in one table
 * (core/base/config.c); README.md lists them. A program sets them in the struct, by
 * name (np_config_set), from a "key:value,key:value" string, or from the
 * NPOOL_CONF environment variable (np_config_from_env). */

/* Leak detection of pooled buffers (npool_buf.h), Netty's levels. */
typedef enum np_leak_level {
  NP_LEAK_DISABLED = 0, /* no tracking */
  NP_LEAK_SIMPLE,       /* a sample of buffers (1 in leak_sampling_interval): creation site */
  NP_LEAK_ADVANCED,     /* the same sample: creation site and recent accesses */
  NP_LEAK_PARANOID      /* every buffer: creation site and recent accesses */
} np_leak_level;

/* What npool's malloc (npool_malloc.h, libnpool_malloc.so) does when free,
 * realloc or another of its functions is given a pointer that is not a live
 * block (a double free, a pointer inside a block, a foreign pointer). np_free
 * itself always just returns the error code. Every mode leaves the pool
 * unchanged and counts the pointer (np_stats.invalid_frees). */
typedef enum np_invalid_free_mode {
  NP_INVALID_FREE_REPORT = 0, /* one line on stderr naming the first such pointer and
                               * what was wrong; later ones only counted (default) */
  NP_INVALID_FREE_ABORT,      /* that line for the pointer, then abort() (glibc's way) */
  NP_INVALID_FREE_IGNORE      /* no message, only counted */
} np_invalid_free_mode;

/* Where the arena puts a run of pages (a normal block, or a small class's
 * run): best fit, the arena's best-fitting free run and the lowest-addressed
 * chunk holding one (the default: live runs pack into the fewest chunks, the
 * others empty and go back); netty, Netty's chunk lists in its order (q050,
 * q025, q000, qInit, q075). */
typedef enum np_run_placement {
  NP_PLACEMENT_BEST_FIT = 0,
  NP_PLACEMENT_NETTY
} np_run_placement;

typedef struct np_config {
  size_t page_size;   /* bytes per page: a power of two, >= 4096 (default 8192) */
  unsigned max_order; /* chunk = page_size << max_order; <= 14 (default 9: 4 MiB) */
  size_t alignment;   /* 0, or a power of two <= page_size every block is aligned to */
  unsigned arenas;    /* number of arenas (<= 1024); each thread binds to the one
                       * with the fewest threads. 0: 2 x cores, capped so that 3
                       * chunks per arena fit in half the memory */
  /* Netty keeps a completely free chunk that never left qInit forever (a known
   * problem). Non-zero releases such a chunk to the system as well. */
  int release_empty_init_chunks;
  /* Thread caches (Netty's PoolThreadCache); entries are rounded up to a power
   * of two, 0 turns a kind of cache off. */
  unsigned small_cache_size;          /* per small class (default 256) */
  unsigned normal_cache_size;         /* per cached normal class (default 64) */
  size_t max_cached_buffer_capacity;  /* largest normal size cached (default 32 KiB) */
  unsigned cache_trim_interval;       /* cache lookups between trims (default 8192), >= 1 */
  /* Non-zero (default): a trim frees no more of a class than the entries it
   * left unused through the interval (its low-water mark), so a working set
   * in use stays cached; 0: Netty's amount (capacity minus allocations). */
  int trim_low_water;
  /* Blocks a cache miss takes from the arena at once (default 0: half the
   * capacity, at most 64 for small and 8 for normal classes, and at most
   * 32 KiB of blocks; at most 64); 1 is Netty's one block per miss. */
  unsigned cache_refill_batch;
  /* Normal classes above max_cached_buffer_capacity, up to this size (and the
   * chunk size), are cached too, with room for this many bytes of blocks per
   * class (at least one block; a class starts at one and grows to its room as
   * its cache overflows under cache_max_bytes); default 1 MiB, 0: Netty's,
   * not cached. */
  size_t large_cache_bytes;
  /* Leak detection of pooled buffers (default NP_LEAK_SIMPLE, 1 in 128 sampled). */
  np_leak_level leak_detection;
  unsigned leak_sampling_interval;    /* >= 1 */
  /* Non-zero: np_allocator_destroy prints np_stats_print's text to stderr;
   * the default allocator (never destroyed) prints at process exit. */
  int stats_print;
  /* npool's malloc and a bad pointer: report, abort or ignore (above). */
  np_invalid_free_mode invalid_free;
  /* Giving memory back (jemalloc's names). Emptied chunks and freed huge
   * blocks stay mapped for reuse, and free pages inside chunks stay resident,
   * until they have been unused for dirty_decay_ms (default 1000, at most
   * 3600000); then they are unmapped or madvise(MADV_DONTNEED)ed. 0: released
   * at once (Netty's behaviour). Purging happens on allocator activity, by a
   * background thread with background_purge (default off), and all at once
   * by np_allocator_purge. */
  unsigned dirty_decay_ms;
  int background_purge;
  size_t retained_max;  /* bytes each arena keeps mapped for reuse (default 256 MiB) */
  np_run_placement run_placement; /* default NP_PLACEMENT_BEST_FIT (above) */
  /* Capacity a thread's (or a CPU's) cache classes may gain, in bytes of
   * blocks, on top of small_cache_size / normal_cache_size: a class whose
   * stack overflows doubles its capacity (up to 8x) while the cache's growth
   * stays within this, and halves it again at a trim that finds entries
   * unused (tcmalloc's idea). Default 2 MiB; 0: Netty's fixed capacities. */
  size_t cache_grow_bytes;
  /* Bytes of blocks one cache (a thread's; a CPU's with per-CPU caches) may
   * hold: a class whose stack overflows while its cache holds this much does
   * not grow, and gives half of itself back, and so does the class holding
   * the most (to the arena; per CPU, to the transfer cache first). Default
   * 2 MiB; 0: no bound but the classes' capacities. */
  size_t cache_max_bytes;
  /* With per-CPU caches (rseq): bytes of free blocks per size class that the
   * transfer cache between the CPUs and the arenas holds (tcmalloc's transfer
   * cache: a CPU's overflow reaches a CPU that misses without the arenas'
   * locks). Default 64 KiB (at least one refill batch); 0: none, overflows
   * go to the arenas. */
  size_t transfer_cache_bytes;
  /* Every free is checked, and a second free of a block is refused. Default
   * 0: the free's claim of a cached block is a plain load and store of its
   * free mark, which refuses every double free except two frees of one block
   * at the same instant by two threads (a data race in the caller: both may
   * succeed). Non-zero: the claim is one atomic exchange, exactly one of
   * such racing frees succeeds; it costs a locked instruction per free. */
  int exact_double_free;
} np_config;

/* Netty's defaults: 8 KiB pages, 4 MiB chunks, Netty's qInit behaviour. */
NP_API np_config np_config_default(void);

/* Sets one setting by its name (the field's name, e.g. "page_size") from text:
 * sizes are a number with an optional k/K, m/M or g/G suffix (binary: k = 1024);
 * counts a plain number; booleans true/false/1/0; leak_detection
 * disabled/simple/advanced/paranoid. Returns NP_OK, NP_ERR_CONFIG_KEY (no such
 * setting), NP_ERR_CONFIG_VALUE (the value does not parse, or is out of that
 * setting's own range) or NP_ERR_NULL_ARGUMENT; *cfg is unchanged on error.
 * How settings combine (page_size << max_order, alignment <= page_size) is
 * checked by np_allocator_create. */
NP_API int np_config_set(np_config *cfg, const char *key, const char *value);

/* Applies "key:value,key:value,..." (jemalloc's MALLOC_CONF syntax) to *cfg.
 * Every item is tried: an unknown key, a bad value or an item without ':' is
 * reported by name through report(ctx, message) (NULL: to stderr, prefixed
 * "npool: ") and leaves that setting as it was; the other items still apply.
 * Returns NP_OK, or the error of the first item that failed. conf NULL or ""
 * changes nothing. */
NP_API int np_config_from_string(np_config *cfg, const char *conf,
                                 void (*report)(void *ctx, const char *msg), void *ctx);

/* np_config_default() with the NPOOL_CONF environment variable applied
 * (np_config_from_string; problems reported to stderr). */
NP_API np_config np_config_from_env(void);

/* ---- Allocator ------------------------------------------------------------ */
typedef struct np_allocator np_allocator;

/* Validates cfg and creates an allocator in *out. Returns NP_OK or the error
 * naming the first invalid field; *out is untouched on error. */
NP_API int np_allocator_create(const np_config *cfg, np_allocator **out);

/* Returns every mapping (chunks, huge blocks, metadata) to the system. Blocks
 * still allocated become invalid. NULL is ignored. The destroy hooks run
 * first (np_on_allocator_destroy). */
NP_API void np_allocator_destroy(np_allocator *a);

/* The settings a was created with (read-only; valid until a is destroyed),
 * or NULL for a NULL a. */
NP_API const np_config *np_allocator_config(const np_allocator *a);

/* Registers hook to run at the start of every np_allocator_destroy, with
 * the allocator still whole: for libraries on npool that keep records per
 * allocator (pooled buffers' leak detector reports there). Process-wide, at
 * most NP_MAX_DESTROY_HOOKS hooks, in the order registered; registering a
 * hook again changes nothing. NP_OK, NP_ERR_NULL_ARGUMENT, or
 * NP_ERR_NO_MEMORY when every slot is taken. Thread-safe. */
#define NP_MAX_DESTROY_HOOKS 4
typedef void (*np_destroy_hook)(np_allocator *a);
NP_API int np_on_allocator_destroy(np_destroy_hook hook);

/* The process-wide allocator (Netty's PooledByteBufAllocator.DEFAULT),
 * created on first use from np_config_from_env() (the defaults with the
 * NPOOL_CONF environment variable applied; settings that do not combine are
 * reported on stderr and the defaults used) and never destroyed: with
 * stats_print set, its stats go to stderr at process exit. It is also the
 * allocator behind npool's malloc (npool_malloc.h). Thread-safe.
 * NULL with errno ENOMEM if it could not be created. */
NP_API np_allocator *np_default_allocator(void);

/* Allocates size bytes (0 gives the smallest class). Returns NULL with errno
 * ENOMEM when the system has no memory for it. */
NP_API void *np_alloc(np_allocator *a, size_t size);

/* Allocates size bytes at a multiple of alignment (a power of two, any size;
 * EINVAL otherwise). Up to the page size it is a pooled block of the first
 * size class that the alignment divides (at most twice the size); above the
 * page size the block is a mapping of its own. NULL with errno ENOMEM when
 * the system has no memory for it. Freed with np_free. */
NP_API void *np_alloc_aligned(np_allocator *a, size_t alignment, size_t size);

/* count * size bytes, zeroed (huge blocks are new mappings: not written).
 * NULL with errno ENOMEM when the product overflows or memory runs out. */
NP_API void *np_calloc(np_allocator *a, size_t count, size_t size);

/* Resizes a live block, keeping its first min(old, new) bytes: in place while
 * the block holds size and keeping it wastes less than half of it; otherwise
 * a new block, a copy and the old block freed. ptr NULL: np_alloc. Returns
 * the block, or NULL with the block untouched: errno ENOMEM (no memory) or
 * EINVAL (ptr is not a live block of a). */
NP_API void *np_realloc(np_allocator *a, void *ptr, size_t size);

/* Frees a block by pointer alone. NULL is a no-op. A pointer that this
 * allocator did not hand out, one inside a block, or one already freed is
 * reported by the return code and the pool is left unchanged. */
NP_API int np_free(np_allocator *a, void *ptr);

/* Returns cached blocks to the arenas: the calling thread's cache, or with
 * per-CPU caches (rseq) every CPU's, safely while other threads run. (Cached
 * blocks are not lost either way: a thread's cache is emptied when it exits.) */
NP_API void np_thread_cache_flush(np_allocator *a);

/* Returns to the system everything the allocator holds unused: the calling
 * thread's cache is flushed (np_thread_cache_flush), then every arena's
 * retained ranges are unmapped and the free pages of its chunks madvised.
 * npool's malloc_trim calls it. NP_OK, or NP_ERR_NULL_ARGUMENT. */
NP_API int np_allocator_purge(np_allocator *a);

/* "mutex", "ck" or "rseq": the concurrency strategy this library was built with. */
NP_API const char *np_strategy_name(void);

/* The usable size of a live block (its size class for pooled blocks, the
 * page-rounded mapping for huge ones); 0 for a pointer that is not a live block. */
NP_API size_t np_usable_size(np_allocator *a, const void *ptr);

/* The usable size of the block np_alloc(a, size) returns, without
 * allocating (jemalloc's nallocx): size's class for pooled sizes, the
 * page-rounded mapping above the chunk size. 0 for a NULL a. */
NP_API size_t np_good_size(np_allocator *a, size_t size);

/* ---- Statistics ----------------------------------------------------------- */
#define NP_MAX_SIZE_CLASSES 128
#define NP_CHUNK_LISTS 6

enum np_chunk_list_id { NP_QINIT, NP_Q000, NP_Q025, NP_Q050, NP_Q075, NP_Q100 };

typedef struct np_size_kind_stats {
  uint64_t allocations;   /* blocks handed out, ever */
  uint64_t deallocations; /* blocks freed, ever */
  uint64_t active;        /* allocations - deallocations */
  uint64_t active_bytes;  /* usable bytes of the active blocks */
} np_size_kind_stats;

typedef struct np_chunk_list_stats {
  const char *name;     /* "qInit", "q000", ... */
  int min_usage;        /* percent; qInit reports 0 */
  int max_usage;        /* percent */
  uint64_t chunks;      /* chunks on the list */
  uint64_t free_bytes;  /* free bytes summed over those chunks */
  /* usage (percent) of the first min(chunks, NP_STATS_MAX_CHUNKS) chunks */
#define NP_STATS_MAX_CHUNKS 64
  uint8_t usage[NP_STATS_MAX_CHUNKS];
} np_chunk_list_stats;

typedef struct np_small_class_stats {
  uint32_t elem_size;      /* bytes per element */
  uint32_t run_pages;      /* pages in one subpage run */
  uint32_t elems_per_run;  /* elements in one subpage */
  uint64_t subpages;       /* subpages of this class on the class list or full */
  uint64_t elements;       /* elements over those subpages */
  uint64_t free_elements;  /* free elements over those subpages */
} np_small_class_stats;

typedef struct np_stats {
  size_t page_size;
  size_t chunk_size;
  unsigned arenas;
  unsigned size_classes;        /* number of pooled size classes */
  unsigned small_classes;       /* of which small (subpage-backed) */
  np_size_kind_stats small, normal, huge;
  uint64_t chunk_allocations;   /* chunks mapped, ever */
  uint64_t chunk_deallocations; /* chunks returned, ever */
  uint64_t mapped_bytes;        /* bytes currently mapped for chunks and huge blocks in use */
  uint64_t retained_bytes;      /* released chunks and huge blocks kept mapped for reuse */
  uint64_t dirty_bytes;         /* unused and resident: retained, plus free pages of chunks
                                 * not purged since they were freed (an upper bound) */
  uint64_t reused_bytes;        /* retained bytes handed out again instead of mapped, ever */
  uint64_t purged_bytes;        /* bytes given back by purges (unmapped or madvised), ever */
  uint64_t purges;              /* the system calls that did it, ever */
  uint64_t invalid_frees;       /* np_free calls refused with an error */
  uint64_t thread_caches;       /* live thread caches */
  uint64_t cached_bytes;        /* bytes sitting in thread caches (not active) */
  /* The cache settings (np_config): entries per small / normal class, and the
   * largest normal size cached. */
  unsigned small_cache_size, normal_cache_size;
  size_t max_cached_buffer_capacity;
  const char *strategy;         /* np_strategy_name() */
  const char *cache_mode;       /* "per-thread", "per-CPU" (rseq), "off", or
                                 * "per-thread (per-CPU fallback)" when the
                                 * strategy's per-CPU caches cannot run here */
  const char *per_cpu_unavailable; /* why, in that case; "" otherwise */
  np_chunk_list_stats lists[NP_CHUNK_LISTS];
  np_small_class_stats small_class[NP_MAX_SIZE_CLASSES];
  /* Where the bytes are (np_stats_print's "where" line). cached_bytes split: */
  uint64_t thread_cached_bytes;   /* on the thread caches' own stacks */
  uint64_t remote_cached_bytes;   /* freed by another thread than the owner, on their
                                   * way to it (an outbox, the owner's queue) */
  uint64_t cpu_cached_bytes;      /* on per-CPU stacks (rseq) */
  uint64_t transfer_cached_bytes; /* in the transfer cache between them and the arenas */
  /* Free space inside the memory in use: */
  uint64_t subpage_free_bytes;    /* free elements of the small classes' runs */
  uint64_t chunk_free_dirty_bytes;  /* free pages of chunks in use, still resident */
  uint64_t chunk_free_purged_bytes; /* free pages of chunks in use, not resident (never
                                     * touched since mapped, or purged) */
  uint64_t metadata_bytes;        /* mapped for npool's own records: arena metadata,
                                   * thread caches, per-CPU and transfer caches */
  uint64_t huge_tail_bytes;       /* past the huge blocks in use, to the end of the whole
                                   * chunks each spans, where the span was reused from
                                   * retained memory: maybe resident (an upper bound) */
} np_stats;

/* Fills *out with a consistent snapshot summed over all arenas. */
NP_API int np_allocator_stats(np_allocator *a, np_stats *out);

/* One arena's own view (Netty's PoolArenaMetric), in the same struct: its
 * counters count the blocks it handed out and took back, those that went to
 * and came from caches included (so blocks sitting in a cache are active
 * here, and cached_bytes is 0); thread_caches is the number of threads bound
 * to it; invalid_frees is 0 (an allocator-wide count). index < stats.arenas;
 * NP_ERR_ARENA_INDEX otherwise. */
NP_API int np_allocator_arena_stats(np_allocator *a, unsigned index, np_stats *out);

/* Prints everything np_allocator_stats gives, and each arena's counters: human
 * readable (json = 0; small classes only where they have subpages, idle
 * arenas summarised) or one JSON object (json != 0; every small class, every
 * arena). Returns NP_OK, NP_ERR_NULL_ARGUMENT, or NP_ERR_OUTPUT when writing
 * failed. Setting stats_print prints the human form to stderr when the
 * allocator is destroyed. */
NP_API int np_stats_print(np_allocator *a, FILE *out, int json);

#ifdef __cplusplus
}
#endif
#endif /* NPOOL_H */
