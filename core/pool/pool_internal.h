/* The pool layer's own functions, shared by its files (and its unit tests);
 * pool.h is what the layers above see. */
#ifndef NP_POOL_INTERNAL_H
#define NP_POOL_INTERNAL_H

#include "core/pool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* run_heap.c: min-heap of free-run handles; pos[run offset] tracks each
 * run's index so any run can be removed in O(log n). */
NP_INTERNAL void np_run_heap_push(np_run_heap *h, uint32_t *pos, uint64_t handle);
NP_INTERNAL void np_run_heap_remove(np_run_heap *h, uint32_t *pos, uint64_t handle);

/* chunk_fit.c: the arena's chunks by the free-run classes they hold (arena
 * lock). reserve: room for one more chunk (before np_chunk_new files it);
 * find: the chunk with the best-fitting run of `pages`, lowest address first. */
NP_INTERNAL int np_chunk_fit_reserve(np_arena *arena);
NP_INTERNAL void np_chunk_fit_add(np_arena *arena, np_chunk *chunk, unsigned pidx);
NP_INTERNAL void np_chunk_fit_remove(np_arena *arena, np_chunk *chunk, unsigned pidx);
NP_INTERNAL np_chunk *np_chunk_fit_find(np_arena *arena, size_t pages);
NP_INTERNAL void np_chunk_fit_destroy(np_arena *arena);

/* chunk.c: runs inside a chunk. */
NP_INTERNAL np_chunk *np_chunk_new(np_arena *arena);
NP_INTERNAL void np_chunk_delete(np_arena *arena, np_chunk *chunk);
NP_INTERNAL uint64_t np_chunk_alloc_run(np_chunk *chunk, size_t pages); /* 0: no room */
NP_INTERNAL void np_chunk_free_run(np_chunk *chunk, uint64_t handle);
/* A block of class size_idx (small or normal) from this chunk, its tag set to
 * NP_TAG_OUT | owner; NULL: no room (or no metadata memory for a new
 * subpage). Arena lock held. */
NP_INTERNAL void *np_chunk_alloc(np_chunk *chunk, unsigned size_idx, np_block_tag owner);
NP_INTERNAL int np_chunk_usage(const np_chunk *chunk);
/* The address of the element a subpage handle names. */
static inline void *np_subpage_block(const np_subpage *s, uint64_t handle) {
  return np_chunk_base(s->chunk) + ((size_t)s->run_offset << s->chunk->region.arena->sc->page_shift) +
         (size_t)np_handle_bitmap_idx(handle) * s->elem_size;
}


/* subpage.c: small elements inside a run. */
NP_INTERNAL np_subpage *np_subpage_new(np_chunk *chunk, unsigned size_idx, uint32_t run_offset,
                                       uint32_t run_pages);
NP_INTERNAL void np_subpage_delete(np_arena *arena, np_subpage *s);
/* An element of s, tagged NP_TAG_OUT | owner: its address (NULL if s is full). */
NP_INTERNAL void *np_subpage_alloc_block(np_subpage *s, np_block_tag owner);
NP_INTERNAL bool np_subpage_is_allocated(const np_subpage *s, uint32_t idx);
/* True while the subpage stays in use, false when its run must go back to
 * the chunk (the subpage is off its list then). */
NP_INTERNAL bool np_subpage_free(np_subpage *s, np_subpage *head, uint32_t bitmap_idx);
NP_INTERNAL void np_subpage_head_init(np_subpage *head);

/* chunk_list.c: chunks grouped by usage. */
NP_INTERNAL void np_chunk_lists_init(np_arena *arena);
NP_INTERNAL void *np_chunk_list_alloc(np_chunk_list *list, unsigned size_idx, size_t norm_size,
                                      np_block_tag owner);
NP_INTERNAL void np_chunk_list_add(np_chunk_list *list, np_chunk *chunk);
/* After a block came from `chunk`: up to the next list if its usage passed the
 * upper threshold of its own. */
NP_INTERNAL void np_chunk_list_note_alloc(np_chunk *chunk);
/* Frees a run of chunk (on list); false when the chunk became free and
 * left the lists: the caller destroys it. */
NP_INTERNAL bool np_chunk_list_free_run(np_chunk_list *list, np_chunk *chunk, uint64_t run);

/* arena.c */
NP_INTERNAL int np_arena_init(np_arena *arena, np_pool *pool);
NP_INTERNAL void np_arena_destroy(np_arena *arena);

/* retained.c: released ranges kept mapped (np_retained); arena lock held. */
/* A range of size bytes at a multiple of alignment out of the retained ones
 * (best fit), or NULL; *dirty_since: when its range was released. */
NP_INTERNAL char *np_retained_take(np_arena *arena, size_t size, size_t alignment, uint64_t *dirty_since);
/* Keeps [base, base + size) (chunk-aligned, whole chunks), or unmaps it. */
NP_INTERNAL void np_retained_put(np_arena *arena, char *base, size_t size, uint64_t now);
/* Unmaps the ranges due at now (all: every one); returns the next due time, 0: none. */
NP_INTERNAL uint64_t np_retained_purge(np_arena *arena, uint64_t now, int all);
NP_INTERNAL void np_retained_destroy(np_arena *arena); /* unmaps every range */

/* purge.c: the due times of dirty memory. */
/* Something of arena became dirty at since: its due time is since + decay. */
NP_INTERNAL void np_purge_note_dirty(np_arena *arena, uint64_t since);
/* A run of bytes went back to chunk c: the chunk's free runs are dirty. */
NP_INTERNAL void np_chunk_note_dirty(np_chunk *c, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
