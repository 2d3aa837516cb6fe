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
 * chunks, runs and huge blocks), by the layers above (a background thread
 * with background_purge, woken by the pool's dirty hook when an arena gets
 * something dirty: core/runtime/purger.c; np_allocator_purge: everything at
 * once: core/allocator.c), and when mapping a chunk
 * or a huge block fails (np_release_retained: every arena's retained ranges,
 * the failing one's first, then the allocation tries once more; ENOMEM only
 * when nothing could be given back or the retry fails too). dirty_decay_ms 0 is
 * the old immediate release: nothing retained, free runs left as they are.
 *
 * Lock order: an arena lock, then whatever the dirty hook takes.
 */
#include <sys/mman.h>

#include "core/pool/pool_internal.h"

#ifdef NP_FAULT_INJECTION
#include "core/base/fault_inject.h" /* test builds only: the nth madvise fails */
#endif

/* ---- Dirty memory and its due time ------------------------------------------ */

void np_purge_note_dirty(np_arena *a, uint64_t since) {
  uint64_t due = since + a->pool->decay_ns;
  if (a->next_purge_ns != 0 && a->next_purge_ns <= due) return;
  int was_clean = a->next_purge_ns == 0;
  a->next_purge_ns = due;
  if (was_clean && a->pool->on_dirty) a->pool->on_dirty(a->pool->on_dirty_arg);
}

void np_pool_on_dirty(np_pool *p, void (*fn)(void *), void *arg) {
  p->on_dirty_arg = arg;
  p->on_dirty = fn;
}

void np_chunk_note_dirty(np_chunk *c, size_t bytes) {
  np_arena *a = c->region.arena;
  if (a->pool->decay_ns == 0) return;
  if (c->dirty_since == 0) {
    c->dirty_since = np_clock_ns();
    np_purge_note_dirty(a, c->dirty_since);
  }
  c->dirty_bytes += bytes;
}

/* MADV_DONTNEED on every free run of c. A failed madvise (only a test's
 * injected fault) leaves the chunk dirty: the next purge tries again. */
static bool purge_chunk(np_arena *a, np_chunk *c) {
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
      uint64_t due = c->dirty_since + a->pool->decay_ns;
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

size_t np_release_retained(np_pool *p, np_arena *own) {
  size_t released = release_arena_retained(own);
  for (unsigned i = 0; i < p->n_arenas; i++)
    if (&p->arenas[i] != own) released += release_arena_retained(&p->arenas[i]);
  return released;
}
