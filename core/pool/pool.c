/*
 * The pool: an allocator's arenas and what they share (np_pool in pool.h):
 * the size classes, each small class's run, the registry and the settings.
 */
#include "core/pool/pool_internal.h"

/* A small class's run: the least multiple of the page size that the element
 * size divides, capped at page_size / 16 elements (Netty's calculateRunSize),
 * and at the chunk size (Netty fails such classes for chunks under 7 pages). */
static np_small_run small_run_of(const np_size_classes *sc, size_t elem) {
  size_t max_elems = sc->page_size >> NP_LOG2_QUANTUM;
  size_t run = 0, n;
  do {
    run += sc->page_size;
    n = run / elem;
  } while (n < max_elems && run != n * elem);
  while (n > max_elems) {
    run -= sc->page_size;
    n = run / elem;
  }
  if (run > sc->chunk_size) { /* chunks of a few pages: the whole chunk is the run */
    run = sc->chunk_size;
    n = run / elem;
  }
  return (np_small_run){(uint32_t)(run >> sc->page_shift), (uint32_t)n};
}

int np_pool_init(np_pool *p, const np_config *cfg, np_arena *arenas, unsigned n) {
  np_size_classes_init(&p->sc, cfg->page_size, cfg->max_order, cfg->alignment);
  for (unsigned i = 0; i < p->sc.n_small; i++)
    p->small_runs[i] = small_run_of(&p->sc, np_index_to_size(&p->sc, i));
  p->chunk_mask = (uintptr_t)p->sc.chunk_size - 1;
  p->decay_ns = (uint64_t)cfg->dirty_decay_ms * 1000000u;
  p->retained_max = cfg->retained_max;
  p->run_placement = cfg->run_placement;
  p->release_empty_init_chunks = cfg->release_empty_init_chunks;
  p->arenas = arenas;
  p->n_arenas = 0;
  int rc = np_registry_init(&p->registry, p->sc.page_shift + cfg->max_order);
  for (unsigned i = 0; rc == NP_OK && i < n; i++) {
    rc = np_arena_init(&arenas[i], p);
    if (rc == NP_OK) p->n_arenas++; /* destroy must meet only arenas that were made */
  }
  return rc;
}

void np_pool_destroy(np_pool *p) {
  for (unsigned i = 0; i < p->n_arenas; i++) np_arena_destroy(&p->arenas[i]);
  p->n_arenas = 0;
  np_registry_destroy(&p->registry);
}

void np_pool_fork_lock(np_pool *p) {
  for (unsigned i = 0; i < p->n_arenas; i++) {
    np_arena *arena = &p->arenas[i];
    np_lock_acquire(&arena->lock);
    for (unsigned c = 0; c < p->sc.n_small; c++) np_lock_acquire(&arena->small_locks[c]);
  }
  np_registry_fork_lock(&p->registry);
}

void np_pool_fork_unlock(np_pool *p) {
  np_registry_fork_unlock(&p->registry);
  for (unsigned i = p->n_arenas; i-- > 0;) {
    np_arena *arena = &p->arenas[i];
    for (unsigned c = 0; c < p->sc.n_small; c++) np_lock_release(&arena->small_locks[c]);
    np_lock_release(&arena->lock);
  }
}
