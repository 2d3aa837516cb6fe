/*
 * An arena: the unit of sharing. It owns chunks (on its six chunk lists), the
 * subpage list of every small class, its huge blocks and its metadata memory.
 *
 *   request size      path
 *   <= largest small  the class's subpage list, else a new subpage from a chunk
 *   <= chunk size     the chunk lists: q050, q025, q000, qInit, q075, else a new
 *                     chunk (filed in qInit)
 *   >  chunk size     huge: whole chunks of address space of its own (a
 *                     retained range, else a new mapping), retained on free
 *
 * An emptied chunk and a freed huge block become retained ranges
 * (retained.c), reused by the next chunk or huge block; what stays unused
 * goes back to the system on the decay schedule (purge.c), checked whenever
 * the arena lock is taken for chunks (np_purge_tick).
 *
 * The caches take and give back blocks in batches (np_arena_alloc_batch,
 * np_arena_free_cached): one acquisition of the locks per batch.
 *
 * Locks (the strategy's np_lock), as in Netty: the arena's lock guards chunks,
 * chunk lists, normal and huge blocks; each small class's lock guards its
 * subpage list and the bitmaps of its subpages. A small allocation that finds a
 * subpage takes only the class lock; anything that touches runs takes the
 * arena lock first, then a class lock if it needs one.
 */
#include <errno.h>
#include <string.h>

#include "core/pool/pool_internal.h"

int np_arena_init(np_arena *a, np_pool *pool) {
  memset(a, 0, sizeof *a);
  a->pool = pool;
  a->sc = &pool->sc;
  np_meta_init(&a->meta);
  a->small_heads = np_meta_alloc(&a->meta, a->sc->n_small * sizeof(np_subpage));
  a->small_locks = np_meta_alloc(&a->meta, a->sc->n_small * sizeof(np_lock));
  if (a->small_heads == NULL || a->small_locks == NULL) {
    np_meta_destroy(&a->meta);
    return NP_ERR_NO_MEMORY;
  }
  for (unsigned i = 0; i < a->sc->n_small; i++) {
    np_subpage_head_init(&a->small_heads[i]);
    np_lock_init(&a->small_locks[i]);
  }
  np_chunk_lists_init(a);
  np_lock_init(&a->lock);
  return NP_OK;
}

/* A huge block spans whole chunks of address space (the registry finds it
 * from any of them, and a freed one is a retained range like a chunk); only
 * its page-rounded size is ever touched. */
static size_t huge_span(const np_arena *a, size_t mapped) {
  return (mapped + a->sc->chunk_size - 1) & ~(a->sc->chunk_size - 1);
}

/* A huge block's span leaves the registry (its start marked released) and
 * becomes a retained range. */
static void release_huge(np_arena *a, np_region *r) {
  size_t span = huge_span(a, r->size);
  for (size_t off = a->sc->chunk_size; off < span; off += a->sc->chunk_size)
    np_registry_clear(&a->pool->registry, r->base + off);
  np_registry_mark_released_huge(&a->pool->registry, r->base);
  a->mapped_bytes -= span;
  np_retained_put(a, r->base, span, np_clock_ns());
}

void np_arena_destroy(np_arena *a) {
  for (int i = 0; i < NP_CHUNK_LISTS; i++) {
    np_chunk *c = a->lists[i].head;
    while (c) {
      np_chunk *next = c->next;
      np_chunk_delete(a, c);
      c = next;
    }
  }
  for (np_region *r = a->huge; r; r = r->list_next) release_huge(a, r);
  np_retained_destroy(a);
  np_chunk_fit_destroy(a);
  for (unsigned i = 0; i < a->sc->n_small; i++) np_lock_destroy(&a->small_locks[i]);
  np_meta_destroy(&a->meta);
  np_lock_destroy(&a->lock);
}

/* ---- Allocation -------------------------------------------------------------- */

/* run_placement best_fit: the chunk with the arena's best-fitting free run
 * (chunk_fit.c); netty: the first chunk that has room, list by list. */
static void *alloc_from_existing_chunks(np_arena *a, unsigned idx, np_block_tag owner) {
  static const int order[] = {NP_Q050, NP_Q025, NP_Q000, NP_QINIT, NP_Q075};
  size_t norm = np_index_to_size(a->sc, idx);
  if (a->pool->run_placement == NP_PLACEMENT_BEST_FIT) {
    size_t pages = np_is_small_index(a->sc, idx) ? a->pool->small_runs[idx].run_pages
                                                 : norm >> a->sc->page_shift;
    np_chunk *c = np_chunk_fit_find(a, pages);
    void *p = c ? np_chunk_alloc(c, idx, owner) : NULL;
    if (p) np_chunk_list_note_alloc(c);
    return p;
  }
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    void *p = np_chunk_list_alloc(&a->lists[order[i]], idx, norm, owner);
    if (p) return p;
  }
  return NULL;
}

static void *alloc_from_chunks(np_arena *a, unsigned idx, np_block_tag owner) {
  void *p = alloc_from_existing_chunks(a, idx, owner);
  if (p) return p;
  np_chunk *c = np_chunk_new(a);
  if (c == NULL) return NULL;
  p = np_chunk_alloc(c, idx, owner);
  if (p == NULL) { /* no metadata memory for a new subpage: keep nothing */
    np_chunk_delete(a, c);
    return NULL;
  }
  a->chunk_allocations++;
  np_chunk_list_add(&a->lists[NP_QINIT], c);
  return p;
}

size_t np_huge_block_size(size_t size) {
  size_t page = np_os_page_size();
  if (size == 0) return page;
  return size > SIZE_MAX - page ? 0 : (size + page - 1) & ~(page - 1);
}

static void *alloc_huge(np_arena *a, size_t size, size_t alignment, np_zero zero) {
  /* At least chunk-size alignment: it lets the registry find the block from any address. */
  if (alignment < a->sc->chunk_size) alignment = a->sc->chunk_size;
  if (size > SIZE_MAX - alignment - 2 * a->sc->chunk_size) return NULL;
  size_t mapped = np_huge_block_size(size);
  size_t span = huge_span(a, mapped);
  uint64_t dirty_since = 0;
  np_lock_acquire(&a->lock);
  np_purge_tick(a);
  char *mem = np_retained_take(a, span, alignment, &dirty_since);
  if (mem == NULL) { /* a new mapping, outside the lock; failing, once more after making room */
    np_lock_release(&a->lock);
    mem = np_os_map_aligned(span, alignment);
    if (mem == NULL && np_release_retained(a->pool, a)) mem = np_os_map_aligned(span, alignment);
    if (mem == NULL) return NULL;
    np_lock_acquire(&a->lock);
  }
  np_region *r = np_meta_alloc(&a->meta, sizeof *r);
  int ok = r != NULL;
  if (ok) {
    r->kind = NP_REGION_HUGE;
    r->arena = a;
    r->base = mem;
    r->size = mapped;
    r->span_reused = dirty_since != 0; /* (the pages past it are left as they are: giving
                                          * them back costs the next larger block that
                                          * takes the span a page fault per page) */
    for (size_t off = 0; ok && off < span; off += a->sc->chunk_size)
      ok = np_registry_set(&a->pool->registry, mem + off, r) == NP_OK;
  }
  if (!ok) {
    for (size_t off = 0; off < span; off += a->sc->chunk_size) np_registry_clear(&a->pool->registry, mem + off);
    np_meta_free(&a->meta, r, sizeof *r);
    np_retained_put(a, mem, span, np_clock_ns());
    np_lock_release(&a->lock);
    return NULL;
  }
  r->list_next = a->huge;
  if (a->huge) a->huge->list_prev = r;
  a->huge = r;
  a->huge_stats.allocations++;
  a->huge_stats.active_bytes += mapped;
  a->mapped_bytes += span;
  np_lock_release(&a->lock);
  if (dirty_since && zero == NP_ZERO_NEEDED) memset(mem, 0, mapped); /* retained: written before */
  return mem;
}

static np_kind_counters *counters_of(np_arena *a, unsigned idx) {
  return np_is_small_index(a->sc, idx) ? &a->small : &a->normal;
}

static void count_allocs(np_arena *a, unsigned idx, unsigned n) {
  np_kind_counters *k = counters_of(a, idx);
  NP_ADD(&k->allocations, n);
  NP_ADD(&k->active_bytes, (uint64_t)n * np_index_to_size(a->sc, idx));
}

/* Up to n blocks of class idx off its subpage list; class lock held. */
static unsigned take_from_subpages(np_arena *a, unsigned idx, void **out, unsigned n, np_block_tag owner) {
  np_subpage *head = &a->small_heads[idx];
  unsigned got = 0;
  while (got < n && head->next != head) out[got++] = np_subpage_alloc_block(head->next, owner);
  return got;
}

/* Blocks got..n - 1 from the chunks (a new one when none has room), under
 * the arena lock once; returns the new count. */
static unsigned take_from_chunks(np_arena *a, unsigned idx, void **out, unsigned got, unsigned n,
                                 np_block_tag owner) {
  const int small = np_is_small_index(a->sc, idx);
  np_lock_acquire(&a->lock);
  np_purge_tick(a);
  while (got < n && (out[got] = alloc_from_chunks(a, idx, owner)) != NULL) {
    got++;
    if (small) { /* the new subpage's other elements */
      np_lock_acquire(&a->small_locks[idx]);
      got += take_from_subpages(a, idx, out + got, n - got, owner);
      np_lock_release(&a->small_locks[idx]);
    }
  }
  np_lock_release(&a->lock);
  return got;
}

unsigned np_arena_alloc_batch(np_arena *a, unsigned idx, void **out, unsigned n, np_block_tag owner) {
  const int small = np_is_small_index(a->sc, idx);
  unsigned got = 0;
  if (small) { /* as many as the class's subpages hold: the class lock only */
    np_lock_acquire(&a->small_locks[idx]);
    got = take_from_subpages(a, idx, out, n, owner);
    np_lock_release(&a->small_locks[idx]);
  }
  if (got < n) got = take_from_chunks(a, idx, out, got, n, owner);
  /* Nothing at all: a chunk (or its metadata) could not be mapped. Once more
   * after the arenas' retained memory went back to the system. */
  if (got == 0 && np_release_retained(a->pool, a)) got = take_from_chunks(a, idx, out, 0, n, owner);
  if (got) count_allocs(a, idx, got);
  return got;
}

void *np_arena_alloc(np_arena *a, unsigned idx, np_block_tag owner) {
  void *p;
  if (np_arena_alloc_batch(a, idx, &p, 1, owner) == 1) return p;
  errno = ENOMEM;
  return NULL;
}

void *np_arena_alloc_huge(np_arena *a, size_t size, size_t alignment, np_zero zero) {
  void *p = alloc_huge(a, size, alignment, zero);
  if (p == NULL) errno = ENOMEM;
  return p;
}

np_arena *np_arena_least_used(np_pool *pool) {
  np_arena *best = &pool->arenas[0];
  for (unsigned i = 1; i < pool->n_arenas; i++)
    if (atomic_load_explicit(&pool->arenas[i].bound_threads, memory_order_relaxed) <
        atomic_load_explicit(&best->bound_threads, memory_order_relaxed))
      best = &pool->arenas[i];
  return best;
}

/* ---- Free -------------------------------------------------------------------- */

int np_arena_free_huge(np_arena *a, np_region *r, void *ptr) {
  int rc = NP_ERR_NOT_BLOCK_START;
  np_lock_acquire(&a->lock);
  np_purge_tick(a);
  /* Checked again under the lock: a racing free may have released the region
   * (r may be another region's record by now: only ptr is trusted). */
  np_region *now = np_registry_get(&a->pool->registry, ptr);
  if (now != r) rc = np_free_of_released(a->pool, now, ptr);
  else if (ptr == r->base) {
    if (r->list_prev) r->list_prev->list_next = r->list_next;
    else a->huge = r->list_next;
    if (r->list_next) r->list_next->list_prev = r->list_prev;
    a->huge_stats.deallocations++;
    a->huge_stats.active_bytes -= r->size;
    release_huge(a, r);
    np_meta_free(&a->meta, r, sizeof *r);
    rc = NP_OK;
  }
  np_lock_release(&a->lock);
  return rc;
}

/* Whether ref, found without a lock, still names a block out of the arena:
 * its page still maps to the same run and subpage, the bitmap has the
 * element, the tag says out. Arena lock (and class lock) held. */
static bool still_out(np_arena *a, const void *ptr, const np_block_ref *ref) {
  const np_chunk *c = ref->chunk;
  const np_page_entry *e = &c->map[((uintptr_t)ptr & a->pool->chunk_mask) >> a->sc->page_shift];
  if (!(*ref->tag & NP_TAG_OUT)) return 0;
  if (ref->subpage == NULL) return e->handle == ref->handle;
  return np_handle_is_subpage(e->handle) && np_page_subpage(e) == ref->subpage &&
         np_subpage_is_allocated(ref->subpage, np_handle_bitmap_idx(ref->handle));
}

/* Frees one checked block; the arena lock (and for a small block its class
 * lock) held. Gives back the run of a subpage that emptied and a chunk that
 * became free; returns 0 when it did the latter. */
static bool free_locked(np_arena *a, const np_block_ref *ref) {
  np_chunk *c = ref->chunk;
  np_subpage *s = ref->subpage;
  NP_STORE(ref->tag, 0);
  uint64_t run = ref->handle;
  if (s) {
    if (np_subpage_free(s, &a->small_heads[s->size_idx], np_handle_bitmap_idx(ref->handle))) return 1;
    run = np_handle_make(s->run_offset, s->run_pages, 1); /* it emptied and left its list */
    np_subpage_delete(a, s);
  }
  if (np_chunk_list_free_run(c->list, c, run)) return 1;
  a->chunk_deallocations++;
  np_chunk_delete(a, c);
  return 0;
}

static void count_frees(np_arena *a, unsigned idx, unsigned n) {
  np_kind_counters *k = counters_of(a, idx);
  NP_ADD(&k->deallocations, n);
  NP_ADD(&k->active_bytes, -(uint64_t)n * np_index_to_size(a->sc, idx));
}

static void lock_for(np_arena *a, unsigned idx) {
  np_lock_acquire(&a->lock);
  np_purge_tick(a);
  if (np_is_small_index(a->sc, idx)) np_lock_acquire(&a->small_locks[idx]);
}

static void unlock_for(np_arena *a, unsigned idx) {
  if (np_is_small_index(a->sc, idx)) np_lock_release(&a->small_locks[idx]);
  np_lock_release(&a->lock);
}

int np_arena_free_block(np_arena *a, void *ptr, const np_block_ref *ref) {
  int rc = NP_ERR_DOUBLE_FREE;
  lock_for(a, ref->size_idx);
  if (np_registry_get(&a->pool->registry, ptr) != &ref->chunk->region) rc = NP_ERR_FOREIGN_POINTER;
  else if (still_out(a, ptr, ref)) {
    free_locked(a, ref);
    rc = NP_OK;
  }
  unlock_for(a, ref->size_idx);
  if (rc == NP_OK) count_frees(a, ref->size_idx, 1);
  return rc;
}

void np_arena_free_cached(np_pool *pool, void *const *blocks, unsigned n) {
  np_arena *held = NULL;
  unsigned held_idx = 0, freed = 0;
  uintptr_t last_base = 0;
  np_chunk *c = NULL;
  for (unsigned i = 0; i < n; i++) {
    void *p = blocks[i];
    uintptr_t base = (uintptr_t)p & ~pool->chunk_mask; /* neighbours share their chunk */
    if (base != last_base || c == NULL) {
      c = (np_chunk *)np_registry_get(&pool->registry, p);
      last_base = base;
    }
    np_block_ref ref;
    /* A cached block keeps its chunk and its run: both are found. */
    np_chunk_find_block(pool, c, p, &ref);
    np_arena *a = c->region.arena;
    if (a != held || ref.size_idx != held_idx) {
      if (held) {
        unlock_for(held, held_idx);
        count_frees(held, held_idx, freed);
      }
      lock_for(a, ref.size_idx);
      held = a;
      held_idx = ref.size_idx;
      freed = 0;
    }
    if (!free_locked(a, &ref)) c = NULL; /* that chunk is gone */
    freed++;
  }
  if (held) {
    unlock_for(held, held_idx);
    count_frees(held, held_idx, freed);
  }
}

/* ---- Statistics -------------------------------------------------------------- */

static void add_kind(np_size_kind_stats *out, np_kind_counters *k) {
  uint64_t allocs = NP_LOAD(&k->allocations), deallocs = NP_LOAD(&k->deallocations);
  out->allocations += allocs;
  out->deallocations += deallocs;
  out->active += allocs - deallocs;
  out->active_bytes += NP_LOAD(&k->active_bytes);
}

void np_arena_stats_add(np_arena *a, np_stats *out) {
  np_lock_acquire(&a->lock);
  add_kind(&out->small, &a->small);
  add_kind(&out->normal, &a->normal);
  add_kind(&out->huge, &a->huge_stats);
  out->chunk_allocations += a->chunk_allocations;
  out->chunk_deallocations += a->chunk_deallocations;
  out->mapped_bytes += a->mapped_bytes;
  for (np_region *r = a->huge; r; r = r->list_next)
    if (r->span_reused) out->huge_tail_bytes += huge_span(a, r->size) - r->size;
  out->retained_bytes += a->retained.bytes;
  out->dirty_bytes += np_arena_dirty_bytes(a);
  out->reused_bytes += a->retained.reused_bytes;
  out->purged_bytes += a->purged_bytes;
  out->purges += a->purges;
  out->metadata_bytes += a->meta.mapped_bytes;
  for (int i = 0; i < NP_CHUNK_LISTS; i++) {
    np_chunk_list_stats *ls = &out->lists[i];
    for (np_chunk *c = a->lists[i].head; c; c = c->next) {
      if (ls->chunks < NP_STATS_MAX_CHUNKS) ls->usage[ls->chunks] = (uint8_t)np_chunk_usage(c);
      ls->chunks++;
      ls->free_bytes += c->free_bytes;
      size_t dirty = c->dirty_bytes < c->free_bytes ? c->dirty_bytes : c->free_bytes;
      out->chunk_free_dirty_bytes += dirty;
      out->chunk_free_purged_bytes += c->free_bytes - dirty;
      for (uint32_t p = 0; p < c->pages; p++) {
        uint64_t h = c->map[p].handle;
        if (!np_handle_is_subpage(h) || np_handle_offset(h) != p) continue;
        np_subpage *s = np_page_subpage(&c->map[p]);
        np_small_class_stats *cs = &out->small_class[s->size_idx];
        np_lock_acquire(&a->small_locks[s->size_idx]);
        cs->subpages++;
        cs->elements += s->max_elems;
        cs->free_elements += s->num_avail;
        out->subpage_free_bytes += (uint64_t)s->num_avail * out->small_class[s->size_idx].elem_size;
        np_lock_release(&a->small_locks[s->size_idx]);
      }
    }
  }
  np_lock_release(&a->lock);
}
