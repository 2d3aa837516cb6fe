/*
 * The arena's index of free runs across its chunks, for run_placement
 * "best_fit" (the default): a run of n pages comes from the chunk that has
 * the best-fitting free run of the whole arena (the smallest page-count
 * class that holds n pages), the lowest-addressed such chunk when several
 * do. Address-ordered best fit is the policy with the least fragmentation in
 * the literature (Johnstone and Wilson, "The memory fragmentation problem:
 * solved?", 1998); jemalloc's extents and dlmalloc's bins follow it. It keeps
 * live runs packed into the fewest and lowest chunks, so the others empty and
 * are released, where Netty's chunk lists (q050 before q025 before q000 ...)
 * spread runs over every partly used chunk: on the sweep's net distribution,
 * one arena, no caches, 33.5 MiB of blocks took 72 MiB of chunks with the
 * lists and 44 MiB with this.
 *
 *   chunk->avail          bit k: the chunk has a free run of class k
 *   fit.mask              bit k: some chunk has one
 *   fit.heap k            the chunks with bit k, a min-heap by address
 *                         (chunk->fit_pos[k]: a chunk's place in heap k)
 *
 * A chunk enters heap k when its first free run of class k is filed and
 * leaves it when its last one is taken, so finding the best chunk is one
 * count-trailing-zeros and one load. Page-count classes number at most 52
 * (max_order 14), so one 64-bit mask holds them. Under the arena lock.
 */
#include <string.h>

#include "core/pool/pool_internal.h"

_Static_assert(NP_MAX_PSIZES <= 64, "page-count classes must fit a 64-bit mask");

static np_chunk **heap_of(np_chunk_fit *f, unsigned k) { return f->items + (size_t)k * f->cap; }

static void place(np_chunk **h, unsigned k, uint32_t i, np_chunk *c) {
  h[i] = c;
  c->fit_pos[k] = i;
}

static void sift_up(np_chunk **h, unsigned k, uint32_t i, np_chunk *c) {
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (h[parent]->region.base < c->region.base) break;
    place(h, k, i, h[parent]);
    i = parent;
  }
  place(h, k, i, c);
}

static void sift_down(np_chunk **h, uint32_t len, unsigned k, uint32_t i, np_chunk *c) {
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= len) break;
    if (child + 1 < len && h[child + 1]->region.base < h[child]->region.base) child++;
    if (c->region.base < h[child]->region.base) break;
    place(h, k, i, h[child]);
    i = child;
  }
  place(h, k, i, c);
}

int np_chunk_fit_reserve(np_arena *a) {
  np_chunk_fit *f = &a->fit;
  if (f->chunks < f->cap) return NP_OK;
  uint32_t cap = f->cap ? 2 * f->cap : 8;
  unsigned classes = a->sc->n_psizes;
  np_chunk **items = np_meta_alloc(&a->meta, (size_t)classes * cap * sizeof *items);
  if (items == NULL) return NP_ERR_NO_MEMORY;
  for (unsigned k = 0; k < classes && f->items; k++)
    memcpy(items + (size_t)k * cap, heap_of(f, k), f->len[k] * sizeof *items);
  if (f->items) np_meta_free(&a->meta, f->items, (size_t)classes * f->cap * sizeof *items);
  f->items = items;
  f->cap = cap;
  return NP_OK;
}

void np_chunk_fit_add(np_arena *a, np_chunk *c, unsigned k) {
  np_chunk_fit *f = &a->fit;
  sift_up(heap_of(f, k), k, f->len[k]++, c); /* len <= chunks <= cap: reserved */
  f->mask |= 1ull << k;
}

void np_chunk_fit_remove(np_arena *a, np_chunk *c, unsigned k) {
  np_chunk_fit *f = &a->fit;
  np_chunk **h = heap_of(f, k);
  uint32_t i = c->fit_pos[k];
  np_chunk *last = h[--f->len[k]];
  if (f->len[k] == 0) f->mask &= ~(1ull << k);
  if (i == f->len[k]) return;
  if (i > 0 && last->region.base < h[(i - 1) / 2]->region.base)
    sift_up(h, k, i, last);
  else
    sift_down(h, f->len[k], k, i, last);
}

np_chunk *np_chunk_fit_find(np_arena *a, size_t pages) {
  unsigned need = np_pages_to_pindex(a->sc, pages);
  if (need >= a->sc->n_psizes) return NULL;
  uint64_t m = a->fit.mask >> need;
  if (m == 0) return NULL;
  return heap_of(&a->fit, need + (unsigned)__builtin_ctzll(m))[0];
}

void np_chunk_fit_destroy(np_arena *a) {
  np_chunk_fit *f = &a->fit;
  if (f->items) np_meta_free(&a->meta, f->items, (size_t)a->sc->n_psizes * f->cap * sizeof *f->items);
  memset(f, 0, sizeof *f);
}
