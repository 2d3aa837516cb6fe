/*
 * The public allocator API (npool.h): configuration checks, creation and
 * destruction, and the entry points, which find the arena and region for a
 * request and hand over to arena.c.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fast_path.h"

#define MAX_CHUNK_SIZE ((size_t)1 << 30)

/* Each setting against its own range (config.c's table, in field order), then
 * how they combine. */
static int validate(const np_config *c) {
  int rc = np_config_check_each(c);
  if (rc != NP_OK) return rc;
  if (c->page_size > MAX_CHUNK_SIZE || (c->page_size << c->max_order) > MAX_CHUNK_SIZE)
    return NP_ERR_CHUNK_SIZE;
  if (c->alignment > c->page_size) return NP_ERR_ALIGNMENT;
  return NP_OK;
}

/* Netty's default: 2 x cores, but no more than fit 3 chunks each in half the
 * physical memory. */
static unsigned default_arenas(const np_config *cfg) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  uint64_t n = cores > 0 ? 2 * (uint64_t)cores : 2;
  if (pages > 0 && page > 0) {
    uint64_t by_memory = (uint64_t)pages * (uint64_t)page / 2 / (3 * (cfg->page_size << cfg->max_order));
    if (by_memory < n) n = by_memory;
  }
  if (n < 1) n = 1;
  return n > NP_MAX_ARENAS ? NP_MAX_ARENAS : (unsigned)n;
}

int np_allocator_create(const np_config *cfg, np_allocator **out) {
  if (cfg == NULL || out == NULL) return NP_ERR_NULL_ARGUMENT;
  int rc = validate(cfg);
  if (rc != NP_OK) return rc;
  unsigned n_arenas = cfg->arenas ? cfg->arenas : default_arenas(cfg);
  size_t self = sizeof(np_allocator) + n_arenas * sizeof(np_arena);
  np_allocator *a = np_os_map(self);
  if (a == NULL) return NP_ERR_NO_MEMORY;
  a->self_size = self;
  a->cfg = *cfg;
  rc = np_pool_init(&a->pool, &a->cfg, (np_arena *)(a + 1), n_arenas);
  if (rc == NP_OK) rc = np_caches_init(&a->caches, &a->pool, &a->cfg);
  if (rc != NP_OK) {
    np_pool_destroy(&a->pool); /* (what np_pool_init made of it, too) */
    np_os_unmap(a, self);
    return rc;
  }
  np_fork_handlers_register();
  np_thread_slots_register(a); /* a's uid: its threads' way to their caches */
  rc = np_purger_create(a);
  if (rc != NP_OK) {
    np_allocator_destroy(a);
    return rc;
  }
  np_live_allocators_add(a);
  /* The default allocator is being made inside a malloc: its thread starts
   * with a later allocation (np_alloc_slow), when no lock is held. */
  if (!np_default_allocator_creating()) np_purger_start(a);
  *out = a;
  return NP_OK;
}

/* Hooks of the libraries on npool (np_on_allocator_destroy), filled in
 * order; __atomic. */
static np_destroy_hook destroy_hooks[NP_MAX_DESTROY_HOOKS];

int np_on_allocator_destroy(np_destroy_hook hook) {
  if (hook == NULL) return NP_ERR_NULL_ARGUMENT;
  for (int i = 0; i < NP_MAX_DESTROY_HOOKS; i++) {
    np_destroy_hook seen = NULL;
    if (__atomic_compare_exchange_n(&destroy_hooks[i], &seen, hook, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
        seen == hook)
      return NP_OK;
  }
  return NP_ERR_NO_MEMORY;
}

void np_allocator_destroy(np_allocator *a) {
  if (a == NULL) return;
  for (int i = 0; i < NP_MAX_DESTROY_HOOKS; i++) {
    np_destroy_hook hook = __atomic_load_n(&destroy_hooks[i], __ATOMIC_ACQUIRE);
    if (hook == NULL) break;
    hook(a); /* e.g. pooled buffers' leak detector reports a's open buffers */
  }
  if (a->cfg.stats_print) np_stats_print(a, stderr, 0);
  np_purger_destroy(a);
  np_live_allocators_remove(a); /* after this no exiting thread touches a */
  np_caches_destroy(&a->caches);
  np_pool_destroy(&a->pool);
  np_os_unmap(a, a->self_size);
}

/* The arena of a thread without a cache (caching off, or no cache could be
 * made): threads spread round-robin by the order of their first allocation. */
static NP_ATOMIC(unsigned) next_thread_slot;
static NP_TLS unsigned thread_slot_plus_one;

static np_arena *arena_without_cache(np_allocator *a) {
  if (a->pool.n_arenas == 1) return &a->pool.arenas[0];
  if (thread_slot_plus_one == 0)
    thread_slot_plus_one = atomic_fetch_add_explicit(&next_thread_slot, 1, memory_order_relaxed) + 1;
  return &a->pool.arenas[(thread_slot_plus_one - 1) % a->pool.n_arenas];
}

/* The arena the calling thread allocates from: per-CPU caches come with
 * per-CPU arenas, thread caches with the thread's. */
static np_arena *thread_arena(np_allocator *a, np_tcache *tc) {
  if (tc == NULL) return arena_without_cache(a);
  return np_percpu_on(&a->caches) ? np_cpu_cache_arena(&a->caches) : tc->arena;
}

/* Everything np_alloc does not do inline: a cache miss, no cache, per-CPU
 * caches, an uncached class, a huge block. */
__attribute__((noinline)) void *np_alloc_slow(np_allocator *a, size_t size) {
  if (a == NULL) {
    errno = EINVAL;
    return NULL;
  }
  np_purger_start(a);
  np_tcache *tc = np_tcache_get(a, NP_CACHE_FIND_OR_CREATE);
  unsigned idx = np_size_class(&a->pool.sc, size);
  if (idx >= a->pool.sc.n_sizes) return np_arena_alloc_huge(thread_arena(a, tc), size, 0, NP_ZERO_NOT_NEEDED);
  void *p = NULL;
  if (tc && idx < a->caches.n_cached)
    p = np_percpu_on(&a->caches) ? np_cpu_cache_alloc(&a->caches, tc, idx) : np_tcache_alloc_miss(tc, idx);
  if (p) return p;
  p = np_arena_alloc(thread_arena(a, tc), idx, tc && !np_percpu_on(&a->caches) ? tc->id : 0);
  if (p && idx < a->caches.n_cached) np_block_unmark(p); /* a mark from the block's last life */
  return p;
}

void *np_alloc(np_allocator *a, size_t size) { return np_alloc_inline(a, size); }

/* Every block starts at a multiple of the quantum (16: every class is a
 * multiple of it, runs start on pages), or of the configured alignment. */
static size_t natural_alignment(const np_allocator *a) {
  size_t quantum = (size_t)1 << NP_LOG2_QUANTUM;
  return a->cfg.alignment > quantum ? a->cfg.alignment : quantum;
}

void *np_alloc_aligned(np_allocator *a, size_t alignment, size_t size) {
  if (a == NULL || !np_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment <= natural_alignment(a)) return np_alloc(a, size);
  const np_size_classes *sc = &a->pool.sc;
  if (alignment <= sc->page_size) {
    /* Runs start on pages, so an element of a small class is aligned to every
     * power of two (up to the page) that divides the class size, and a normal
     * block to the page: take the first class from max(size, alignment) on
     * that alignment divides. The power of two at or above it is one, so
     * this wastes less than 2x. */
    unsigned idx = np_size_to_index(sc, size > alignment ? size : alignment);
    while (idx < sc->n_small && np_index_to_size(sc, idx) % alignment != 0) idx++;
    if (idx < sc->n_sizes) return np_alloc(a, np_index_to_size(sc, idx));
  }
  /* Beyond the page, or beyond the pooled sizes: a mapping of its own. */
  return np_arena_alloc_huge(thread_arena(a, np_tcache_get(a, NP_CACHE_FIND_OR_CREATE)), size, alignment,
                             NP_ZERO_NOT_NEEDED);
}

void *np_calloc(np_allocator *a, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (a != NULL && np_size_class(&a->pool.sc, total) >= a->pool.sc.n_sizes) /* huge: zeroed unless fresh */
    return np_arena_alloc_huge(thread_arena(a, np_tcache_get(a, NP_CACHE_FIND_OR_CREATE)), total, 0,
                               NP_ZERO_NEEDED);
  void *p = np_alloc(a, total);
  if (p) memset(p, 0, total);
  return p;
}

void *np_realloc(np_allocator *a, void *ptr, size_t size) {
  if (ptr == NULL) return np_alloc(a, size);
  size_t old = np_usable_size(a, ptr); /* 0: not a live block (or a is NULL) */
  if (old == 0) {
    errno = EINVAL;
    return NULL;
  }
  /* In place while the block holds size and keeping it wastes less than half,
   * or when size would get this very class again. */
  unsigned idx = np_size_class(&a->pool.sc, size);
  if (size <= old &&
      (size >= old / 2 || (idx < a->pool.sc.n_sizes && np_index_to_size(&a->pool.sc, idx) == old)))
    return ptr;
  void *moved = np_alloc(a, size);
  if (moved == NULL) return NULL; /* errno ENOMEM; the block is untouched */
  memcpy(moved, ptr, size < old ? size : old);
  np_free(a, ptr);
  return moved;
}

__attribute__((noinline)) int np_free_refused(np_allocator *a, int rc) {
  atomic_fetch_add_explicit(&a->invalid_frees, 1, memory_order_relaxed);
  return rc;
}

/* A claimed block of a cached class into a cache; 0: it goes to the arena. */
static bool cache_free(np_allocator *a, void *ptr, unsigned idx, np_block_tag tag) {
  if (np_percpu_on(&a->caches))
    return np_cpu_cache_free(&a->caches, np_tcache_get(a, NP_CACHE_FIND_OR_CREATE), ptr, idx);
  /* A thread that only frees gets a cache too: its frees of other threads'
   * blocks are counted there (not on a shared counter) and batched. */
  np_tcache *tc = np_tcache_get(a, NP_CACHE_FIND_OR_CREATE);
  if (tc && (tag & NP_TAG_OWNER_MASK) == tc->id && np_tcache_push(tc, idx, ptr)) return 1;
  return np_tcache_free_slow(&a->caches, tc, ptr, idx, tag);
}

/* Every free that is not a push on the caller's own cache: a huge block, a
 * normal block, another thread's block, per-CPU caches, a full cache, an
 * uncached class, a bad pointer. The block is found here (the fast path's
 * findings are not kept: what fails it is rare, or pays the arena's locks) and
 * goes down to the arena as it is. */
__attribute__((noinline)) int np_free_slow(np_allocator *a, void *ptr) {
  np_region *r = np_registry_get(&a->pool.registry, ptr);
  if (r == NULL || r->kind == NP_REGION_RELEASED_HUGE)
    return np_free_refused(a, np_free_of_released(&a->pool, r, ptr));
  if (r->kind != NP_REGION_CHUNK) {
    int rc = np_arena_free_huge(r->arena, r, ptr);
    return rc == NP_OK ? rc : np_free_refused(a, rc);
  }
  np_block_ref ref;
  int rc = np_chunk_find_block(&a->pool, (np_chunk *)r, ptr, &ref);
  if (rc != NP_OK) return np_free_refused(a, rc);
  np_block_tag tag = NP_LOAD(ref.tag);
  if (!(tag & NP_TAG_OUT)) return np_free_refused(a, NP_ERR_DOUBLE_FREE); /* the arena's */
  if (ref.size_idx < a->caches.n_cached) {
    if (!np_block_claim(&a->caches, ptr)) return np_free_refused(a, NP_ERR_DOUBLE_FREE); /* cached */
    if (cache_free(a, ptr, ref.size_idx, tag)) return NP_OK;
  }
  rc = np_arena_free_block(r->arena, ptr, &ref);
  return rc == NP_OK ? rc : np_free_refused(a, rc);
}

/* A claimed block of a live run (the fast path validated it) that no cache
 * takes: the arena's. Only the arena's own record of it is looked up (its
 * chunk stays: the block is still out of the arena). */
static int claimed_to_arena(np_allocator *a, void *ptr) {
  np_region *r = np_registry_get(&a->pool.registry, ptr);
  np_block_ref ref;
  np_chunk_find_block(&a->pool, (np_chunk *)r, ptr, &ref);
  int rc = np_arena_free_block(r->arena, ptr, &ref);
  return rc == NP_OK ? rc : np_free_refused(a, rc);
}

/* A claimed block for the caller's own full stack (np_tcache_push_full). */
__attribute__((noinline)) int np_free_push_on_full(np_allocator *a, np_tcache *tc, void *ptr, unsigned idx) {
  if (np_tcache_push_full(tc, idx, ptr)) return NP_OK;
  return claimed_to_arena(a, ptr); /* a capacity of 0 (a class without a cache never gets here) */
}

/* A claimed block whose CPU stack was full: np_cpu_cache_free drains it (or
 * finds the CPU under maintenance: the arena). */
__attribute__((noinline)) int np_free_to_cpu_cache_slow(np_allocator *a, np_tcache *tc, void *ptr,
                                                       unsigned idx) {
  if (np_cpu_cache_free(&a->caches, tc, ptr, idx)) return NP_OK;
  return claimed_to_arena(a, ptr); /* the CPU is under maintenance */
}

/* A validated block of a thread-cache class that is not a push on the
 * caller's own stack: another thread's block (it goes to its owner's queue,
 * through this thread's outbox where the strategy batches). What the fast
 * path found comes along: the block is not looked up again, nor the caller's
 * cache (only for the arena, if its owner is gone or its queue full). */
__attribute__((noinline)) int np_free_not_own(np_allocator *a, np_tcache *tc, void *ptr, unsigned cls,
                                             np_block_tag tag) {
  if (!np_block_claim(&a->caches, ptr)) return np_free_refused(a, NP_ERR_DOUBLE_FREE);
  if (np_tcache_free_slow(&a->caches, tc, ptr, cls, tag)) return NP_OK;
  return claimed_to_arena(a, ptr);
}

/* The API's entry points are the inline fast paths (fast_path.h). */
int np_free(np_allocator *a, void *ptr) { return np_free_inline(a, ptr); }

void np_thread_cache_flush(np_allocator *a) {
  if (a == NULL) return;
  if (np_percpu_on(&a->caches)) {
    np_cpu_cache_flush_all(&a->caches, np_tcache_get(a, NP_CACHE_FIND_OR_CREATE));
    return;
  }
  np_tcache *tc = np_tcache_get(a, NP_CACHE_FIND);
  if (tc) np_tcache_flush(tc);
}

int np_allocator_purge(np_allocator *a) {
  if (a == NULL) return NP_ERR_NULL_ARGUMENT;
  np_thread_cache_flush(a);
  uint64_t now = np_clock_ns();
  for (unsigned i = 0; i < a->pool.n_arenas; i++) {
    np_lock_acquire(&a->pool.arenas[i].lock);
    np_arena_purge(&a->pool.arenas[i], now, 1);
    np_lock_release(&a->pool.arenas[i].lock);
  }
  return NP_OK;
}

const char *np_strategy_name(void) { return NP_STRATEGY_NAME; }

const np_config *np_allocator_config(const np_allocator *a) { return a ? &a->cfg : NULL; }

size_t np_good_size(np_allocator *a, size_t size) {
  if (a == NULL) return 0;
  if (size <= a->pool.sc.chunk_size) return np_normalize_size(&a->pool.sc, size);
  return np_huge_block_size(size); /* a huge block: its own mapping */
}

/* The free path's checks, reading only: 0 for anything but a live block. */
size_t np_usable_size(np_allocator *a, const void *ptr) {
  if (a == NULL || ptr == NULL) return 0;
  np_region *r = np_registry_get(&a->pool.registry, ptr);
  if (r == NULL) return 0;
  if (r->kind != NP_REGION_CHUNK) return ptr == r->base ? r->size : 0;
  np_block_ref ref;
  if (np_chunk_find_block(&a->pool, (np_chunk *)r, ptr, &ref) != NP_OK || !(NP_LOAD(ref.tag) & NP_TAG_OUT))
    return 0;
  if (ref.size_idx < a->caches.n_cached && np_block_is_marked(&a->caches, (void *)ptr)) return 0; /* cached */
  return np_index_to_size(&a->pool.sc, ref.size_idx);
}

/* What np_allocator_stats and np_allocator_arena_stats share: the geometry,
 * the settings, the names and the strategy. */
static void stats_common(np_allocator *a, np_stats *out) {
  memset(out, 0, sizeof *out);
  const np_size_classes *sc = &a->pool.sc;
  out->page_size = sc->page_size;
  out->chunk_size = sc->chunk_size;
  out->arenas = a->pool.n_arenas;
  out->size_classes = sc->n_sizes;
  out->small_classes = sc->n_small;
  out->small_cache_size = a->cfg.small_cache_size;
  out->normal_cache_size = a->cfg.normal_cache_size;
  out->max_cached_buffer_capacity = a->cfg.max_cached_buffer_capacity;
  const np_chunk_list *proto = a->pool.arenas[0].lists;
  for (int i = 0; i < NP_CHUNK_LISTS; i++) {
    out->lists[i].name = proto[i].name;
    out->lists[i].min_usage = proto[i].min_usage < 0 ? 0 : proto[i].min_usage;
    out->lists[i].max_usage = proto[i].max_usage > 100 ? 100 : proto[i].max_usage;
  }
  for (unsigned i = 0; i < sc->n_small; i++) {
    out->small_class[i].elem_size = (uint32_t)np_index_to_size(sc, i);
    out->small_class[i].run_pages = a->pool.small_runs[i].run_pages;
    out->small_class[i].elems_per_run = a->pool.small_runs[i].max_elems;
  }
  out->strategy = NP_STRATEGY_NAME;
  const char *why_not = np_percpu_unavailable_reason(); /* NULL: the strategy has none */
  out->cache_mode = a->caches.n_cached == 0   ? "off"
                    : np_percpu_on(&a->caches) ? "per-CPU"
                    : why_not          ? "per-thread (per-CPU fallback)"
                                       : "per-thread";
  out->per_cpu_unavailable = why_not && !np_percpu_on(&a->caches) ? why_not : "";
}

int np_allocator_stats(np_allocator *a, np_stats *out) {
  if (a == NULL || out == NULL) return NP_ERR_NULL_ARGUMENT;
  stats_common(a, out);
  out->invalid_frees = atomic_load_explicit(&a->invalid_frees, memory_order_relaxed);
  for (unsigned i = 0; i < a->pool.n_arenas; i++) np_arena_stats_add(&a->pool.arenas[i], out);
  np_caches_stats_add(&a->caches, out);
  return NP_OK;
}

int np_allocator_arena_stats(np_allocator *a, unsigned index, np_stats *out) {
  if (a == NULL || out == NULL) return NP_ERR_NULL_ARGUMENT;
  if (index >= a->pool.n_arenas) return NP_ERR_ARENA_INDEX;
  stats_common(a, out);
  np_arena_stats_add(&a->pool.arenas[index], out);
  out->thread_caches = atomic_load_explicit(&a->pool.arenas[index].bound_threads, memory_order_relaxed);
  return NP_OK;
}
