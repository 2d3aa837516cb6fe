/*
 * Cache capacity: how many entries a cache class (a thread's, thread_cache.c,
 * or a CPU's, cpu_cache.c) may hold, for both kinds of cache.
 *
 * A class starts at its configured capacity (small_cache_size or
 * normal_cache_size, a power of two: caches->cache_cap); a large class (above
 * max_cached_buffer_capacity) starts at one block and doubles on overflow up
 * to large_cache_bytes' room (its cache_max_cap), a byte bound of its own, so
 * its growth is not counted against cache_grow_bytes. Netty keeps it
 * there, so a burst of frees larger than it goes to the arena and comes back
 * from it on the next burst (1000 64-byte blocks against 256 entries: three
 * quarters of them take the arena's locks twice per round). Here, as in
 * tcmalloc's thread caches (max_length grows on overflow, shrinks when the
 * scavenger finds a low-water mark), a class whose stack overflows doubles
 * its capacity instead of flushing, up to caches->cache_max_cap (8x, and only as
 * far as cache_grow_bytes allows one class), while the whole cache's growth
 * (the `grown` counter of the thread or CPU, in bytes of blocks) stays within
 * cache_grow_bytes; and a trim that finds entries unused through its interval
 * (a low-water mark above 0), or the class not used at all, halves a grown
 * capacity again. The growth is capacity, not memory: a class
 * holds blocks only while frees outrun allocations.
 *
 * Capacity is not memory: a cache also has a byte budget (cache_max_bytes,
 * tcmalloc's per-CPU cache size): a class that overflows while its cache
 * holds that many bytes of blocks does not grow but gives half of itself
 * back; the other class holding the most gives up half of its capacity (below
 * its configured one if need be: `grown` goes negative) and what no longer
 * fits, and so does the overflowing class if its capacity alone is more than
 * the budget, so that the capacities of a cache under pressure shrink to about
 * the budget (np_cache_over_budget decides; the caches count what they hold off
 * the fast path too). A class that overflows later under the budget doubles
 * back.
 *
 * Both run off the fast path (a full stack, a trim); the fast paths compare
 * the count with the current capacity as before. These functions only decide;
 * the caches store the capacity (a CPU's by CAS, so that two threads that grow
 * the same CPU's class count the growth once).
 */
#include "core/cache/cache_internal.h"

#define GROWTH_FACTOR_MAX 8

void np_cache_capacity_init(np_caches *caches) {
  size_t budget = caches->cfg->cache_grow_bytes;
  for (unsigned c = 0; c < caches->n_cached; c++) {
    uint32_t cap = caches->cache_cap[c], max = cap;
    size_t size = np_index_to_size(&caches->pool->sc, c);
    /* (a large class grows to its room, set with its start: a byte bound of its own) */
    if (np_cache_class_is_large(caches, c)) continue;
    if (cap)
      while (max < NP_MAX_CACHE_ENTRIES && max < cap * GROWTH_FACTOR_MAX &&
             (size_t)(max * 2 - cap) * size <= budget)
        max *= 2;
    caches->cache_max_cap[c] = max;
  }
}

size_t np_cache_capacity_growth_bytes(const np_caches *caches, unsigned idx, uint32_t entries) {
  return np_cache_class_is_large(caches, idx) ? 0 : np_cache_capacity_bytes(caches, idx, entries);
}

uint32_t np_cache_capacity_grown(const np_caches *caches, unsigned idx, uint32_t cap, intptr_t grown) {
  if (cap == 0 || cap >= caches->cache_max_cap[idx]) return cap;
  if (grown + (intptr_t)np_cache_capacity_growth_bytes(caches, idx, cap) > (intptr_t)caches->cfg->cache_grow_bytes)
    return cap;
  if (np_cache_capacity_over_budget(caches, idx, cap * 2)) return cap; /* (it would give it up again) */
  return cap * 2;
}

uint32_t np_cache_capacity_shrunk(const np_caches *caches, unsigned idx, uint32_t cap, uint32_t low_water,
                                  uint64_t hits) {
  if (low_water == 0 && hits) return cap; /* in use, and every entry was */
  return cap > caches->cache_cap[idx] ? cap / 2 : cap;
}

uint32_t np_cache_capacity_given_up(uint32_t cap) { return cap > 1 ? cap / 2 : cap; }

bool np_cache_capacity_over_budget(const np_caches *caches, unsigned idx, uint32_t cap) {
  size_t budget = caches->cfg->cache_max_bytes;
  return budget && cap > 1 && np_cache_capacity_bytes(caches, idx, cap) > budget;
}

bool np_cache_over_budget(const np_caches *caches, unsigned idx, size_t held) {
  size_t budget = caches->cfg->cache_max_bytes;
  return budget && held + np_index_to_size(&caches->pool->sc, idx) > budget;
}

bool np_cache_class_is_large(const np_caches *caches, unsigned idx) {
  return np_index_to_size(&caches->pool->sc, idx) > caches->cfg->max_cached_buffer_capacity;
}

size_t np_cache_capacity_bytes(const np_caches *caches, unsigned idx, uint32_t entries) {
  return (size_t)entries * np_index_to_size(&caches->pool->sc, idx);
}
