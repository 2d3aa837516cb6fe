/*
 * Thread caches: Netty's PoolThreadCache policy, over the strategy's MPSC queue.
 *
 *   thread T's cache (one mapping)
 *   class 0  [stack: T's own frees, LIFO]  [np_mpsc: frees by other threads]
 *   class 1  [ ...                      ]  [ ...                           ]
 *   ...      small classes (small_cache_size entries), then normal classes up
 *            to max_cached_buffer_capacity (normal_cache_size entries)
 *
 * - Allocation: pop T's stack, else dequeue its MPSC queue, else the arena
 *   (which tags the block with T's cache id: T owns it from then on).
 * - Free: the block's tag names its owner. T's own blocks go on T's stack;
 *   another thread's go into the owner's MPSC queue (only the owner dequeues).
 *   A full stack or queue, a dead owner, or no owner: the arena.
 * - A tag with NP_TAG_CACHED marks a block sitting in a cache: freeing it again
 *   is a double free, detected without a lock.
 * - Trim: every cache_trim_interval lookups (hits and misses), each class frees
 *   to the arena as many entries as it had unused room: capacity minus the
 *   hits since the last trim (Netty's MemoryRegionCache.trim).
 * - Thread exit: the cache is emptied to the arenas and marked dead; frees of
 *   its blocks go straight to the arena after that. Producers announce
 *   themselves (inflight) before checking `alive`, and the exiting owner waits
 *   for inflight to reach 0 after clearing it, so no block is left in the queue
 *   of a dead cache. Dead caches are reused by later threads.
 *
 * Each thread finds its cache through a small thread-local table keyed by
 * allocator (address and uid), so several allocators can coexist.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "internal.h"

#define TLS_SLOTS NP_TLS_SLOTS
typedef np_tls_slot tls_slot;
#define tls_caches np_tls_caches

NP_TLS np_tls_slot np_tls_caches[NP_TLS_SLOTS];

/* Live allocators, for thread-exit handlers that must not touch a destroyed one. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static np_allocator *live_allocators;
static uint64_t next_uid = 1;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
/* Set when this thread's exit handler ran: a cache made after it (a later
 * destructor that allocates, glibc freeing the thread's own state) would never
 * be retired, so such a thread allocates without one. */
static NP_TLS int thread_exited;

static void register_fork_handlers(void);

static unsigned next_pow2(unsigned v) {
  unsigned p = 1;
  while (p < v) p <<= 1;
  return p;
}

void np_tcaches_init(np_allocator *a) {
  const np_config *cfg = &a->cfg;
  a->n_cached = 0;
  for (unsigned i = 0; i < a->sc.n_sizes; i++) {
    size_t size = np_index_to_size(&a->sc, i);
    unsigned cap;
    if (np_is_small_index(&a->sc, i)) cap = cfg->small_cache_size;
    else if (size <= cfg->max_cached_buffer_capacity) cap = cfg->normal_cache_size;
    else break;
    a->cache_cap[i] = cap ? next_pow2(cap) : 0;
    if (cap) a->n_cached = i + 1;
  }
  np_lock_init(&a->cache_lock);
  pthread_once(&fork_once, register_fork_handlers);
  pthread_mutex_lock(&live_lock);
  a->uid = next_uid++;
  pthread_mutex_unlock(&live_lock);
}

/* Only a finished allocator goes on the live list: the fork handlers lock
 * everything on it, and must not meet one whose locks are being made. */
void np_tcaches_publish(np_allocator *a) {
  pthread_mutex_lock(&live_lock);
  a->next_live = live_allocators;
  live_allocators = a;
  pthread_mutex_unlock(&live_lock);
}

void np_tcaches_destroy(np_allocator *a) {
  pthread_mutex_lock(&live_lock); /* after this no exiting thread touches a */
  for (np_allocator **p = &live_allocators; *p; p = &(*p)->next_live)
    if (*p == a) {
      *p = a->next_live;
      break;
    }
  pthread_mutex_unlock(&live_lock);
  if (a->tcaches) {
    for (unsigned i = 0; i < a->tcache_count; i++) {
      np_tcache *tc = atomic_load_explicit(&a->tcaches[i], memory_order_relaxed);
      for (unsigned c = 0; c < a->n_cached; c++)
        if (tc->classes[c].cap) np_mpsc_destroy(&tc->classes[c].remote);
      np_os_unmap(tc, tc->mapped);
    }
    np_os_unmap(a->tcaches, NP_MAX_THREAD_CACHES * sizeof(*a->tcaches));
  }
  np_lock_destroy(&a->cache_lock);
}

/* ---- Creating and retiring caches ------------------------------------------- */

/* Entries per class of a thread cache: none when per-CPU caches serve the
 * allocator (a thread's cache then only binds its arena and keeps counts). */
static uint32_t thread_cap(np_allocator *a, unsigned c) { return a->percpu_active ? 0 : a->cache_cap[c]; }

static size_t tcache_layout(np_allocator *a) {
  size_t bytes = sizeof(np_tcache) + a->n_cached * sizeof(np_cache_class);
  for (unsigned c = 0; c < a->n_cached; c++)
    if (thread_cap(a, c))
      bytes += thread_cap(a, c) * sizeof(np_cache_entry) + np_mpsc_storage_bytes(thread_cap(a, c));
  return bytes;
}

static np_tcache *tcache_new(np_allocator *a) {
  size_t bytes = tcache_layout(a);
  np_tcache *tc = np_os_map(bytes);
  if (tc == NULL) return NULL;
  tc->alloc = a;
  tc->mapped = bytes;
  char *mem = (char *)&tc->classes[a->n_cached];
  for (unsigned c = 0; c < a->n_cached; c++) {
    np_cache_class *cc = &tc->classes[c];
    cc->cap = thread_cap(a, c);
    if (cc->cap == 0) continue;
    cc->stack = (np_cache_entry *)mem;
    mem += cc->cap * sizeof(np_cache_entry);
    np_mpsc_init(&cc->remote, mem, cc->cap);
    mem += np_mpsc_storage_bytes(cc->cap);
  }
  return tc;
}

static void thread_exit(void *unused);

static void make_exit_key(void) { pthread_key_create(&exit_key, thread_exit); }

/* A cache for the calling thread: a retired one if any, else a new one. */
static np_tcache *tcache_acquire(np_allocator *a) {
  np_tcache *tc = NULL;
  np_lock_acquire(&a->cache_lock);
  if (a->tcaches == NULL) a->tcaches = np_os_map(NP_MAX_THREAD_CACHES * sizeof(*a->tcaches));
  if (a->tcaches && a->free_tcaches) {
    tc = a->free_tcaches;
    a->free_tcaches = tc->next_free;
  } else if (a->tcaches && a->tcache_count < NP_MAX_THREAD_CACHES && (tc = tcache_new(a))) {
    tc->id = (uint16_t)(a->tcache_count + 1);
    atomic_store_explicit(&a->tcaches[a->tcache_count], tc, memory_order_release);
    a->tcache_count++;
  }
  np_lock_release(&a->cache_lock);
  if (tc == NULL) return NULL;
  tc->lookups = 0;
  tc->trim_interval = a->cfg.cache_trim_interval;
  tc->arena = np_arena_least_used(a);
  atomic_fetch_add_explicit(&tc->arena->bound_threads, 1, memory_order_relaxed);
  atomic_store_explicit(&tc->alive, 1, memory_order_seq_cst);
  return tc;
}

np_tcache *np_tcache_get_slow(np_allocator *a, int create) {
  for (int i = 1; i < TLS_SLOTS; i++)
    if (tls_caches[i].alloc == a && tls_caches[i].uid == a->uid) return tls_caches[i].tc;
  if (!create || thread_exited) return NULL;
  int slot = -1;
  for (int i = 0; i < TLS_SLOTS && slot < 0; i++) {
    if (tls_caches[i].alloc == NULL) slot = i;
  }
  if (slot < 0) { /* slots of destroyed allocators can be reused */
    pthread_mutex_lock(&live_lock);
    for (int i = 0; i < TLS_SLOTS && slot < 0; i++) {
      np_allocator *live = live_allocators;
      while (live && !(live == tls_caches[i].alloc && live->uid == tls_caches[i].uid)) live = live->next_live;
      if (live == NULL) slot = i;
    }
    pthread_mutex_unlock(&live_lock);
    if (slot < 0) return NULL; /* more live allocators in this thread than slots */
  }
  np_tcache *tc = tcache_acquire(a);
  if (tc == NULL) return NULL;
  /* The slot first: pthread_setspecific may calloc (keys past the first 32),
   * and when npool is malloc that call must find this cache, not make another. */
  tls_caches[slot] = (tls_slot){a, a->uid, tc};
  pthread_once(&exit_key_once, make_exit_key);
  pthread_setspecific(exit_key, (void *)1); /* so that thread_exit runs */
  return tc;
}

/* ---- Giving blocks back to the arena ------------------------------------------ */

static void flush_block(np_tcache *tc, np_cache_class *cc, void *ptr) {
  np_region *r = np_registry_get(&tc->alloc->registry, ptr);
  np_arena_free(r->arena, r, ptr, 1);
  cc->flushed++;
}

/* Frees up to n cached entries of a class to the arena: the remote queue
 * first, then the oldest entries of the stack. */
static void flush_class(np_tcache *tc, np_cache_class *cc, uint32_t n) {
  void *p;
  if (cc->cap == 0) return;
  while (n && (p = np_mpsc_dequeue(&cc->remote))) {
    flush_block(tc, cc, p);
    n--;
  }
  uint32_t take = n < cc->count ? n : cc->count;
  for (uint32_t i = 0; i < take; i++) flush_block(tc, cc, cc->stack[i].ptr);
  memmove(cc->stack, cc->stack + take, (cc->count - take) * sizeof(np_cache_entry));
  cc->count -= take;
}

void np_tcache_flush(np_tcache *tc) {
  for (unsigned c = 0; c < tc->alloc->n_cached; c++) flush_class(tc, &tc->classes[c], UINT32_MAX);
}

static void trim(np_tcache *tc) {
  for (unsigned c = 0; c < tc->alloc->n_cached; c++) {
    np_cache_class *cc = &tc->classes[c];
    if (cc->cap > cc->hits_since_trim) flush_class(tc, cc, cc->cap - cc->hits_since_trim);
    cc->hits_since_trim = 0;
  }
  tc->lookups = 0;
}

/* In a fork child, for a thread that did not come along: its stacks are in
 * whatever state the thread left them, which no lock protects (a flush, for
 * one, waits on the arena lock with part of its entries already given back).
 * Their blocks are lost to the child, as glibc's and jemalloc's thread caches
 * are; counted as flushed so the cache arithmetic of the stats holds (the
 * arena still counts them in use). The remote queues are consistent (fork
 * holds their locks; ck's consumer publishes a dequeue in one store), so
 * tcache_retire's last flush gives their blocks back. */
static void tcache_drop_stacks(np_tcache *tc) {
  for (unsigned c = 0; c < tc->alloc->n_cached; c++) {
    np_cache_class *cc = &tc->classes[c];
    NP_STORE(&cc->flushed, cc->flushed + cc->count);
    cc->count = 0;
  }
}

/* The thread is gone: empty its caches, mark them dead, and make them reusable.
 * in_fork_child: the thread did not survive a fork; its stacks are dropped,
 * not flushed, and a producer that announced itself (inflight) never finishes. */
static void tcache_retire(np_tcache *tc, int in_fork_child) {
  np_allocator *a = tc->alloc;
  if (in_fork_child) tcache_drop_stacks(tc);
  else np_tcache_flush(tc);
  atomic_store_explicit(&tc->alive, 0, memory_order_seq_cst);
  while (!in_fork_child && atomic_load_explicit(&tc->inflight, memory_order_seq_cst) != 0)
    sched_yield();
  atomic_store_explicit(&tc->inflight, 0, memory_order_relaxed);
  np_tcache_flush(tc); /* what producers that saw it alive put in */
  atomic_fetch_sub_explicit(&tc->arena->bound_threads, 1, memory_order_relaxed);
  np_lock_acquire(&a->cache_lock);
  for (unsigned c = 0; c < a->n_cached; c++) { /* keep the counts for stats */
    np_cache_class *cc = &tc->classes[c];
    a->retired_hits[c] += cc->hits;
    a->retired_pushes[c] += cc->pushes;
    a->retired_flushed[c] += cc->flushed;
    a->retired_refilled[c] += cc->refilled;
    NP_STORE(&cc->refilled, 0);
    NP_STORE(&cc->hits, 0);
    NP_STORE(&cc->pushes, 0);
    NP_STORE(&cc->flushed, 0);
    cc->hits_since_trim = 0;
  }
  tc->next_free = a->free_tcaches;
  a->free_tcaches = tc;
  np_lock_release(&a->cache_lock);
}

static void thread_exit(void *unused) {
  (void)unused;
  thread_exited = 1;
  pthread_mutex_lock(&live_lock);
  for (int i = 0; i < TLS_SLOTS; i++) {
    tls_slot *s = &tls_caches[i];
    if (s->alloc == NULL) continue;
    for (np_allocator *live = live_allocators; live; live = live->next_live)
      if (live == s->alloc && live->uid == s->uid) {
        tcache_retire(s->tc, 0);
        break;
      }
    *s = (tls_slot){0};
  }
  pthread_mutex_unlock(&live_lock);
}

/* ---- fork() ------------------------------------------------------------------------
 * pthread_atfork handlers for every live allocator (registered with the first
 * one): before the fork the forking thread takes every lock (fork.c, in the
 * order the code nests them), so no other thread is inside npool when the
 * address space is copied; after it both processes release them, and the child
 * retires the caches of the threads that did not come with it. */

static int is_this_threads(const np_allocator *a, const np_tcache *tc) {
  for (int i = 0; i < TLS_SLOTS; i++)
    if (tls_caches[i].alloc == a && tls_caches[i].uid == a->uid && tls_caches[i].tc == tc) return 1;
  return 0;
}

static void prefork(void) {
  pthread_mutex_lock(&live_lock);
  for (np_allocator *a = live_allocators; a; a = a->next_live) np_fork_lock(a);
}

static void postfork_parent(void) {
  for (np_allocator *a = live_allocators; a; a = a->next_live) np_fork_unlock(a);
  pthread_mutex_unlock(&live_lock);
}

static void postfork_child(void) {
  for (np_allocator *a = live_allocators; a; a = a->next_live) {
    np_fork_unlock(a);
    for (unsigned i = 0; a->tcaches && i < a->tcache_count; i++) {
      np_tcache *tc = atomic_load_explicit(&a->tcaches[i], memory_order_relaxed);
      if (atomic_load_explicit(&tc->alive, memory_order_relaxed) && !is_this_threads(a, tc))
        tcache_retire(tc, 1);
    }
  }
  pthread_mutex_unlock(&live_lock);
}

static void register_fork_handlers(void) { pthread_atfork(prefork, postfork_parent, postfork_child); }

/* ---- Fast paths ------------------------------------------------------------------ */

void *np_tcache_alloc(np_tcache *tc, unsigned idx) {
  if (++tc->lookups >= tc->trim_interval) trim(tc);
  np_cache_class *cc = &tc->classes[idx];
  if (cc->count) {
    np_cache_entry e = cc->stack[--cc->count];
    NP_STORE(e.tag, tc->id);
    NP_STORE(&cc->hits, cc->hits + 1);
    cc->hits_since_trim++;
    return e.ptr;
  }
  void *p = cc->cap ? np_mpsc_dequeue(&cc->remote) : NULL;
  if (p) {
    NP_STORE(np_block_tag_of(tc->alloc, p), tc->id);
    NP_STORE(&cc->hits, cc->hits + 1);
    cc->hits_since_trim++;
  }
  return p;
}

int np_tcache_free(np_allocator *a, np_tcache *mine, void *ptr, const np_block_ref *ref,
                   np_block_tag tag) {
  unsigned owner = tag & NP_TAG_OWNER_MASK;
  if (owner == 0) return 0;
  if (mine && owner == mine->id) {
    np_cache_class *cc = &mine->classes[ref->size_idx];
    if (cc->count >= cc->cap) return 0;
    NP_STORE(ref->tag, tag | NP_TAG_CACHED);
    cc->stack[cc->count++] = (np_cache_entry){ptr, ref->tag};
    NP_STORE(&cc->pushes, cc->pushes + 1);
    return 1;
  }
  np_tcache *tc = atomic_load_explicit(&a->tcaches[owner - 1], memory_order_acquire);
  int done = 0;
  atomic_fetch_add_explicit(&tc->inflight, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&tc->alive, memory_order_seq_cst)) {
    np_cache_class *cc = &tc->classes[ref->size_idx];
    NP_STORE(ref->tag, tag | NP_TAG_CACHED);
    done = cc->cap && np_mpsc_enqueue(&cc->remote, ptr);
    if (done) NP_ADD(&a->remote_pushes[ref->size_idx], 1);
    else NP_STORE(ref->tag, tag);
  }
  atomic_fetch_sub_explicit(&tc->inflight, 1, memory_order_seq_cst);
  return done;
}

/* ---- Statistics ------------------------------------------------------------------- */

/* Stats count blocks from the user's side: a block in a cache is neither
 * allocated nor active. */
void np_tcache_stats_add(np_allocator *a, np_stats *out) {
  np_lock_acquire(&a->cache_lock);
  unsigned live = 0;
  for (unsigned i = 0; i < a->tcache_count; i++)
    if (atomic_load_explicit(&atomic_load_explicit(&a->tcaches[i], memory_order_acquire)->alive,
                             memory_order_relaxed))
      live++;
  out->thread_caches = live;
  for (unsigned c = 0; c < a->n_cached; c++) {
    uint64_t hits = a->retired_hits[c], pushes = a->retired_pushes[c] + NP_LOAD(&a->remote_pushes[c]);
    uint64_t flushed = a->retired_flushed[c], refilled = a->retired_refilled[c];
    for (unsigned i = 0; i < a->tcache_count; i++) {
      np_cache_class *cc = &atomic_load_explicit(&a->tcaches[i], memory_order_acquire)->classes[c];
      hits += NP_LOAD(&cc->hits);
      pushes += NP_LOAD(&cc->pushes);
      flushed += NP_LOAD(&cc->flushed);
      refilled += NP_LOAD(&cc->refilled);
    }
    uint64_t size = np_index_to_size(&a->sc, c);
    uint64_t cached = pushes + refilled - hits - flushed;
    np_size_kind_stats *k = np_is_small_index(&a->sc, c) ? &out->small : &out->normal;
    /* Refills are the caches' allocations, flushes their frees; hits and
     * pushes are the users'. */
    k->allocations += hits - refilled;
    k->deallocations += pushes - flushed;
    k->active -= cached;
    k->active_bytes -= cached * size;
    out->cached_bytes += cached * size;
  }
  np_lock_release(&a->cache_lock);
}
