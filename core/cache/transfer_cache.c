/*
 * The transfer cache: a tier between the per-CPU caches and the arenas
 * (tcmalloc's transfer cache), so that what one CPU frees reaches another
 * CPU that allocates without the arenas' locks. Per cached class, one array
 * of free blocks under its own lock; a CPU whose stack overflows inserts a
 * batch (pointers copied, the blocks themselves untouched), a CPU that misses
 * removes one. The arena sees only what does not fit.
 *
 * Bounded: a class holds at most transfer_cache_bytes of blocks (and at least
 * one refill batch); 0: no transfer cache (caches->transfer NULL). The blocks
 * keep their free marks (np_free refuses them), count as cached in the stats, and go back to the arenas on
 * np_thread_cache_flush and np_allocator_purge (np_cpu_cache_flush_all).
 *
 * Locking: a class lock is a leaf (nothing is taken under it); fork.c takes
 * them all.
 */
#include <string.h>

#include "core/cache/cache_internal.h"

struct np_transfer_class {
  np_lock lock;
  uint32_t count, cap; /* blocks held, and the most it may */
  void **slots;
} __attribute__((aligned(64)));

int np_transfer_init(np_caches *caches) {
  if (caches->cfg->transfer_cache_bytes == 0 || caches->n_cached == 0) return NP_OK;
  size_t slots = 0;
  uint32_t cap[NP_MAX_SIZE_CLASSES];
  for (unsigned c = 0; c < caches->n_cached; c++) {
    size_t by_bytes = caches->cfg->transfer_cache_bytes / np_index_to_size(&caches->pool->sc, c);
    if (by_bytes < caches->refill_count[c]) by_bytes = caches->refill_count[c];
    cap[c] = (uint32_t)(by_bytes < (1u << 20) ? by_bytes : (1u << 20));
    slots += cap[c];
  }
  caches->transfer_bytes = caches->n_cached * sizeof(np_transfer_class) + slots * sizeof(void *);
  char *mem = np_os_map(caches->transfer_bytes);
  if (mem == NULL) return NP_ERR_NO_MEMORY;
  caches->transfer = (np_transfer_class *)mem;
  void **slot = (void **)(mem + caches->n_cached * sizeof(np_transfer_class));
  for (unsigned c = 0; c < caches->n_cached; c++) {
    np_transfer_class *t = &caches->transfer[c];
    np_lock_init(&t->lock);
    t->count = 0;
    t->cap = cap[c];
    t->slots = slot;
    slot += cap[c];
  }
  return NP_OK;
}

void np_transfer_destroy(np_caches *caches) {
  if (caches->transfer) np_os_unmap(caches->transfer, caches->transfer_bytes);
  caches->transfer = NULL;
}

unsigned np_transfer_insert(np_caches *caches, unsigned idx, void *const *blocks, unsigned n) {
  if (caches->transfer == NULL) return 0;
  np_transfer_class *t = &caches->transfer[idx];
  np_lock_acquire(&t->lock);
  unsigned room = t->cap - t->count, k = n < room ? n : room;
  memcpy(t->slots + t->count, blocks, k * sizeof(void *));
  __atomic_store_n(&t->count, t->count + k, __ATOMIC_RELAXED);
  np_lock_release(&t->lock);
  return k;
}

unsigned np_transfer_remove(np_caches *caches, unsigned idx, void **out, unsigned n) {
  if (caches->transfer == NULL) return 0;
  np_transfer_class *t = &caches->transfer[idx];
  if (__atomic_load_n(&t->count, __ATOMIC_RELAXED) == 0) return 0; /* a hint: no lock for nothing */
  np_lock_acquire(&t->lock);
  unsigned k = n < t->count ? n : t->count;
  __atomic_store_n(&t->count, t->count - k, __ATOMIC_RELAXED);
  memcpy(out, t->slots + t->count, k * sizeof(void *));
  np_lock_release(&t->lock);
  return k;
}

unsigned np_transfer_flush(np_caches *caches, unsigned idx) {
  void *batch[64];
  unsigned total = 0, got;
  while ((got = np_transfer_remove(caches, idx, batch, 64)) > 0) {
    np_arena_free_cached(caches->pool, batch, got);
    total += got;
  }
  return total;
}

unsigned np_transfer_count(np_caches *caches, unsigned idx) {
  return caches->transfer ? __atomic_load_n(&caches->transfer[idx].count, __ATOMIC_RELAXED) : 0;
}

void np_transfer_fork_lock(np_caches *caches) {
  for (unsigned c = 0; caches->transfer && c < caches->n_cached; c++)
    np_lock_acquire(&caches->transfer[c].lock);
}

void np_transfer_fork_unlock(np_caches *caches) {
  for (unsigned c = caches->transfer ? caches->n_cached : 0; c-- > 0;)
    np_lock_release(&caches->transfer[c].lock);
}
