/*
 * Chunk lists: an arena's chunks grouped by usage, so that allocation prefers
 * chunks that are fairly full (keeping others free to be released).
 *
 *   list   min%  max%   next    prev (on free)
 *   qInit    -    25    q000    qInit (never released: Netty's known problem)
 *   q000     1    50    q025    none  (a chunk falling out is released)
 *   q025    25    75    q050    q000
 *   q050    50   100    q100    q025
 *   q075    75   100    q100    q050
 *   q100   100     -     -      q075
 *
 * After an allocation a chunk moves up when its free bytes fall to the list's
 * lower free threshold; after a free it moves down when free bytes rise above
 * the upper one. The thresholds and the "largest request a member can hold"
 * follow Netty's formulas exactly (including its +0.99999999 rounding).
 */
#include <limits.h>

#include "core/pool/pool_internal.h"

static void list_init(np_chunk_list *l, const char *name, np_chunk_list *next, int min_usage,
                      int max_usage, size_t chunk_size) {
  l->name = name;
  l->next_list = next;
  l->min_usage = min_usage;
  l->max_usage = max_usage;
  int min0 = min_usage < 1 ? 1 : min_usage;
  l->max_capacity = min0 == 100 ? 0 : (size_t)((uint64_t)chunk_size * (100 - min0) / 100);
  /* q100's max usage is Netty's Integer.MAX_VALUE: its threshold is negative
   * (Java saturates the cast); converting a negative double to size_t is
   * undefined in C (found by config_fuzz under clang's UBSan), so it is 0:
   * q100 has no next list and is never allocated from, so nothing moves up. */
  l->free_min_threshold =
      max_usage >= 100 ? 0 : (size_t)((double)chunk_size * (100.0 - max_usage + 0.99999999) / 100.0);
  /* qInit's min usage is -infinity in Netty: its upper threshold is never passed. */
  l->free_max_threshold =
      min_usage == INT_MIN ? SIZE_MAX
      : min_usage == 100   ? 0
                           : (size_t)((double)chunk_size * (100.0 - min_usage + 0.99999999) / 100.0);
}

void np_chunk_lists_init(np_arena *arena) {
  np_chunk_list *q = arena->lists;
  size_t cs = arena->sc->chunk_size;
  list_init(&q[NP_Q100], "q100", NULL, 100, INT_MAX, cs);
  list_init(&q[NP_Q075], "q075", &q[NP_Q100], 75, 100, cs);
  list_init(&q[NP_Q050], "q050", &q[NP_Q100], 50, 100, cs);
  list_init(&q[NP_Q025], "q025", &q[NP_Q050], 25, 75, cs);
  list_init(&q[NP_Q000], "q000", &q[NP_Q025], 1, 50, cs);
  list_init(&q[NP_QINIT], "qInit", &q[NP_Q000], INT_MIN, 25, cs);
  q[NP_Q100].prev_list = &q[NP_Q075];
  q[NP_Q075].prev_list = &q[NP_Q050];
  q[NP_Q050].prev_list = &q[NP_Q025];
  q[NP_Q025].prev_list = &q[NP_Q000];
  q[NP_Q000].prev_list = NULL;
  q[NP_QINIT].prev_list = &q[NP_QINIT];
  if (arena->pool->release_empty_init_chunks) q[NP_QINIT].free_max_threshold = cs - 1;
}

static void link_chunk(np_chunk_list *l, np_chunk *c) {
  c->list = l;
  c->prev = NULL;
  c->next = l->head;
  if (l->head) l->head->prev = c;
  l->head = c;
  l->chunks++;
}

static void unlink_chunk(np_chunk_list *l, np_chunk *c) {
  if (c->prev) c->prev->next = c->next;
  else l->head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->list = NULL;
  l->chunks--;
}

void np_chunk_list_add(np_chunk_list *l, np_chunk *c) {
  while (l->next_list && c->free_bytes <= l->free_min_threshold) l = l->next_list;
  link_chunk(l, c);
}

void np_chunk_list_note_alloc(np_chunk *c) {
  np_chunk_list *l = c->list;
  if (c->free_bytes > l->free_min_threshold) return;
  unlink_chunk(l, c);
  np_chunk_list_add(l->next_list, c);
}

void *np_chunk_list_alloc(np_chunk_list *l, unsigned size_idx, size_t norm_size,
                          np_block_tag owner) {
  if (norm_size > l->max_capacity) return NULL;
  for (np_chunk *c = l->head; c; c = c->next) {
    void *p = np_chunk_alloc(c, size_idx, owner);
    if (p == NULL) continue;
    np_chunk_list_note_alloc(c);
    return p;
  }
  return NULL;
}

/* Moves c down from l (it just left l) to the first list whose upper
 * threshold it is within; returns 0 if it falls out of q000 (or out of qInit
 * under the release policy). */
static bool move_down(np_chunk_list *l, np_chunk *c) {
  for (;;) {
    np_chunk_list *prev = l->prev_list;
    if (prev == NULL || prev == l) return 0;
    if (c->free_bytes <= prev->free_max_threshold) {
      link_chunk(prev, c);
      return 1;
    }
    l = prev;
  }
}

bool np_chunk_list_free_run(np_chunk_list *l, np_chunk *c, uint64_t run) {
  np_chunk_free_run(c, run);
  if (c->free_bytes <= l->free_max_threshold) return 1;
  unlink_chunk(l, c);
  return move_down(l, c);
}
