/*
 * A binary min-heap of free-run handles. Handles keep the run offset in their
 * top bits, so the smallest handle is the lowest-offset run: allocation takes
 * the best-fitting run at the lowest address (Netty's LongPriorityQueue).
 * pos[offset] remembers where each run sits so that merging can remove a
 * neighbour from the middle of its heap in O(log n).
 */
#include "core/pool/pool_internal.h"

static void place(np_run_heap *h, uint32_t *pos, uint32_t i, uint64_t handle) {
  h->items[i] = handle;
  pos[np_handle_offset(handle)] = i;
}

static void sift_up(np_run_heap *h, uint32_t *pos, uint32_t i, uint64_t handle) {
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (h->items[parent] <= handle) break;
    place(h, pos, i, h->items[parent]);
    i = parent;
  }
  place(h, pos, i, handle);
}

static void sift_down(np_run_heap *h, uint32_t *pos, uint32_t i, uint64_t handle) {
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= h->len) break;
    if (child + 1 < h->len && h->items[child + 1] < h->items[child]) child++;
    if (handle <= h->items[child]) break;
    place(h, pos, i, h->items[child]);
    i = child;
  }
  place(h, pos, i, handle);
}

void np_run_heap_push(np_run_heap *h, uint32_t *pos, uint64_t handle) {
  /* Capacity is the most free runs of this class a chunk can hold at once
   * (free runs are never adjacent), so this cannot overflow. */
  sift_up(h, pos, h->len++, handle);
}

static void remove_at(np_run_heap *h, uint32_t *pos, uint32_t i) {
  uint64_t last = h->items[--h->len];
  if (i == h->len) return;
  if (i > 0 && last < h->items[(i - 1) / 2])
    sift_up(h, pos, i, last);
  else
    sift_down(h, pos, i, last);
}

void np_run_heap_remove(np_run_heap *h, uint32_t *pos, uint64_t handle) {
  remove_at(h, pos, pos[np_handle_offset(handle)]);
}
