/*
 * Purging: dirty memory an arena no longer uses goes back to the system once
 * it has been unused for dirty_decay_ms (jemalloc's decay, with its names, in
 * one step: what is due goes, nothing else).
 *
 *   what                                   how                      when freed
 *   retained ranges (retained.c)           munmap                   a chunk emptied, a huge block freed
 *   free runs inside chunks still in use   madvise(MADV_DONTNEED)   a run went back to its chunk
 *
 * A chunk keeps one "dirty since" time, its oldest free run written since the
 * last purge; when it is due, every free run of the chunk is purged (a free
 * run merged from dirty and clean pages is purged whole; the kernel skips
 * pages that are not resident). MADV_DONTNEED, not MADV_FREE: the pages leave
 * the resident set at once, so RSS says what npool holds.
 *
 * When: on arena activity (np_purge_tick, where the arena lock is taken for
 * chunks, runs and huge blocks), by a background thread with
 * background_purge (it sleeps until the earliest due time, or until something
 * becomes dirty), all at once by np_allocator_purge, and when mapping a chunk
 * or a huge block fails (np_release_retained: every arena's retained ranges,
 * the failing one's first, then the allocation tries once more; ENOMEM only
 * when nothing could be given back or the retry fails too). dirty_decay_ms 0 is
 * the old immediate release: nothing retained, free runs left as they are.
 *
 * Lock order: an arena lock, then the purger's mutex (a wake-up); the purger
 * thread never holds its mutex while it takes an arena lock.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

#ifdef NP_FAULT_INJECTION
#include "core/base/fault_inject.h" /* test builds only: the nth madvise fails */
#endif

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

/* ---- Dirty memory and its due time ------------------------------------------ */

void np_purge_note_dirty(np_arena *a, uint64_t since) {
  uint64_t due = since + a->alloc->decay_ns;
  if (a->next_purge_ns != 0 && a->next_purge_ns <= due) return;
  int was_clean = a->next_purge_ns == 0;
  a->next_purge_ns = due;
  np_purger *p = a->alloc->purger;
  if (was_clean && p && atomic_load_explicit(&p->state, memory_order_acquire) == PURGER_RUNNING) {
    pthread_mutex_lock(&p->mutex);
    p->wakes++;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mutex);
  }
}

void np_chunk_note_dirty(np_chunk *c, size_t bytes) {
  np_arena *a = c->region.arena;
  if (a->alloc->decay_ns == 0) return;
  if (c->dirty_since == 0) {
    c->dirty_since = np_clock_ns();
    np_purge_note_dirty(a, c->dirty_since);
  }
  c->dirty_bytes += bytes;
}

/* MADV_DONTNEED on every free run of c. A failed madvise (only a test's
 * injected fault) leaves the chunk dirty: the next purge tries again. */
static int purge_chunk(np_arena *a, np_chunk *c) {
  const unsigned shift = a->sc->page_shift;
  for (unsigned i = 0; i < a->sc->n_psizes; i++) {
    const np_run_heap *h = &c->run_heaps[i];
    for (uint32_t k = 0; k < h->len; k++) {
      uint64_t run = h->items[k];
      size_t len = (size_t)np_handle_pages(run) << shift;
#ifdef NP_FAULT_INJECTION
      if (np_fault_hit(NP_FAULT_PURGE)) return 0;
#endif
      if (madvise(np_chunk_base(c) + ((size_t)np_handle_offset(run) << shift), len, MADV_DONTNEED) != 0)
        return 0;
      a->purged_bytes += len;
      a->purges++;
    }
  }
  c->dirty_since = 0;
  c->dirty_bytes = 0;
  return 1;
}

uint64_t np_arena_purge(np_arena *a, uint64_t now, int all) {
  uint64_t next_due = np_retained_purge(a, now, all);
  np_meta_release_kept(&a->meta);
  for (int l = 0; l < NP_CHUNK_LISTS; l++)
    for (np_chunk *c = a->lists[l].head; c; c = c->next) {
      if (c->dirty_since == 0) continue;
      uint64_t due = c->dirty_since + a->alloc->decay_ns;
      if ((all || due <= now) && purge_chunk(a, c)) continue;
      if (next_due == 0 || due < next_due) next_due = due;
    }
  a->next_purge_ns = next_due;
  return next_due;
}

size_t np_arena_dirty_bytes(const np_arena *a) {
  size_t bytes = a->retained.bytes;
  for (int l = 0; l < NP_CHUNK_LISTS; l++)
    for (const np_chunk *c = a->lists[l].head; c; c = c->next)
      bytes += c->dirty_bytes < c->free_bytes ? c->dirty_bytes : c->free_bytes;
  return bytes;
}

static size_t release_arena_retained(np_arena *a) {
  np_lock_acquire(&a->lock);
  size_t before = a->retained.bytes;
  np_retained_purge(a, 0, 1);
  np_meta_release_kept(&a->meta);
  size_t released = before - a->retained.bytes;
  np_lock_release(&a->lock);
  return released;
}

size_t np_release_retained(np_allocator *alloc, np_arena *own) {
  size_t released = release_arena_retained(own);
  for (unsigned i = 0; i < alloc->n_arenas; i++)
    if (&alloc->arenas[i] != own) released += release_arena_retained(&alloc->arenas[i]);
  return released;
}

int np_allocator_purge(np_allocator *a) {
  if (a == NULL) return NP_ERR_NULL_ARGUMENT;
  np_thread_cache_flush(a);
  uint64_t now = np_clock_ns();
  for (unsigned i = 0; i < a->n_arenas; i++) {
    np_lock_acquire(&a->arenas[i].lock);
    np_arena_purge(&a->arenas[i], now, 1);
    np_lock_release(&a->arenas[i].lock);
  }
  return NP_OK;
}

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
    for (unsigned i = 0; i < a->n_arenas; i++) {
      np_arena *arena = &a->arenas[i];
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

static int purger_sync_init(np_purger *p) {
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

int np_purger_create(np_allocator *a) {
  if (!a->cfg.background_purge || a->decay_ns == 0) return NP_OK;
  np_purger *p = np_os_map(sizeof *p);
  if (p == NULL) return NP_ERR_NO_MEMORY;
  p->alloc = a;
  if (!purger_sync_init(p)) {
    np_os_unmap(p, sizeof *p);
    return NP_ERR_NO_MEMORY;
  }
  atomic_store(&p->state, PURGER_WANTED);
  a->purger = p;
  return NP_OK;
}

int np_purger_wanted(const np_allocator *a) {
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
