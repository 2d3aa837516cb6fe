/*
 * fork() safety: pthread_atfork handlers for every live allocator. Before the
 * fork the forking thread takes every lock of every live allocator; after it
 * both processes release them, and the child retires the caches of the
 * threads that did not come with it.
 *
 * The order is the order in which the code nests them, so that the forking
 * thread never waits for a lock whose holder waits for one it holds:
 *
 *   live-allocator list lock         (thread exit retires caches under it)
 *   cache_lock                       (taken alone)          np_tcaches_fork_lock
 *   per-CPU maintenance locks        (a CPU flush frees to  np_cpu_cache_fork_lock
 *                                     arenas under one)
 *   transfer-cache class locks       (leaves: nothing is    np_transfer_fork_lock
 *                                     taken under one)
 *   each arena: lock, then its small-class locks;           np_pool_fork_lock
 *   registry lock                    (taken under an arena lock)
 *   every thread cache's MPSC queue  (leaves: taken with    np_tcache_queues_fork_lock
 *                                     nothing else held)
 *
 * Each module exports the functions that take and release its own locks
 * (right column); this file calls them, in this order, and nothing else
 * takes a lock of theirs. Pooled buffers (core/buf) are a library on the
 * public API: their recycler and leak detector register their own handlers.
 *
 * With all of them held no other thread is inside npool's shared state, so
 * the child's copy is consistent; what other threads held privately (their
 * caches) the child retires.
 */
#include <pthread.h>

#include "core/runtime/runtime_internal.h"

/* Each module takes and releases its own locks; the order is here. */
static void lock_allocator(np_allocator *a) {
  np_tcaches_fork_lock(&a->caches);
  np_cpu_cache_fork_lock(&a->caches);
  np_transfer_fork_lock(&a->caches);
  np_pool_fork_lock(&a->pool);
  np_tcache_queues_fork_lock(&a->caches);
}

static void unlock_allocator(np_allocator *a) {
  np_tcache_queues_fork_unlock(&a->caches);
  np_pool_fork_unlock(&a->pool);
  np_transfer_fork_unlock(&a->caches);
  np_cpu_cache_fork_unlock(&a->caches);
  np_tcaches_fork_unlock(&a->caches);
}

/* The forking thread is the one the child has: its caches stay. */
static bool forking_thread_holds(const np_tcache *tc, void *a) { return np_thread_slots_hold(a, tc); }

static void prefork(void) {
  np_live_allocators_lock();
  for (np_allocator *a = np_live_allocators_first(); a; a = a->next_live) lock_allocator(a);
}

static void postfork_parent(void) {
  for (np_allocator *a = np_live_allocators_first(); a; a = a->next_live) unlock_allocator(a);
  np_live_allocators_unlock();
}

static void postfork_child(void) {
  for (np_allocator *a = np_live_allocators_first(); a; a = a->next_live) {
    unlock_allocator(a);
    np_purger_fork_child(a);
    np_tcaches_retire_left_behind(&a->caches, forking_thread_holds, a);
  }
  np_live_allocators_unlock();
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void register_handlers(void) { pthread_atfork(prefork, postfork_parent, postfork_child); }

void np_fork_handlers_register(void) { pthread_once(&fork_once, register_handlers); }
