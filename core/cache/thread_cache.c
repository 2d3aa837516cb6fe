/*
 * Thread caches: Netty's PoolThreadCache policy, over the strategy's remote lists.
 *
 *   thread T's cache (one mapping)
 *   class 0  [stack: T's own frees, LIFO]  [np_remote: frees by other threads]
 *   class 1  [ ...                      ]  [ ...                           ]
 *   ...      small classes (small_cache_size entries), then normal classes up
 *            to max_cached_buffer_capacity (normal_cache_size entries), then
 *            large ones up to large_cache_bytes (that many bytes of blocks);
 *            a class that overflows may grow (cache_capacity.c)
 *
 * - Allocation (np_tcache_pop, inline): pop T's stack. On a miss, take
 *   T's whole remote list (one take: what does not fit on the stack goes back
 *   to the arena in batches); still nothing: a batch of refill blocks from
 *   T's arena with one acquisition of its locks (tagged with T's cache id: T
 *   owns them from then on), one for the caller, the rest cached.
 * - Free: np_free has claimed the block (its free mark). The tag names its
 *   owner: T's own blocks go on T's stack (a full stack doubles its capacity
 *   while cache_grow_bytes allows, or else gives its older half back to the
 *   arena in one batch; while T's stacks hold cache_max_bytes, it gives half
 *   back and the class holding the most gives up half its capacity); another
 *   thread's go onto the owner's remote list (only the owner takes from it),
 *   up to the class's capacity. A full list, a dead owner, or no owner: the
 *   arena.
 * - Trim: every cache_trim_interval lookups (hits and misses), each class frees
 *   to the arena Netty's amount, its unused room (capacity minus the hits since
 *   the last trim; MemoryRegionCache.trim), but with trim_low_water (the
 *   default) never more than the class's low-water mark: entries that sat in
 *   the cache through the whole interval. A working set in use keeps its blocks.
 *   A grown class that had such entries, or no hits, halves its capacity.
 * - Thread exit: the cache is emptied to the arenas, marked dead and its
 *   remote lists emptied once more; frees of its blocks go straight to the
 *   arena after that. A producer checks `alive` before its push and again
 *   after it (seq_cst; the push is a CAS or a critical section): if the owner
 *   died in between, the producer takes the list itself and frees it to the
 *   arena. Either the owner's last take or the producer's own sees every
 *   block, and nobody waits for anybody (a producer preempted mid-push holds
 *   up no exiting owner). Dead caches are reused by later threads.
 *
 * thread_slots.c finds a thread's cache; fork.c retires the caches of threads
 * that did not survive a fork.
 */
#include <string.h>

#include "core/cache/cache_internal.h"

#define FLUSH_BATCH 64       /* blocks per np_arena_free_cached from a remote list */
#define REFILL_SMALL_MAX 64  /* blocks per miss, small classes ... */
#define REFILL_NORMAL_MAX 8  /* ... and normal ones (8 KiB to 32 KiB each) */
#define REFILL_MAX REFILL_SMALL_MAX

static unsigned next_pow2(unsigned v) {
  unsigned p = 1;
  while (p < v) p <<= 1;
  return p;
}

/* Blocks a miss takes: cache_refill_batch, or (0) half the capacity up to a
 * cap per kind and at most REFILL_BYTES of blocks (a refill marks, so
 * touches, every block it caches: a class used once must not pull in a
 * megabyte); never more than the capacity. */
#define REFILL_BYTES (32 * 1024)
static uint32_t refill_of(const np_config *cfg, unsigned cap, int small, size_t size) {
  unsigned n = cfg->cache_refill_batch;
  if (n == 0) {
    n = cap / 2;
    unsigned max = small ? REFILL_SMALL_MAX : REFILL_NORMAL_MAX;
    if (n > max) n = max;
    if (n > REFILL_BYTES / size) n = (unsigned)(REFILL_BYTES / size);
  }
  if (n > REFILL_MAX) n = REFILL_MAX;
  if (n > cap) n = cap;
  return n ? n : 1;
}

/* Entries of a large class (above max_cached_buffer_capacity): room for
 * large_cache_bytes of blocks, at least one, at most normal_cache_size; a
 * power of two at or below that, so that the room is never exceeded. */
static unsigned large_cap(const np_config *cfg, size_t size) {
  size_t n = cfg->large_cache_bytes / size;
  if (n > cfg->normal_cache_size) n = cfg->normal_cache_size;
  unsigned p = 1;
  while ((size_t)p * 2 <= n) p <<= 1;
  return p;
}

/* A thread cache class's configured capacity (0: not cached, or per-CPU
 * caches serve the allocator); its current one (cc->cap, grown past this by
 * cache_capacity.c) is the owner's to read and change. */
static uint32_t base_cap(const np_caches *caches, unsigned c) {
  return np_percpu_on(caches) ? 0 : caches->cache_cap[c];
}

void np_tcaches_init(np_caches *caches) {
  const np_config *cfg = caches->cfg;
  caches->n_cached = 0;
  for (unsigned i = 0; i < caches->pool->sc.n_sizes; i++) {
    size_t size = np_index_to_size(&caches->pool->sc, i);
    unsigned cap;
    int small = np_is_small_index(&caches->pool->sc, i);
    if (small) cap = cfg->small_cache_size;
    else if (size <= cfg->max_cached_buffer_capacity) cap = cfg->normal_cache_size;
    else if (size <= cfg->large_cache_bytes && cfg->normal_cache_size) cap = large_cap(cfg, size);
    else break;
    caches->cache_cap[i] = cap ? next_pow2(cap) : 0;
    caches->cache_max_cap[i] = caches->cache_cap[i];
    /* A large class starts at one block and grows to its room only as the
     * cache overflows (cache_capacity.c), so that classes a cache does not
     * reuse hold one block, not large_cache_bytes. */
    if (cap && np_cache_class_is_large(caches, i)) caches->cache_cap[i] = 1;
    caches->refill_count[i] = refill_of(cfg, caches->cache_cap[i], small, size);
    if (cap) caches->n_cached = i + 1;
  }
  unsigned table_classes = (unsigned)caches->pool->sc.size2idx_tab[NP_LOOKUP_ENTRIES - 1] + 1;
  /* Every class np_alloc's table gives and np_free's fast path meets (the small ones). */
  np_cache_capacity_init(caches);
  unsigned n = caches->n_cached > table_classes ? caches->n_cached : table_classes;
  caches->n_tc_classes = n > caches->pool->sc.n_small ? n : caches->pool->sc.n_small;
  caches->inline_max_size =
      caches->pool->sc.alignment <= 1024 ? np_index_to_size(&caches->pool->sc, caches->n_tc_classes - 1) : 0;
  np_lock_init(&caches->cache_lock);
}

void np_tcaches_destroy(np_caches *caches) {
  if (caches->tcaches) {
    for (unsigned i = 0; i < caches->tcache_count; i++) {
      np_tcache *tc = atomic_load_explicit(&caches->tcaches[i], memory_order_relaxed);
      for (unsigned c = 0; c < caches->n_cached; c++)
        if (base_cap(caches, c)) np_remote_destroy(&tc->classes[c].remote);
      np_os_unmap(tc, tc->mapped);
    }
    np_os_unmap(caches->tcaches, NP_MAX_THREAD_CACHES * sizeof(*caches->tcaches));
  }
  np_lock_destroy(&caches->cache_lock);
}

/* ---- Creating and retiring caches ------------------------------------------- */

/* The most entries a class of a thread cache may grow to (its stack's
 * storage): none when per-CPU caches serve the allocator (a thread's cache
 * then only binds its arena and keeps counts). */
static uint32_t thread_max_cap(np_caches *caches, unsigned c) {
  return np_percpu_on(caches) ? 0 : caches->cache_max_cap[c];
}

static size_t tcache_layout(np_caches *caches) {
  size_t bytes = sizeof(np_tcache) + caches->n_tc_classes * sizeof(np_cache_class);
  for (unsigned c = 0; c < caches->n_cached; c++)
    bytes += thread_max_cap(caches, c) * sizeof(void *);
  return bytes;
}

static np_tcache *tcache_new(np_caches *caches) {
  size_t bytes = tcache_layout(caches);
  np_tcache *tc = np_os_map(bytes);
  if (tc == NULL) return NULL;
  tc->caches = caches;
  tc->mapped = bytes;
  char *mem = (char *)&tc->classes[caches->n_tc_classes];
  for (unsigned c = 0; c < caches->n_cached; c++) {
    np_cache_class *cc = &tc->classes[c];
    cc->cap = base_cap(caches, c);
    cc->refill = caches->refill_count[c];
    if (cc->cap == 0) continue;
    cc->stack = (void **)mem;
    mem += thread_max_cap(caches, c) * sizeof(void *);
    /* (a large class's list holds its room: its capacity starts at one block) */
    np_remote_init(&cc->remote, np_cache_class_is_large(caches, c) ? caches->cache_max_cap[c] : cc->cap);
  }
  return tc;
}

np_tcache *np_tcache_acquire(np_caches *caches) {
  np_tcache *tc = NULL;
  np_lock_acquire(&caches->cache_lock);
  if (caches->tcaches == NULL) caches->tcaches = np_os_map(NP_MAX_THREAD_CACHES * sizeof(*caches->tcaches));
  if (caches->tcaches && caches->free_tcaches) {
    tc = caches->free_tcaches;
    caches->free_tcaches = tc->next_free;
  } else if (caches->tcaches && caches->tcache_count < NP_MAX_THREAD_CACHES && (tc = tcache_new(caches))) {
    tc->id = (uint16_t)(caches->tcache_count + 1);
    atomic_store_explicit(&caches->tcaches[caches->tcache_count], tc, memory_order_release);
    caches->tcache_count++;
  }
  np_lock_release(&caches->cache_lock);
  if (tc == NULL) return NULL;
  tc->until_trim = caches->cfg->cache_trim_interval;
  tc->percpu_cpu.cpu = NP_PERCPU_NO_CPU;
  /* (a zeroed entry would be a hit for the addresses of key 0, below the first chunk) */
  np_tcache_forget_chunks(tc, atomic_load_explicit(&caches->pool->chunk_epoch, memory_order_acquire));
  tc->arena = np_arena_least_used(caches->pool);
  atomic_fetch_add_explicit(&tc->arena->bound_threads, 1, memory_order_relaxed);
  atomic_store_explicit(&tc->alive, 1, memory_order_seq_cst);
  return tc;
}

/* ---- Counting the owner's pushes ------------------------------------------------ */

/* The owner's frees onto its own stack are not counted one by one (that store
 * was a tenth of a same-thread pair): with the pops counted (hits), they are
 * what the stack's count says, less what else moved it (count_offset: refills
 * and remote blocks in, flushes out). Per-CPU caches leave the thread's
 * stacks empty and count their pushes. Read by stats on any thread: a
 * snapshot of three counters, as exact as the other counts there. */
static uint64_t own_pushes(const np_caches *caches, const np_cache_class *cc) {
  uint64_t n = NP_LOAD(&cc->pushes);
  if (!np_percpu_on(caches)) n += NP_LOAD(&cc->count) + NP_LOAD(&cc->hits) - NP_LOAD(&cc->count_offset);
  return n;
}

/* Blocks put on (delta > 0) or taken off the stack other than by a push or a pop. */
static void count_moved(np_cache_class *cc, int64_t delta) {
  NP_STORE(&cc->count_offset, cc->count_offset + (uint64_t)delta);
}

/* ---- Giving blocks back to the arena ------------------------------------------ */

static void give_back(np_tcache *tc, np_cache_class *cc, void *const *blocks, unsigned n) {
  np_arena_free_cached(tc->caches->pool, blocks, n);
  NP_STORE(&cc->flushed, cc->flushed + n);
}

/* Frees a remote list (from np_remote_take_all) to the arena, in batches;
 * returns how many blocks it held. The caller counts them as flushed. Each
 * block's link is read before its batch goes: a batch that empties a chunk
 * may unmap it, and a block given back may be another thread's at once. */
static uint32_t free_list_to_arena(np_caches *caches, void *p) {
  void *batch[FLUSH_BATCH];
  unsigned k = 0;
  uint32_t n = 0;
  while (p) {
    batch[k++] = p;
    n++;
    p = np_remote_next(p);
    if (k == FLUSH_BATCH) {
      np_arena_free_cached(caches->pool, batch, k);
      k = 0;
    }
  }
  np_arena_free_cached(caches->pool, batch, k);
  return n;
}

static uint32_t give_back_list(np_tcache *tc, np_cache_class *cc, void *p) {
  uint32_t n = free_list_to_arena(tc->caches, p);
  NP_STORE(&cc->flushed, cc->flushed + n);
  return n;
}

void np_tcache_give_back_list(np_tcache *tc, unsigned idx, void *list) {
  give_back_list(tc, &tc->classes[idx], list);
}

/* Frees the whole remote list (it is never part of a working set: the owner
 * has not touched those blocks since); returns how many fewer than n it held. */
static uint32_t flush_remote(np_tcache *tc, np_cache_class *cc, uint32_t n) {
  uint32_t freed = give_back_list(tc, cc, np_remote_take_all(&cc->remote));
  return freed < n ? n - freed : 0;
}

/* Frees the n oldest entries of the stack (its bottom). */
static void flush_stack(np_tcache *tc, np_cache_class *cc, uint32_t n) {
  uint32_t take = n < cc->count ? n : cc->count;
  give_back(tc, cc, cc->stack, take);
  memmove(cc->stack, cc->stack + take, (cc->count - take) * sizeof(void *));
  count_moved(cc, -(int64_t)take);
  NP_STORE(&cc->count, cc->count - take);
  if (cc->low_water > cc->count) cc->low_water = cc->count;
}

/* Up to n cached entries of a class: the remote queue first, then the stack. */
static void flush_class(np_tcache *tc, np_cache_class *cc, uint32_t n) {
  if (cc->cap == 0) return;
  flush_stack(tc, cc, flush_remote(tc, cc, n));
}

void np_tcache_flush(np_tcache *tc) {
  np_outbox_send_all(tc->caches, tc);
  for (unsigned c = 0; c < tc->caches->n_cached; c++) flush_class(tc, &tc->classes[c], UINT32_MAX);
}

/* Lowers class c's capacity to cap; what no longer fits goes to the arena. */
static void set_class_cap(np_tcache *tc, unsigned c, uint32_t cap) {
  np_cache_class *cc = &tc->classes[c];
  if (cap >= cc->cap) return;
  if (cc->count > cap) flush_stack(tc, cc, cc->count - cap);
  tc->grown -= (intptr_t)np_cache_capacity_growth_bytes(tc->caches, c, cc->cap - cap);
  cc->cap = cap;
}

/* A grown class that left entries unused through the interval, or was not
 * used, gives up half of its capacity (cache_capacity.c). */
static void shrink_class(np_tcache *tc, unsigned c, uint32_t low_water, uint64_t used) {
  set_class_cap(tc, c, np_cache_capacity_shrunk(tc->caches, c, tc->classes[c].cap, low_water, used));
}

static void trim(np_tcache *tc) {
  int low_water = tc->caches->cfg->trim_low_water;
  np_outbox_send_all(tc->caches, tc); /* nothing waits there longer than an interval */
  for (unsigned c = 0; c < tc->caches->n_cached; c++) {
    np_cache_class *cc = &tc->classes[c];
    uint64_t used = cc->hits - cc->hits_at_trim;
    uint32_t n = used < cc->cap ? cc->cap - (uint32_t)used : 0; /* Netty's unused room */
    if (low_water && n > cc->low_water) n = cc->low_water;
    uint32_t unused = cc->low_water;
    if (n) flush_class(tc, cc, n);
    shrink_class(tc, c, unused, used);
    cc->hits_at_trim = cc->hits;
    cc->low_water = cc->count;
  }
  tc->until_trim = tc->caches->cfg->cache_trim_interval;
}

/* In a fork child, for a thread that did not come along: its stacks are in
 * whatever state the thread left them, which no lock protects (a flush, for
 * one, waits on the arena lock with part of its entries already given back).
 * Their blocks are lost to the child, as glibc's and jemalloc's thread caches
 * are; counted as flushed so the cache arithmetic of the stats holds (the
 * arena still counts them in use). The remote queues are consistent (fork
 * holds their locks; ck's consumer publishes a dequeue in one store), so
 * np_tcache_retire's last flush gives their blocks back. */
static void drop_stacks(np_tcache *tc) {
  np_outbox_drop(tc);
  for (unsigned c = 0; c < tc->caches->n_cached; c++) {
    np_cache_class *cc = &tc->classes[c];
    NP_STORE(&cc->flushed, cc->flushed + cc->count);
    count_moved(cc, -(int64_t)cc->count);
    NP_STORE(&cc->count, 0);
  }
}

void np_tcache_retire(np_tcache *tc, np_retire_how how) {
  np_caches *caches = tc->caches;
  int in_fork_child = how == NP_RETIRE_FORK_CHILD;
  if (in_fork_child) drop_stacks(tc);
  else np_tcache_flush(tc);
  atomic_store_explicit(&tc->alive, 0, memory_order_seq_cst);
  np_tcache_flush(tc); /* what producers that saw it alive put in */
  atomic_fetch_sub_explicit(&tc->arena->bound_threads, 1, memory_order_relaxed);
  np_lock_acquire(&caches->cache_lock);
  for (unsigned c = 0; c < caches->n_cached; c++) { /* keep the counts for stats */
    np_cache_class *cc = &tc->classes[c];
    caches->retired_pushes[c] += own_pushes(caches, cc) + cc->remote_out;
    caches->retired_hits[c] += cc->hits;
    caches->retired_flushed[c] += cc->flushed;
    caches->retired_refilled[c] += cc->refilled;
    NP_STORE(&cc->refilled, 0);
    NP_STORE(&cc->hits, 0);
    NP_STORE(&cc->pushes, 0);
    NP_STORE(&cc->flushed, 0);
    NP_STORE(&cc->remote_out, 0);
    NP_STORE(&cc->count_offset, 0);
    cc->hits_at_trim = 0;
    cc->low_water = 0;
    cc->cap = base_cap(caches, c); /* empty: back to the configured capacity */
  }
  tc->grown = 0;
  tc->next_free = caches->free_tcaches;
  caches->free_tcaches = tc;
  np_lock_release(&caches->cache_lock);
}

void np_tcaches_retire_left_behind(np_caches *caches, bool (*came_along)(const np_tcache *, void *),
                                   void *arg) {
  for (unsigned i = 0; caches->tcaches && i < caches->tcache_count; i++) {
    np_tcache *tc = atomic_load_explicit(&caches->tcaches[i], memory_order_relaxed);
    if (atomic_load_explicit(&tc->alive, memory_order_relaxed) && !came_along(tc, arg))
      np_tcache_retire(tc, NP_RETIRE_FORK_CHILD);
  }
}

/* ---- Slow paths of allocation and free ------------------------------------------ */

void *np_tcache_alloc_miss(np_tcache *tc, unsigned idx) {
  np_cache_class *cc = &tc->classes[idx];
  if (tc->until_trim <= 1) trim(tc);
  if (cc->cap == 0) return NULL;
  if (cc->count) return np_tcache_pop(tc, cc); /* (np_alloc came here to trim) */
  tc->until_trim--; /* a lookup, found nothing */
  /* Frees by other threads, all at once: onto the stack (they are marked), and
   * what does not fit back to the arena. */
  void *p = np_remote_take_all(&cc->remote);
  uint32_t n = cc->count;
  for (; p && n < cc->cap; p = np_remote_next(p)) cc->stack[n++] = p;
  count_moved(cc, n - cc->count);
  NP_STORE(&cc->count, n);
  if (p) give_back_list(tc, cc, p);
  if (cc->count) return np_tcache_pop(tc, cc);
  /* A batch from the arena: one for the caller, the rest marked and cached. */
  void *batch[REFILL_MAX];
  unsigned got = np_arena_alloc_batch(tc->arena, idx, batch, cc->refill, tc->id);
  if (got == 0) return NULL;
  for (unsigned i = got; i-- > 1;) { /* (n is the count: 0 here) */
    np_block_mark(tc->caches, batch[i]);
    cc->stack[n++] = batch[i];
  }
  NP_STORE(&cc->count, n);
  count_moved(cc, got); /* the stack's got - 1, and the hit below */
  NP_STORE(&cc->refilled, cc->refilled + got);
  NP_STORE(&cc->hits, cc->hits + 1);
  np_block_unmark(batch[0]);
  return batch[0];
}

/* Bytes of blocks on the thread's stacks, and the class other than idx
 * holding the most (idx if none holds any). */
static size_t held_bytes(const np_tcache *tc, unsigned idx, unsigned *fullest) {
  size_t held = 0, most = 0;
  *fullest = idx;
  for (unsigned c = 0; c < tc->caches->n_cached; c++) {
    size_t bytes = np_cache_capacity_bytes(tc->caches, c, tc->classes[c].count);
    held += bytes;
    if (c != idx && bytes > most) {
      most = bytes;
      *fullest = c;
    }
  }
  return held;
}

bool np_tcache_push_full(np_tcache *tc, unsigned idx, void *ptr) {
  np_cache_class *cc = &tc->classes[idx];
  if (cc->cap == 0) return 0;
  unsigned fullest;
  uint32_t grown = np_cache_capacity_grown(tc->caches, idx, cc->cap, tc->grown);
  if (np_cache_over_budget(tc->caches, idx, held_bytes(tc, idx, &fullest))) {
    /* The cache holds its budget: no growth; the other class holding the
     * most gives up half its capacity, and so does this one if it alone
     * may hold more than the budget. */
    if (fullest != idx) set_class_cap(tc, fullest, np_cache_capacity_given_up(tc->classes[fullest].cap));
    if (np_cache_capacity_over_budget(tc->caches, idx, cc->cap))
      set_class_cap(tc, idx, np_cache_capacity_given_up(cc->cap));
    flush_stack(tc, cc, cc->cap > 1 ? cc->cap / 2 : 1);
  } else if (grown > cc->cap) { /* room for the burst instead of a round trip to the arena */
    tc->grown += (intptr_t)np_cache_capacity_growth_bytes(tc->caches, idx, grown - cc->cap);
    cc->cap = grown;
  } else {
    flush_stack(tc, cc, cc->cap > 1 ? cc->cap / 2 : 1); /* the older half goes back */
  }
  return np_tcache_push(tc, idx, ptr);
}

/* A producer found the owner dead after its push: the owner's last take may
 * have missed it, so the producer empties the list to the arena itself. The
 * flushes are counted in the producer's own cache (the stats add every
 * cache's counts), or the allocator's when it has none. */
static void drain_dead_list(np_caches *caches, np_tcache *mine, np_cache_class *cc, unsigned idx) {
  uint32_t n = free_list_to_arena(caches, np_remote_take_all(&cc->remote));
  if (mine) NP_STORE(&mine->classes[idx].flushed, mine->classes[idx].flushed + n);
  else NP_ADD(&caches->uncached_remote_flushed[idx], n);
}

void *np_tcache_hand_over(np_caches *caches, np_tcache *mine, np_tcache *tc, unsigned idx, void *first,
                          unsigned n) {
  np_cache_class *cc = &tc->classes[idx];
  if (!atomic_load_explicit(&tc->alive, memory_order_relaxed)) return first;
  void *rest;
  if (np_remote_push_chain(&cc->remote, first, n, &rest) == 0) return first;
  if (!atomic_load_explicit(&tc->alive, memory_order_seq_cst)) drain_dead_list(caches, mine, cc, idx);
  return rest;
}

bool np_tcache_free_slow(np_caches *caches, np_tcache *mine, void *ptr, unsigned idx, np_block_tag tag) {
  unsigned owner = tag & NP_TAG_OWNER_MASK;
  if (owner == 0) return 0;
  if (mine && owner == mine->id) return np_tcache_push_full(mine, idx, ptr);
  /* (the base capacity, not cc->cap: the owner changes that one) */
  if (base_cap(caches, idx) == 0) return 0;
  np_tcache *tc = atomic_load_explicit(&caches->tcaches[owner - 1], memory_order_acquire);
  if (mine && NP_REMOTE_HANDOVER_BATCH > 1) return np_outbox_add(caches, mine, tc, idx, ptr);
  if (np_tcache_hand_over(caches, mine, tc, idx, ptr, 1) != NULL) return 0;
  /* Counted by the pushing thread, in its own cache when it has one. */
  if (mine) NP_STORE(&mine->classes[idx].remote_out, mine->classes[idx].remote_out + 1);
  else NP_ADD(&caches->uncached_remote_pushes[idx], 1);
  return 1;
}

/* ---- Statistics ------------------------------------------------------------------- */

/* Stats count blocks from the user's side: a block in a cache is neither
 * allocated nor active. */
void np_caches_stats_add(np_caches *caches, np_stats *out) {
  np_lock_acquire(&caches->cache_lock);
  unsigned live = 0;
  for (unsigned i = 0; i < caches->tcache_count; i++)
    if (atomic_load_explicit(&atomic_load_explicit(&caches->tcaches[i], memory_order_acquire)->alive,
                             memory_order_relaxed))
      live++;
  out->thread_caches = live;
  out->metadata_bytes += caches->percpu_bytes + caches->transfer_bytes;
  for (unsigned i = 0; i < caches->tcache_count; i++)
    out->metadata_bytes += atomic_load_explicit(&caches->tcaches[i], memory_order_acquire)->mapped;
  for (unsigned c = 0; c < caches->n_cached; c++) {
    uint64_t hits = caches->retired_hits[c];
    uint64_t pushes = caches->retired_pushes[c] + NP_LOAD(&caches->uncached_remote_pushes[c]);
    uint64_t flushed = caches->retired_flushed[c] + NP_LOAD(&caches->uncached_remote_flushed[c]);
    uint64_t refilled = caches->retired_refilled[c];
    uint64_t size = np_index_to_size(&caches->pool->sc, c);
    for (unsigned i = 0; i < caches->tcache_count; i++) {
      np_cache_class *cc = &atomic_load_explicit(&caches->tcaches[i], memory_order_acquire)->classes[c];
      hits += NP_LOAD(&cc->hits);
      pushes += own_pushes(caches, cc) + NP_LOAD(&cc->remote_out);
      flushed += NP_LOAD(&cc->flushed);
      refilled += NP_LOAD(&cc->refilled);
    }
    uint64_t cached;
    if (np_percpu_on(caches)) { /* per-CPU pushes are not counted: the blocks they left are */
      uint64_t transferring = np_transfer_count(caches, c);
      cached = np_cpu_cache_blocks(caches, c);
      if (transferring > cached) transferring = cached; /* (read apart: racy) */
      pushes = cached + hits + flushed - refilled;
      out->transfer_cached_bytes += transferring * size;
      out->cpu_cached_bytes += (cached - transferring) * size;
    } else {
      cached = pushes + refilled - hits - flushed;
      /* What is not on a stack is on its way to its owner (racy reads: at most that). */
      uint64_t stacked = 0;
      for (unsigned i = 0; i < caches->tcache_count; i++) {
        np_tcache *tc = atomic_load_explicit(&caches->tcaches[i], memory_order_acquire);
        stacked += NP_LOAD(&tc->classes[c].count);
      }
      if (stacked > cached) stacked = cached;
      out->thread_cached_bytes += stacked * size;
      out->remote_cached_bytes += (cached - stacked) * size;
    }
    np_size_kind_stats *k = np_is_small_index(&caches->pool->sc, c) ? &out->small : &out->normal;
    /* Refills are the caches' allocations, flushes their frees; hits and
     * pushes are the users'. */
    k->allocations += hits - refilled;
    k->deallocations += pushes - flushed;
    k->active -= cached;
    k->active_bytes -= cached * size;
    out->cached_bytes += cached * size;
  }
  np_lock_release(&caches->cache_lock);
}

/* ---- fork() (fork.c calls these in its order) ---------------------------------- */

void np_tcaches_fork_lock(np_caches *caches) { np_lock_acquire(&caches->cache_lock); }
void np_tcaches_fork_unlock(np_caches *caches) { np_lock_release(&caches->cache_lock); }

static void for_each_queue(np_caches *caches, void (*op)(np_remote *)) {
  for (unsigned i = 0; caches->tcaches && i < caches->tcache_count; i++) {
    np_tcache *tc = atomic_load_explicit(&caches->tcaches[i], memory_order_relaxed);
    for (unsigned c = 0; c < caches->n_cached; c++)
      if (base_cap(caches, c)) op(&tc->classes[c].remote);
  }
}

void np_tcache_queues_fork_lock(np_caches *caches) { for_each_queue(caches, np_remote_fork_lock); }
void np_tcache_queues_fork_unlock(np_caches *caches) { for_each_queue(caches, np_remote_fork_unlock); }
