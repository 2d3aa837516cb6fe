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
 *   cache_lock                       (taken alone)
 *   per-CPU maintenance locks        (a CPU flush frees to arenas under one)
 *   transfer-cache class locks       (leaves: nothing is taken under one)
 *   each arena: lock, then its small-class locks
 *   registry lock                    (taken under an arena lock)
 *   every thread cache's MPSC queue  (leaves: taken with nothing else held)
 *
 * With all of them held no other thread is inside npool's shared state, so
 * the child's copy is consistent; what other threads held privately (their
 * caches) the child retires.
 */
#include <pthread.h>

#include "internal.h"

static void for_each_queue(np_allocator *a, void (*op)(np_remote *)) {
  for (unsigned i = 0; a->tcaches && i < a->tcache_count; i++) {
    np_tcache *tc = atomic_load_explicit(&a->tcaches[i], memory_order_relaxed);
    for (unsigned c = 0; c < a->n_cached; c++)
      if (np_tcache_base_cap(a, c)) op(&tc->classes[c].remote);
  }
}

static void lock_allocator(np_allocator *a) {
  np_lock_acquire(&a->cache_lock);
  /* Where the strategy cannot lock a CPU (-1, the same answer for every CPU)
   * no thread ever holds these locks: nothing to take. */
  a->fork_percpu_locked = np_percpu_on(a) && a->percpu.n_cpus > 0 &&
                          np_percpu_lock_cpu(&a->percpu, 0) == 0;
  for (unsigned cpu = 1; a->fork_percpu_locked && cpu < a->percpu.n_cpus; cpu++)
    np_percpu_lock_cpu(&a->percpu, cpu);
  np_transfer_fork_lock(a);
  for (unsigned i = 0; i < a->pool.n_arenas; i++) {
    np_arena *arena = &a->pool.arenas[i];
    np_lock_acquire(&arena->lock);
    for (unsigned c = 0; c < a->pool.sc.n_small; c++) np_lock_acquire(&arena->small_locks[c]);
  }
  np_lock_acquire(&a->pool.registry.lock);
  for_each_queue(a, np_remote_fork_lock);
}

static void unlock_allocator(np_allocator *a) {
  for_each_queue(a, np_remote_fork_unlock);
  np_lock_release(&a->pool.registry.lock);
  for (unsigned i = a->pool.n_arenas; i-- > 0;) {
    np_arena *arena = &a->pool.arenas[i];
    for (unsigned c = 0; c < a->pool.sc.n_small; c++) np_lock_release(&arena->small_locks[c]);
    np_lock_release(&arena->lock);
  }
  np_transfer_fork_unlock(a);
  if (a->fork_percpu_locked)
    for (unsigned cpu = 0; cpu < a->percpu.n_cpus; cpu++) np_percpu_unlock_cpu(&a->percpu, cpu);
  np_lock_release(&a->cache_lock);
}

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
    for (unsigned i = 0; a->tcaches && i < a->tcache_count; i++) {
      np_tcache *tc = atomic_load_explicit(&a->tcaches[i], memory_order_relaxed);
      if (atomic_load_explicit(&tc->alive, memory_order_relaxed) && !np_thread_slots_hold(a, tc))
        np_tcache_retire(tc, NP_RETIRE_FORK_CHILD);
    }
  }
  np_live_allocators_unlock();
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void register_handlers(void) { pthread_atfork(prefork, postfork_parent, postfork_child); }

void np_fork_handlers_register(void) { pthread_once(&fork_once, register_handlers); }
