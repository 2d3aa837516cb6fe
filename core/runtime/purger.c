/*
 * The background purge thread (background_purge), which sleeps until the earliest
 * due time of any arena, or until an arena gets something dirty (the pool's
 * dirty hook wakes it). What is purged and when it is due: core/pool/purge.c.
 *
 * Lock order: an arena lock, then the purger's mutex (a wake-up); the purger
 * thread never holds its mutex while it takes an arena lock.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "core/runtime/runtime_internal.h"

typedef enum purger_state { PURGER_WANTED, PURGER_STARTING, PURGER_RUNNING } purger_state;

struct np_purger {
  np_allocator *alloc;
  pthread_t thread;
  pthread_mutex_t mutex;
  pthread_cond_t wake;      /* CLOCK_MONOTONIC */
  uint64_t wakes;           /* bumped by every wake-up: none is lost between two waits */
  int stop;
  NP_ATOMIC(int) state;     /* purger_state */
};

/* ---- The background purge thread ------------------------------------------------ */

static void *purger_main(void *arg) {
  np_purger *p = arg;
  np_allocator *a = p->alloc;
  for (;;) {
    pthread_mutex_lock(&p->mutex);
    int stop = p->stop;
    uint64_t seen = p->wakes;
    pthread_mutex_unlock(&p->mutex);
    if (stop) break;
    uint64_t now = np_clock_ns(), next_due = 0;
    for (unsigned i = 0; i < a->pool.n_arenas; i++) {
      np_arena *arena = &a->pool.arenas[i];
      np_lock_acquire(&arena->lock);
      if (arena->next_purge_ns && arena->next_purge_ns <= now) np_arena_purge(arena, now, 0);
      uint64_t due = arena->next_purge_ns;
      np_lock_release(&arena->lock);
      if (due && (next_due == 0 || due < next_due)) next_due = due;
    }
    pthread_mutex_lock(&p->mutex);
    if (!p->stop && p->wakes == seen) {
      if (next_due == 0) {
        pthread_cond_wait(&p->wake, &p->mutex); /* nothing dirty: until something is */
      } else {
        /* The coarse clock lags by up to a tick: wake a little after. */
        uint64_t at = next_due + 5 * 1000 * 1000;
        struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
        pthread_cond_timedwait(&p->wake, &p->mutex, &ts);
      }
    }
    pthread_mutex_unlock(&p->mutex);
  }
  return NULL;
}

static bool purger_sync_init(np_purger *p) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0) return 0;
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int ok = pthread_cond_init(&p->wake, &attr) == 0;
  pthread_condattr_destroy(&attr);
  if (ok && pthread_mutex_init(&p->mutex, NULL) != 0) {
    pthread_cond_destroy(&p->wake);
    ok = 0;
  }
  return ok;
}

/* The pool's dirty hook (arena lock held): wakes a running thread. */
static void purger_wake(void *arg) {
  np_purger *p = arg;
  if (atomic_load_explicit(&p->state, memory_order_acquire) != PURGER_RUNNING) return;
  pthread_mutex_lock(&p->mutex);
  p->wakes++;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->mutex);
}

int np_purger_create(np_allocator *a) {
  if (!a->cfg.background_purge || a->pool.decay_ns == 0) return NP_OK;
  np_purger *p = np_os_map(sizeof *p);
  if (p == NULL) return NP_ERR_NO_MEMORY;
  p->alloc = a;
  if (!purger_sync_init(p)) {
    np_os_unmap(p, sizeof *p);
    return NP_ERR_NO_MEMORY;
  }
  atomic_store(&p->state, PURGER_WANTED);
  a->purger = p;
  np_pool_on_dirty(&a->pool, purger_wake, p);
  return NP_OK;
}

bool np_purger_wanted(const np_allocator *a) {
  return atomic_load_explicit(&a->purger->state, memory_order_acquire) == PURGER_WANTED;
}

void np_purger_start_slow(np_allocator *a) {
  np_purger *p = a->purger;
  int wanted = PURGER_WANTED;
  /* One thread starts it; the allocations pthread_create makes come back
   * here and find it starting. */
  if (!atomic_compare_exchange_strong(&p->state, &wanted, PURGER_STARTING)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread takes no signals */
  int rc = pthread_create(&p->thread, NULL, purger_main, p);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  /* Not started (no memory for a thread): purging stays on arena activity;
   * a later allocation tries again. */
  atomic_store_explicit(&p->state, rc == 0 ? PURGER_RUNNING : PURGER_WANTED, memory_order_release);
}

void np_purger_destroy(np_allocator *a) {
  np_purger *p = a->purger;
  if (p == NULL) return;
  np_pool_on_dirty(&a->pool, NULL, NULL);
  if (atomic_load(&p->state) == PURGER_RUNNING) {
    pthread_mutex_lock(&p->mutex);
    p->stop = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    pthread_join(p->thread, NULL);
  }
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mutex);
  np_os_unmap(p, sizeof *p);
  a->purger = NULL;
}

void np_purger_fork_child(np_allocator *a) {
  np_purger *p = a->purger;
  if (p == NULL) return;
  /* The thread did not come along, and may have held the mutex. */
  purger_sync_init(p);
  p->wakes = 0;
  p->stop = 0;
  atomic_store(&p->state, PURGER_WANTED);
}
