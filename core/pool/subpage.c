/*
 * A subpage: one run of pages split into equal elements of one small class.
 *
 *   run (3 pages, class 48: 512 elements)
 *   [e0][e1][e2] ... [e511]        bitmap: 8 x 64 bits, bit set = in use
 *
 * The run size is the smallest multiple of the page size that the element size
 * divides exactly, capped at page_size / 16 elements (Netty's calculateRunSize).
 *
 * Allocation takes the "next available" hint left by the last free, else the
 * first zero bit. Each small class has a list (a sentinel head in the arena)
 * of subpages with free elements; the most recently freed-into subpage goes
 * first. A full subpage leaves the list and its first free puts it back. A
 * subpage that becomes completely free stays if it is the only one on its list
 * (to avoid churn), otherwise it leaves and its run goes back to the chunk.
 */
#include <string.h>

#include "core/pool/pool_internal.h"

/* No elements; a tag (0) for a reader that indexes it anyway (a flexible
 * array member's static initialiser: GNU C). */
const np_subpage np_subpage_none = {.elem_magic = 0, .max_elems = 0, .tags = {0, 0, 0, 0}};

/* The header and tags, rounded up to a whole word: the bitmap follows. */
static size_t bitmap_offset(uint32_t elems) {
  return (offsetof(np_subpage, tags) + elems * sizeof(np_block_tag) + 7) & ~(size_t)7;
}

static size_t np_subpage_bytes(uint32_t words, uint32_t elems) {
  return bitmap_offset(elems) + words * sizeof(uint64_t);
}

void np_subpage_head_init(np_subpage *head) { head->prev = head->next = head; }

static void add_to_list(np_subpage *head, np_subpage *s) {
  s->prev = head;
  s->next = head->next;
  head->next->prev = s;
  head->next = s;
}

static void remove_from_list(np_subpage *s) {
  s->prev->next = s->next;
  s->next->prev = s->prev;
  s->prev = s->next = NULL;
}

np_subpage *np_subpage_new(np_chunk *chunk, unsigned size_idx, uint32_t run_offset,
                           uint32_t run_pages) {
  np_arena *arena = chunk->region.arena;
  const np_small_run *geo = &arena->pool->small_runs[size_idx];
  uint32_t words = (geo->max_elems + 63) / 64;
  np_subpage *s = np_meta_alloc(&arena->meta, np_subpage_bytes(words, geo->max_elems));
  if (s == NULL) return NULL;
  s->chunk = chunk;
  s->run_offset = run_offset;
  s->run_pages = run_pages;
  s->elem_size = (uint32_t)np_index_to_size(arena->sc, size_idx);
  s->elem_magic = UINT64_MAX / s->elem_size + 1;
  s->max_elems = geo->max_elems;
  s->num_avail = geo->max_elems;
  s->next_avail = 0;
  s->bitmap_words = words;
  s->size_idx = size_idx;
  s->do_not_destroy = 1;
  s->bitmap = (uint64_t *)((char *)s + bitmap_offset(geo->max_elems));
  /* Every page of the run maps to the subpage for free by pointer (its
   * fields first: a reader that sees the handle finds them). */
  uint64_t h = np_handle_make(run_offset, run_pages, 1) | NP_HANDLE_SUBPAGE_BIT;
  for (uint32_t p = run_offset; p < run_offset + run_pages; p++) {
    np_page_entry *e = &chunk->map[p];
    NP_STORE(&e->tags, s->tags);
    NP_STORE(&e->elem_magic, s->elem_magic);
    NP_STORE(&e->size_idx, size_idx);
    NP_STORE(&e->max_elems, s->max_elems);
    __atomic_store_n(&e->handle, h, __ATOMIC_RELEASE);
  }
  add_to_list(&arena->small_heads[size_idx], s);
  return s;
}

void np_subpage_delete(np_arena *arena, np_subpage *s) {
  if (s->prev) remove_from_list(s);
  np_meta_free(&arena->meta, s, np_subpage_bytes(s->bitmap_words, s->max_elems));
}

static uint32_t find_free_element(const np_subpage *s) {
  for (uint32_t w = 0; w < s->bitmap_words; w++) {
    uint64_t bits = ~s->bitmap[w];
    if (bits) {
      uint32_t idx = w * 64 + (uint32_t)__builtin_ctzll(bits);
      return idx < s->max_elems ? idx : NP_NO_HINT;
    }
  }
  return NP_NO_HINT;
}

/* The element's handle, 0 if s is full. */
static uint64_t alloc_element(np_subpage *s) {
  if (s->num_avail == 0 || !s->do_not_destroy) return 0;
  uint32_t idx = s->next_avail;
  if (idx == NP_NO_HINT) idx = find_free_element(s);
  else s->next_avail = NP_NO_HINT;
  s->bitmap[idx >> 6] |= 1ull << (idx & 63);
  if (--s->num_avail == 0) remove_from_list(s);
  return np_handle_make(s->run_offset, s->run_pages, 1) | NP_HANDLE_SUBPAGE_BIT | idx;
}

void *np_subpage_alloc_block(np_subpage *s, np_block_tag owner) {
  uint64_t h = alloc_element(s);
  if (h == 0) return NULL;
  NP_STORE(&s->tags[np_handle_bitmap_idx(h)], (np_block_tag)(NP_TAG_OUT | owner));
  return np_subpage_block(s, h);
}

bool np_subpage_is_allocated(const np_subpage *s, uint32_t idx) {
  return (s->bitmap[idx >> 6] >> (idx & 63)) & 1;
}

bool np_subpage_free(np_subpage *s, np_subpage *head, uint32_t idx) {
  s->bitmap[idx >> 6] &= ~(1ull << (idx & 63));
  s->next_avail = idx;
  if (s->num_avail++ == 0) {
    add_to_list(head, s); /* it was full: back on the list, first */
    if (s->max_elems > 1) return 1;
  }
  if (s->num_avail != s->max_elems) return 1;
  if (s->prev == s->next) return 1; /* the only subpage of its class: keep it */
  s->do_not_destroy = 0;
  remove_from_list(s);
  return 0;
}
