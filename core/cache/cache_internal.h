/* The cache layer's own functions, between its files (cache.h is what the
 * layers above see); private to core/cache and its tests. */
#ifndef NP_CACHE_INTERNAL_H
#define NP_CACHE_INTERNAL_H

#include "core/cache/cache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* thread_cache.c: the settings of every class (capacities, refills, which are
 * cached), and the table of thread caches. */
NP_INTERNAL void np_tcaches_init(np_caches *caches);
NP_INTERNAL void np_tcaches_destroy(np_caches *caches);
/* Hands n claimed blocks of class idx (linked from first by np_remote's link)
 * to their owner tc's remote list, as many as fit: returns the rest (NULL:
 * all went; all of them when tc is dead), still the caller's. Counts nothing
 * but a drain. */
NP_INTERNAL void *np_tcache_hand_over(np_caches *caches, np_tcache *mine, np_tcache *tc, unsigned idx,
                                      void *first, unsigned n);
/* Frees a linked list of claimed blocks of class idx to the arena, counted
 * as tc's flushes. */
NP_INTERNAL void np_tcache_give_back_list(np_tcache *tc, unsigned idx, void *list);

/* The outbox slot of (owner id, class), and the most blocks a batch of the
 * class holds before it goes: what the owner would take from the arena on a
 * miss (refill_count: fewer blocks of larger classes), at most
 * NP_REMOTE_HANDOVER_BATCH. */
static inline unsigned np_outbox_slot_of(unsigned owner_id, unsigned idx) {
  return (owner_id * 7u + idx) & (NP_OUTBOX_SLOTS - 1);
}
static inline unsigned np_outbox_batch(const np_caches *caches, unsigned idx) {
  unsigned n = caches->refill_count[idx];
  return n < NP_REMOTE_HANDOVER_BATCH ? n : NP_REMOTE_HANDOVER_BATCH;
}
/* remote_outbox.c: with NP_REMOTE_HANDOVER_BATCH > 1, a thread's frees of
 * other threads' blocks wait in its outbox and go over a batch at a time.
 * np_outbox_add: true if ptr waits there (or went with its batch); false if its
 * owner is dead and the block is for the arena. */
NP_INTERNAL bool np_outbox_add(np_caches *caches, np_tcache *mine, np_tcache *owner, unsigned idx, void *ptr);
NP_INTERNAL void np_outbox_send_all(np_caches *caches, np_tcache *mine);
NP_INTERNAL void np_outbox_drop(np_tcache *mine); /* fork child, a thread that did not come along */

/* cache_capacity.c: how far a cache class may grow past its configured size. */
NP_INTERNAL void np_cache_capacity_init(np_caches *caches); /* cache_max_cap from cache_cap */
/* The capacity a class at cap grows to when its stack overflows, given its
 * cache's growth so far (bytes); cap itself when it may not grow. */
NP_INTERNAL uint32_t np_cache_capacity_grown(const np_caches *caches, unsigned idx, uint32_t cap,
                                             intptr_t grown);
/* The capacity a class at cap has after a trim, given its low-water mark and
 * its hits since the last trim: half, if it had grown and entries sat unused
 * or nobody used it. */
NP_INTERNAL uint32_t np_cache_capacity_shrunk(const np_caches *caches, unsigned idx, uint32_t cap,
                                              uint32_t low_water, uint64_t hits);
/* The capacity the class holding the most keeps when its cache is over its
 * byte budget (half; at least 1). */
NP_INTERNAL uint32_t np_cache_capacity_given_up(uint32_t cap);
/* 1 when cap entries of class idx are more bytes than the cache's budget. */
NP_INTERNAL bool np_cache_capacity_over_budget(const np_caches *caches, unsigned idx, uint32_t cap);
/* 1 when a cache holding `held` bytes of blocks would pass its byte budget
 * (cache_max_bytes) with one more block of class idx. */
NP_INTERNAL bool np_cache_over_budget(const np_caches *caches, unsigned idx, size_t held);
NP_INTERNAL size_t np_cache_capacity_bytes(const np_caches *caches, unsigned idx, uint32_t entries);
/* A class above max_cached_buffer_capacity: it starts at one block and grows
 * to its room (cache_max_cap), outside cache_grow_bytes. */
NP_INTERNAL bool np_cache_class_is_large(const np_caches *caches, unsigned idx);
/* ... as counted in a cache's growth (`grown`): 0 for a large class. */
NP_INTERNAL size_t np_cache_capacity_growth_bytes(const np_caches *caches, unsigned idx, uint32_t entries);

/* cpu_cache.c: set up (where the strategy has per-CPU caches) and torn down. */
NP_INTERNAL int np_cpu_cache_init(np_caches *caches);
NP_INTERNAL void np_cpu_cache_destroy(np_caches *caches);
/* Blocks of class idx on every CPU's stack and in the transfer cache (read
 * without locks: exact when no thread allocates or frees). */
NP_INTERNAL uint64_t np_cpu_cache_blocks(np_caches *caches, unsigned idx);

/* transfer_cache.c: batches of free blocks between the per-CPU caches and
 * the arenas. insert copies up to n (returns how many fit), remove takes up
 * to n (returns how many), flush gives a class's blocks to the arenas
 * (returns how many). */
typedef struct np_transfer_class np_transfer_class;
NP_INTERNAL int np_transfer_init(np_caches *caches);
NP_INTERNAL void np_transfer_destroy(np_caches *caches);
NP_INTERNAL unsigned np_transfer_insert(np_caches *caches, unsigned idx, void *const *blocks, unsigned n);
NP_INTERNAL unsigned np_transfer_remove(np_caches *caches, unsigned idx, void **out, unsigned n);
NP_INTERNAL unsigned np_transfer_flush(np_caches *caches, unsigned idx);
NP_INTERNAL unsigned np_transfer_count(np_caches *caches, unsigned idx); /* without the lock */

#ifdef __cplusplus
}
#endif
#endif
