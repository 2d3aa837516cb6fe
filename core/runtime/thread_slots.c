/*
 * Thread slots: how a thread finds its caches, and what happens when it exits.
 *
 *   np_tls_caches[8] (initial-exec TLS)   { allocator, its uid, the thread's cache }
 *   live_allocators ──> a ──> b ──> ...   (every allocator made and not destroyed)
 *
 * A thread may use several allocators; each gets a slot on first use (slot 0
 * is checked inline by np_tcache_get). The uid tells a new allocator from a
 * destroyed one at the same address. When the thread exits, a pthread key's
 * destructor retires the cache of every slot whose allocator is still live
 * (checked against the list, under its lock, so that no exiting thread
 * touches a destroyed allocator).
 */
#include <pthread.h>

#include "core/runtime/runtime_internal.h"

NP_TLS np_tls_slot np_tls_caches[NP_TLS_SLOTS];

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static np_allocator *live_allocators;
static uint64_t next_uid = 1;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
/* Set when this thread's exit handler ran: a cache made after it (a later
 * destructor that allocates, glibc freeing the thread's own state) would never
 * be retired, so such a thread allocates without one. */
static NP_TLS int thread_exited;

void np_live_allocators_lock(void) { pthread_mutex_lock(&live_lock); }
void np_live_allocators_unlock(void) { pthread_mutex_unlock(&live_lock); }
np_allocator *np_live_allocators_first(void) { return live_allocators; }

void np_thread_slots_register(np_allocator *a) {
  pthread_mutex_lock(&live_lock);
  a->uid = next_uid++;
  pthread_mutex_unlock(&live_lock);
}

/* Only a finished allocator goes on the live list: the fork handlers lock
 * everything on it, and must not meet one whose locks are being made. */
void np_live_allocators_add(np_allocator *a) {
  pthread_mutex_lock(&live_lock);
  a->next_live = live_allocators;
  live_allocators = a;
  pthread_mutex_unlock(&live_lock);
}

void np_live_allocators_remove(np_allocator *a) {
  pthread_mutex_lock(&live_lock); /* after this no exiting thread touches a */
  for (np_allocator **p = &live_allocators; *p; p = &(*p)->next_live)
    if (*p == a) {
      *p = a->next_live;
      break;
    }
  pthread_mutex_unlock(&live_lock);
}

static bool is_live(const np_allocator *a, uint64_t uid) { /* live_lock held */
  for (np_allocator *live = live_allocators; live; live = live->next_live)
    if (live == a && live->uid == uid) return 1;
  return 0;
}

static void thread_exit(void *unused) {
  (void)unused;
  thread_exited = 1;
  pthread_mutex_lock(&live_lock);
  for (int i = 0; i < NP_TLS_SLOTS; i++) {
    np_tls_slot *s = &np_tls_caches[i];
    if (s->alloc && is_live(s->alloc, s->uid)) np_tcache_retire(s->tc, NP_RETIRE_THREAD_EXIT);
    *s = (np_tls_slot){0};
  }
  pthread_mutex_unlock(&live_lock);
}

static void make_exit_key(void) { pthread_key_create(&exit_key, thread_exit); }

np_tcache *np_tcache_get_slow(np_allocator *a, np_cache_lookup how) {
  for (int i = 1; i < NP_TLS_SLOTS; i++)
    if (np_tls_caches[i].alloc == a && np_tls_caches[i].uid == a->uid) return np_tls_caches[i].tc;
  if (how != NP_CACHE_FIND_OR_CREATE || thread_exited) return NULL;
  /* Slot 0 is the one np_alloc and np_free check inline: an allocator that
   * caches no class (the library's private ones, or caching off: its cache
   * only binds the thread to an arena) takes it only when no other is free,
   * so that it stays for one that uses it. */
  int slot = -1, first = a->caches.n_cached == 0 ? 1 : 0;
  for (int i = first; i < NP_TLS_SLOTS && slot < 0; i++)
    if (np_tls_caches[i].alloc == NULL) slot = i;
  if (slot < 0 && first && np_tls_caches[0].alloc == NULL) slot = 0;
  if (slot < 0) { /* slots of destroyed allocators can be reused */
    pthread_mutex_lock(&live_lock);
    for (int i = 0; i < NP_TLS_SLOTS && slot < 0; i++)
      if (!is_live(np_tls_caches[i].alloc, np_tls_caches[i].uid)) slot = i;
    pthread_mutex_unlock(&live_lock);
    if (slot < 0) return NULL; /* more live allocators in this thread than slots */
  }
  np_tcache *tc = np_tcache_acquire(&a->caches);
  if (tc == NULL) return NULL;
  /* The slot first: pthread_setspecific may calloc (keys past the first 32),
   * and when npool is malloc that call must find this cache, not make another. */
  np_tls_caches[slot] = (np_tls_slot){a, a->uid, tc};
  pthread_once(&exit_key_once, make_exit_key);
  pthread_setspecific(exit_key, (void *)1); /* so that thread_exit runs */
  return tc;
}

bool np_thread_slots_hold(const np_allocator *a, const np_tcache *tc) {
  for (int i = 0; i < NP_TLS_SLOTS; i++)
    if (np_tls_caches[i].alloc == a && np_tls_caches[i].uid == a->uid && np_tls_caches[i].tc == tc) return 1;
  return 0;
}
