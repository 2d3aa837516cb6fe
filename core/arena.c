/*
 * An arena: the unit of sharing. It owns chunks (on its six chunk lists), the
 * subpage list of every small class, its huge blocks and its metadata memory.
 *
 *   request size      path
 *   <= largest small  the class's subpage list, else a new subpage from a chunk
 *   <= chunk size     the chunk lists: q050, q025, q000, qInit, q075, else a new
 *                     chunk (filed in qInit)
 *   >  chunk size     huge: a mapping of its own, unmapped on free
 *
 * Locks (the strategy's np_lock), as in Netty: the arena's lock guards chunks,
 * chunk lists, normal and huge blocks; each small class's lock guards its
 * subpage list and the bitmaps of its subpages. A small allocation that finds a
 * subpage takes only the class lock; anything that touches runs takes the
 * arena lock first, then a class lock if it needs one.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

int np_arena_init(np_arena *a, np_allocator *alloc) {
  memset(a, 0, sizeof *a);
  a->alloc = alloc;
  a->sc = &alloc->sc;
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

static void unmap_huge(np_arena *a, np_region *r) {
  for (size_t off = 0; off < r->size; off += a->sc->chunk_size)
    np_registry_clear(&a->alloc->registry, r->base + off);
  np_os_unmap(r->base, r->size);
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
  for (np_region *r = a->huge; r; r = r->list_next) unmap_huge(a, r);
  for (unsigned i = 0; i < a->sc->n_small; i++) np_lock_destroy(&a->small_locks[i]);
  np_meta_destroy(&a->meta);
  np_lock_destroy(&a->lock);
}

/* ---- Allocation -------------------------------------------------------------- */

static void *alloc_from_chunks(np_arena *a, unsigned idx, np_block_tag owner) {
  static const int order[] = {NP_Q050, NP_Q025, NP_Q000, NP_QINIT, NP_Q075};
  size_t norm = np_index_to_size(a->sc, idx);
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    void *p = np_chunk_list_alloc(&a->lists[order[i]], idx, norm, owner);
    if (p) return p;
  }
  np_chunk *c = np_chunk_new(a);
  if (c == NULL) return NULL;
  void *p = np_chunk_alloc(c, idx, owner);
  if (p == NULL) { /* no metadata memory for a new subpage: keep nothing */
    np_chunk_delete(a, c);
    return NULL;
  }
  a->chunk_allocations++;
  a->mapped_bytes += c->region.size;
  np_chunk_list_add(&a->lists[NP_QINIT], c);
  return p;
}

static void *alloc_huge(np_arena *a, size_t size, size_t alignment) {
  size_t os_page = np_os_page_size();
  /* At least chunk-size alignment: it lets the registry find the block from any address. */
  if (alignment < a->sc->chunk_size) alignment = a->sc->chunk_size;
  if (size > SIZE_MAX - alignment - os_page) return NULL;
  size_t mapped = size ? (size + os_page - 1) & ~(os_page - 1) : os_page;
  char *mem = np_os_map_aligned(mapped, alignment);
  if (mem == NULL) return NULL;
  np_lock_acquire(&a->lock);
  np_region *r = np_meta_alloc(&a->meta, sizeof *r);
  int ok = r != NULL;
  if (ok) {
    r->kind = NP_REGION_HUGE;
    r->arena = a;
    r->base = mem;
    r->size = mapped;
    for (size_t off = 0; ok && off < mapped; off += a->sc->chunk_size)
      ok = np_registry_set(&a->alloc->registry, mem + off, r) == NP_OK;
  }
  if (!ok) {
    if (r) {
      unmap_huge(a, r); /* clears what was registered */
      np_meta_free(&a->meta, r, sizeof *r);
    } else {
      np_os_unmap(mem, mapped);
    }
    np_lock_release(&a->lock);
    return NULL;
  }
  r->list_next = a->huge;
  if (a->huge) a->huge->list_prev = r;
  a->huge = r;
  a->huge_stats.allocations++;
  a->huge_stats.active_bytes += mapped;
  a->mapped_bytes += mapped;
  np_lock_release(&a->lock);
  return mem;
}

static void count_alloc(np_kind_counters *k, size_t bytes) {
  NP_ADD(&k->allocations, 1);
  NP_ADD(&k->active_bytes, bytes);
}

void *np_arena_alloc(np_arena *a, size_t size, np_block_tag owner) {
  const np_size_classes *sc = a->sc;
  unsigned idx = np_size_to_index(sc, size);
  void *p = NULL;
  if (idx >= sc->n_sizes) {
    p = alloc_huge(a, size, 0);
  } else {
    if (np_is_small_index(sc, idx)) { /* a subpage with room: the class lock only */
      np_lock_acquire(&a->small_locks[idx]);
      np_subpage *head = &a->small_heads[idx];
      if (head->next != head) p = np_subpage_alloc_block(head->next, owner);
      np_lock_release(&a->small_locks[idx]);
    }
    if (p == NULL) {
      np_lock_acquire(&a->lock);
      p = alloc_from_chunks(a, idx, owner);
      np_lock_release(&a->lock);
    }
    if (p) count_alloc(np_is_small_index(sc, idx) ? &a->small : &a->normal, np_index_to_size(sc, idx));
  }
  if (p == NULL) errno = ENOMEM;
  return p;
}

void *np_arena_alloc_huge(np_arena *a, size_t size, size_t alignment) {
  void *p = alloc_huge(a, size, alignment);
  if (p == NULL) errno = ENOMEM;
  return p;
}

unsigned np_arena_alloc_batch(np_arena *a, unsigned idx, void **out, unsigned n) {
  const np_size_classes *sc = a->sc;
  unsigned got = 0;
  if (np_is_small_index(sc, idx)) { /* as many as the class's subpages hold, one lock */
    np_lock_acquire(&a->small_locks[idx]);
    np_subpage *head = &a->small_heads[idx];
    while (got < n && head->next != head) out[got++] = np_subpage_alloc_block(head->next, 0);
    np_lock_release(&a->small_locks[idx]);
  }
  if (got < n) { /* the rest from the chunks, under the arena lock once */
    np_lock_acquire(&a->lock);
    while (got < n && (out[got] = alloc_from_chunks(a, idx, 0)) != NULL) got++;
    np_lock_release(&a->lock);
  }
  np_kind_counters *k = np_is_small_index(sc, idx) ? &a->small : &a->normal;
  NP_ADD(&k->allocations, got);
  NP_ADD(&k->active_bytes, (uint64_t)got * np_index_to_size(sc, idx));
  return got;
}

np_arena *np_arena_least_used(np_allocator *alloc) {
  np_arena *best = &alloc->arenas[0];
  for (unsigned i = 1; i < alloc->n_arenas; i++)
    if (atomic_load_explicit(&alloc->arenas[i].bound_threads, memory_order_relaxed) <
        atomic_load_explicit(&best->bound_threads, memory_order_relaxed))
      best = &alloc->arenas[i];
  return best;
}

/* ---- Free -------------------------------------------------------------------- */

static int free_huge(np_arena *a, np_region *r, void *ptr) {
  if (ptr != r->base) return NP_ERR_NOT_BLOCK_START;
  if (r->list_prev) r->list_prev->list_next = r->list_next;
  else a->huge = r->list_next;
  if (r->list_next) r->list_next->list_prev = r->list_prev;
  a->huge_stats.deallocations++;
  a->huge_stats.active_bytes -= r->size;
  a->mapped_bytes -= r->size;
  unmap_huge(a, r);
  np_meta_free(&a->meta, r, sizeof *r);
  return NP_OK;
}

/* Arena lock held. Finds and checks the block under its class lock too (for
 * small blocks), frees it, and gives back runs and chunks that became free. */
static int free_pooled(np_arena *a, np_chunk *c, void *ptr, int from_cache) {
  np_subpage *s = np_chunk_subpage_of(c, ptr);
  np_lock *class_lock = s ? &a->small_locks[s->size_idx] : NULL;
  if (class_lock) np_lock_acquire(class_lock);
  np_block_ref ref;
  int rc = np_chunk_find_block(c, ptr, &ref);
  if (rc == NP_OK && s && !np_subpage_is_allocated(s, np_handle_bitmap_idx(ref.handle)))
    rc = NP_ERR_DOUBLE_FREE;
  if (rc == NP_OK && (NP_LOAD(ref.tag) & NP_TAG_CACHED) && !from_cache) rc = NP_ERR_DOUBLE_FREE;
  if (rc != NP_OK) {
    if (class_lock) np_lock_release(class_lock);
    return rc;
  }
  NP_STORE(ref.tag, 0);
  np_kind_counters *k = s ? &a->small : &a->normal;
  NP_ADD(&k->deallocations, 1);
  NP_ADD(&k->active_bytes, -(uint64_t)ref.size);
  uint64_t run = ref.handle;
  if (s) {
    int keep = np_subpage_free(s, &a->small_heads[s->size_idx], np_handle_bitmap_idx(ref.handle));
    if (!keep) { /* the subpage emptied and left its list: its run goes back */
      run = np_handle_make(s->run_offset, s->run_pages, 1);
      NP_STORE(&c->subpages[s->run_offset], NULL);
      np_subpage_delete(a, s);
    }
    np_lock_release(class_lock);
    if (keep) return NP_OK;
  }
  if (!np_chunk_list_free_run(c->list, c, run)) {
    a->chunk_deallocations++;
    a->mapped_bytes -= c->region.size;
    np_chunk_delete(a, c);
  }
  return NP_OK;
}

int np_arena_free(np_arena *a, np_region *r, void *ptr, int from_cache) {
  np_lock_acquire(&a->lock);
  int rc;
  /* Checked again under the lock: a racing free may have released the region. */
  if (np_registry_get(&a->alloc->registry, ptr) != r) rc = NP_ERR_FOREIGN_POINTER;
  else if (r->kind == NP_REGION_HUGE) rc = free_huge(a, r, ptr);
  else rc = free_pooled(a, (np_chunk *)r, ptr, from_cache);
  np_lock_release(&a->lock);
  return rc;
}

size_t np_arena_usable_size(np_arena *a, np_region *r, const void *ptr) {
  size_t size = 0;
  np_lock_acquire(&a->lock);
  if (np_registry_get(&a->alloc->registry, ptr) == r) {
    if (r->kind == NP_REGION_HUGE) {
      size = ptr == r->base ? r->size : 0;
    } else {
      np_chunk *c = (np_chunk *)r;
      np_subpage *s = np_chunk_subpage_of(c, ptr);
      if (s) np_lock_acquire(&a->small_locks[s->size_idx]);
      np_block_ref ref;
      if (np_chunk_find_block(c, ptr, &ref) == NP_OK &&
          (s == NULL || np_subpage_is_allocated(s, np_handle_bitmap_idx(ref.handle))) &&
          !(NP_LOAD(ref.tag) & NP_TAG_CACHED))
        size = ref.size;
      if (s) np_lock_release(&a->small_locks[s->size_idx]);
    }
  }
  np_lock_release(&a->lock);
  return size;
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
  for (int i = 0; i < NP_CHUNK_LISTS; i++) {
    np_chunk_list_stats *ls = &out->lists[i];
    for (np_chunk *c = a->lists[i].head; c; c = c->next) {
      if (ls->chunks < NP_STATS_MAX_CHUNKS) ls->usage[ls->chunks] = (uint8_t)np_chunk_usage(c);
      ls->chunks++;
      ls->free_bytes += c->free_bytes;
      for (uint32_t p = 0; p < c->pages; p++) {
        np_subpage *s = c->subpages[p];
        if (s == NULL) continue;
        np_small_class_stats *cs = &out->small_class[s->size_idx];
        np_lock_acquire(&a->small_locks[s->size_idx]);
        cs->subpages++;
        cs->elements += s->max_elems;
        cs->free_elements += s->num_avail;
        np_lock_release(&a->small_locks[s->size_idx]);
      }
    }
  }
  np_lock_release(&a->lock);
}
