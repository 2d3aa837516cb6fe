/*
 * Retained memory: what an arena released (an emptied chunk, a freed huge
 * block) stays mapped, so that its next chunk or huge block costs no system
 * call and no page faults (jemalloc's retained extents, mimalloc's segment
 * cache). np_retained in pool.h says what is kept; purge.c says when it
 * goes back to the system.
 *
 *   released:  [chunk A][ huge block B (3 chunks) ]      [chunk C]
 *   retained:  [ one range, 4 chunks              ]      [1 chunk]  (neighbours merge)
 *   taken:     a huge block of 2 chunks: best fit (the smallest range that
 *              holds it, the lowest on a tie), from its start; the rest stays
 *
 * Every function runs under the arena lock. A range that cannot be kept (no
 * decay: today's immediate release; the arena's retained_max reached; no
 * metadata memory for its record) is unmapped at once.
 */
#include "core/pool/pool_internal.h"

static void unmap_range(np_arena *a, char *base, size_t size) {
  np_os_unmap(base, size);
  a->purged_bytes += size;
  a->purges++;
}

static void drop(np_arena *a, np_extent **link) {
  np_extent *e = *link;
  *link = e->next;
  a->retained.bytes -= e->size;
  np_meta_free(&a->meta, e, sizeof *e);
}

char *np_retained_take(np_arena *a, size_t size, size_t alignment, uint64_t *dirty_since) {
  np_extent **best = NULL;
  size_t best_size = SIZE_MAX;
  for (np_extent **link = &a->retained.head; *link; link = &(*link)->next) {
    np_extent *e = *link;
    uintptr_t start = ((uintptr_t)e->base + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (start - (uintptr_t)e->base > e->size || e->size - (start - (uintptr_t)e->base) < size) continue;
    if (e->size < best_size) {
      best = link;
      best_size = e->size;
    }
  }
  if (best == NULL) return NULL;
  np_extent *e = *best;
  char *start = (char *)(((uintptr_t)e->base + alignment - 1) & ~(uintptr_t)(alignment - 1));
  size_t lead = (size_t)(start - e->base), tail = e->size - lead - size;
  *dirty_since = e->dirty_since;
  a->retained.reused_bytes += size;
  if (lead && tail) { /* three pieces: the tail needs a record of its own */
    np_extent *t = np_meta_alloc(&a->meta, sizeof *t);
    if (t == NULL) { /* keep the lead, let the tail go */
      unmap_range(a, start + size, tail);
      a->retained.bytes -= tail;
    } else {
      t->base = start + size;
      t->size = tail;
      t->dirty_since = e->dirty_since;
      t->next = e->next;
      e->next = t;
    }
    e->size = lead;
    a->retained.bytes -= size;
  } else if (lead) {
    e->size = lead;
    a->retained.bytes -= size;
  } else if (tail) {
    e->base += size;
    e->size = tail;
    a->retained.bytes -= size;
  } else {
    drop(a, best);
  }
  return start;
}

void np_retained_put(np_arena *a, char *base, size_t size, uint64_t now) {
  if (a->pool->decay_ns == 0 || a->retained.bytes + size > a->pool->retained_max) {
    unmap_range(a, base, size);
    return;
  }
  np_extent **link = &a->retained.head, *prev = NULL;
  while (*link && (*link)->base < base) {
    prev = *link;
    link = &(*link)->next;
  }
  np_extent *next = *link;
  if (prev && prev->base + prev->size == base) { /* merge down, then maybe up */
    prev->size += size;
    if (next && base + size == next->base) {
      prev->size += next->size;
      if (next->dirty_since < prev->dirty_since) prev->dirty_since = next->dirty_since;
      prev->next = next->next; /* (its bytes were counted already) */
      np_meta_free(&a->meta, next, sizeof *next);
    }
  } else if (next && base + size == next->base) { /* merge up */
    next->base = base;
    next->size += size;
  } else {
    np_extent *e = np_meta_alloc(&a->meta, sizeof *e);
    if (e == NULL) {
      unmap_range(a, base, size);
      return;
    }
    e->base = base;
    e->size = size;
    e->dirty_since = now;
    e->next = next;
    *link = e;
  }
  a->retained.bytes += size;
  np_purge_note_dirty(a, now);
}

uint64_t np_retained_purge(np_arena *a, uint64_t now, int all) {
  uint64_t next_due = 0;
  for (np_extent **link = &a->retained.head; *link;) {
    np_extent *e = *link;
    uint64_t due = e->dirty_since + a->pool->decay_ns;
    if (all || due <= now) {
      unmap_range(a, e->base, e->size);
      drop(a, link);
      continue;
    }
    if (next_due == 0 || due < next_due) next_due = due;
    link = &e->next;
  }
  return next_due;
}

void np_retained_destroy(np_arena *a) {
  while (a->retained.head) {
    np_os_unmap(a->retained.head->base, a->retained.head->size);
    drop(a, &a->retained.head);
  }
}
