/*
 * A chunk: chunk_size bytes mapped at chunk-size alignment, split into pages,
 * handed out as runs of whole pages (normal sizes) or as runs that a subpage
 * splits into small elements.
 *
 *   page:   0    1    2    3    4    5    6    7    8   ...  pages-1
 *          [ run A (3, used) ][B sub][ free run (4 pages)  ][ used ...
 *
 * Free runs are filed twice:
 *   - run_heaps[floor page-count class of their length]: a min-heap by offset,
 *     so allocation is best fit, lowest offset first;
 *   - free_run_at[first page] and free_run_at[last page]: so that a freed run
 *     finds the free neighbours it must merge with in O(1).
 *
 * Allocating n pages: from the ceiling class of n upward, take the first
 * non-empty heap (a completely free chunk goes straight to the largest class),
 * take its lowest run and split the unused tail off as a new free run.
 * Freeing: merge with the free run ending just before and the one starting just
 * after, then file the merged run.
 *
 * For free by pointer, map[p] (in the chunk's record, np_page_entry) holds the
 * handle of the in-use run that covers page p (0 when the page is free), with
 * the size class of a normal run in its low bits, and for a small run what a
 * free needs of its subpage (tags, magic, element count, class). These tables
 * live out of line, never inside the chunk's pages.
 */
#include <string.h>

#include "core/pool/pool_internal.h"

/* ---- Geometry of the out-of-line tables ----------------------------------- */

/* The most free runs of page-count class pidx one chunk can hold at once: free
 * runs are never adjacent, so n runs of >= p pages need n * p + (n - 1) pages. */
static uint32_t heap_capacity(const np_size_classes *sc, uint32_t pages, unsigned pidx) {
  uint32_t p = (uint32_t)np_pindex_to_pages(sc, pidx);
  return (pages + 1) / (p + 1) + 1;
}

static size_t tables_layout(const np_size_classes *sc, uint32_t pages, size_t *items_total) {
  size_t items = 0;
  for (unsigned i = 0; i < sc->n_psizes; i++) items += heap_capacity(sc, pages, i);
  *items_total = items;
  return sc->n_psizes * sizeof(np_run_heap) + items * sizeof(uint64_t) +
         pages * (sizeof(uint64_t) + sizeof(uint32_t) + sizeof(np_block_tag));
}

/* ---- Free-run bookkeeping ------------------------------------------------- */

static void insert_free_run(np_chunk *c, uint32_t offset, uint32_t pages) {
  const np_size_classes *sc = c->region.arena->sc;
  uint64_t h = np_handle_make(offset, pages, 0);
  unsigned k = np_pages_to_pindex_floor(sc, pages);
  np_run_heap_push(&c->run_heaps[k], c->heap_pos, h);
  if (!(c->avail & (1ull << k))) {
    c->avail |= 1ull << k;
    np_chunk_fit_add(c->region.arena, c, k);
  }
  c->free_run_at[offset] = h;
  c->free_run_at[offset + pages - 1] = h;
}

static void remove_free_run(np_chunk *c, uint64_t h) {
  const np_size_classes *sc = c->region.arena->sc;
  uint32_t offset = np_handle_offset(h), pages = np_handle_pages(h);
  unsigned k = np_pages_to_pindex_floor(sc, pages);
  np_run_heap_remove(&c->run_heaps[k], c->heap_pos, h);
  if (c->run_heaps[k].len == 0) {
    c->avail &= ~(1ull << k);
    np_chunk_fit_remove(c->region.arena, c, k);
  }
  c->free_run_at[offset] = 0;
  c->free_run_at[offset + pages - 1] = 0;
}

/* The free run whose first or last page is `page`, if any. */
static uint64_t free_run_touching(const np_chunk *c, uint32_t page) {
  return page < c->pages ? c->free_run_at[page] : 0;
}

/* ---- Life cycle ----------------------------------------------------------- */

np_chunk *np_chunk_new(np_arena *arena) {
  const np_size_classes *sc = arena->sc;
  uint32_t pages = (uint32_t)(sc->chunk_size >> sc->page_shift);
  size_t record = sizeof(np_chunk) + pages * sizeof(np_page_entry);
  if (np_chunk_fit_reserve(arena) != NP_OK) return NULL;
  np_chunk *c = np_meta_alloc(&arena->meta, record);
  if (c == NULL) return NULL;
  size_t items;
  c->tables_size = tables_layout(sc, pages, &items);
  c->tables = np_meta_alloc(&arena->meta, c->tables_size);
  uint64_t dirty_since = 0; /* a retained range first: no system call, no page faults */
  char *mem = c->tables ? np_retained_take(arena, sc->chunk_size, sc->chunk_size, &dirty_since) : NULL;
  if (mem == NULL && c->tables) mem = np_os_map_aligned(sc->chunk_size, sc->chunk_size);
  if (mem == NULL) {
    np_meta_free(&arena->meta, c->tables, c->tables_size);
    np_meta_free(&arena->meta, c, record);
    return NULL;
  }
  c->region.kind = NP_REGION_CHUNK;
  c->region.arena = arena;
  c->region.base = mem;
  c->region.size = sc->chunk_size;
  c->pages = pages;
  c->free_bytes = sc->chunk_size;

  char *t = c->tables; /* carve the tables, 8-byte fields first */
  c->run_heaps = (np_run_heap *)t;
  t += sc->n_psizes * sizeof(np_run_heap);
  for (unsigned i = 0; i < sc->n_psizes; i++) {
    c->run_heaps[i].items = (uint64_t *)t;
    c->run_heaps[i].cap = heap_capacity(sc, pages, i);
    t += c->run_heaps[i].cap * sizeof(uint64_t);
  }
  c->free_run_at = (uint64_t *)t;
  t += pages * sizeof(uint64_t);
  c->heap_pos = (uint32_t *)t;
  t += pages * sizeof(uint32_t);
  c->run_tags = (np_block_tag *)t;

  if (np_registry_set(&arena->pool->registry, mem, &c->region) != NP_OK) {
    np_retained_put(arena, mem, sc->chunk_size, dirty_since ? dirty_since : np_clock_ns());
    np_meta_free(&arena->meta, c->tables, c->tables_size);
    np_meta_free(&arena->meta, c, record);
    return NULL;
  }
  arena->fit.chunks++;
  insert_free_run(c, 0, pages);
  if (dirty_since) { /* its pages are dirty from their last life: due with their range */
    c->dirty_since = dirty_since;
    c->dirty_bytes = sc->chunk_size;
    np_purge_note_dirty(arena, dirty_since);
  }
  arena->mapped_bytes += sc->chunk_size;
  return c;
}

void np_chunk_delete(np_arena *arena, np_chunk *c) {
  np_registry_clear(&arena->pool->registry, c->region.base);
  atomic_fetch_add_explicit(&arena->pool->chunk_epoch, 1, memory_order_acq_rel);
  /* Subpages still recorded (an allocator destroyed with live blocks). */
  for (uint32_t p = 0; p < c->pages; p++) {
    uint64_t h = c->map[p].handle;
    if (np_handle_is_subpage(h) && np_handle_offset(h) == p) np_subpage_delete(arena, np_page_subpage(&c->map[p]));
  }
  for (uint64_t m = c->avail; m; m &= m - 1) np_chunk_fit_remove(arena, c, (unsigned)__builtin_ctzll(m));
  arena->fit.chunks--;
  c->region.kind = 0; /* a stale reader of this record sees no chunk */
  arena->mapped_bytes -= c->region.size;
  np_retained_put(arena, c->region.base, c->region.size, np_clock_ns());
  np_meta_free(&arena->meta, c->tables, c->tables_size);
  np_meta_free(&arena->meta, c, sizeof(np_chunk) + c->pages * sizeof(np_page_entry));
}

int np_chunk_usage(const np_chunk *c) {
  if (c->free_bytes == 0) return 100;
  int free_pct = (int)(c->free_bytes * 100 / c->region.size);
  if (free_pct == 0) return 99;
  return 100 - free_pct;
}

/* ---- Runs ----------------------------------------------------------------- */

uint64_t np_chunk_alloc_run(np_chunk *c, size_t pages) {
  const np_size_classes *sc = c->region.arena->sc;
  if (pages == 0 || pages > c->pages) return 0;
  unsigned need = np_pages_to_pindex(sc, pages);
  uint64_t fits = need < sc->n_psizes ? c->avail >> need : 0;
  if (fits == 0) return 0;
  unsigned pidx = need + (unsigned)__builtin_ctzll(fits); /* the best-fitting class */
  uint64_t run = c->run_heaps[pidx].items[0];
  remove_free_run(c, run);
  uint32_t offset = np_handle_offset(run), total = np_handle_pages(run);
  if (total > pages) insert_free_run(c, offset + (uint32_t)pages, total - (uint32_t)pages);
  c->free_bytes -= pages << sc->page_shift;
  uint64_t h = np_handle_make(offset, (uint32_t)pages, 1);
  for (uint32_t p = offset; p < offset + pages; p++) NP_STORE(&c->map[p].handle, h);
  return h;
}

void np_chunk_free_run(np_chunk *c, uint64_t handle) {
  uint32_t offset = np_handle_offset(handle), pages = np_handle_pages(handle);
  for (uint32_t p = offset; p < offset + pages; p++) {
    NP_STORE(&c->map[p].handle, 0);
    /* Not NULL: a free racing with this one may have read the old handle and
     * reads the subpage's fields next (found by threads_fuzz): no element. */
    NP_STORE(&c->map[p].max_elems, 0);
    NP_STORE(&c->map[p].tags, (np_block_tag *)np_subpage_none.tags);
  }
  c->free_bytes += (size_t)pages << c->region.arena->sc->page_shift;
  np_chunk_note_dirty(c, (size_t)pages << c->region.arena->sc->page_shift);
  for (;;) { /* merge with the free run that ends right before */
    uint64_t past = offset ? free_run_touching(c, offset - 1) : 0;
    if (past == 0 || np_handle_offset(past) + np_handle_pages(past) != offset) break;
    remove_free_run(c, past);
    offset = np_handle_offset(past);
    pages += np_handle_pages(past);
  }
  for (;;) { /* and with the one that starts right after */
    uint64_t next = free_run_touching(c, offset + pages);
    if (next == 0 || np_handle_offset(next) != offset + pages) break;
    remove_free_run(c, next);
    pages += np_handle_pages(next);
  }
  insert_free_run(c, offset, pages);
}

/* ---- Blocks ----------------------------------------------------------------- */

void *np_chunk_alloc(np_chunk *c, unsigned size_idx, np_block_tag owner) {
  np_arena *arena = c->region.arena;
  const np_size_classes *sc = arena->sc;
  if (!np_is_small_index(sc, size_idx)) {
    uint64_t h = np_chunk_alloc_run(c, np_index_to_size(sc, size_idx) >> sc->page_shift);
    if (h == 0) return NULL;
    uint32_t offset = np_handle_offset(h), pages = np_handle_pages(h);
    NP_STORE(&c->run_tags[offset], (np_block_tag)(NP_TAG_OUT | owner));
    for (uint32_t p = offset; p < offset + pages; p++) NP_STORE(&c->map[p].handle, h | size_idx);
    return np_chunk_base(c) + ((size_t)offset << sc->page_shift);
  }
  /* Small: a new subpage on a fresh run, put on its class list. */
  const np_small_run *geo = &arena->pool->small_runs[size_idx];
  uint64_t run = np_chunk_alloc_run(c, geo->run_pages);
  if (run == 0) return NULL;
  np_lock_acquire(&arena->small_locks[size_idx]);
  np_subpage *s = np_subpage_new(c, size_idx, np_handle_offset(run), geo->run_pages);
  void *p = s ? np_subpage_alloc_block(s, owner) : NULL;
  np_lock_release(&arena->small_locks[size_idx]);
  if (s == NULL) np_chunk_free_run(c, run);
  return p;
}
