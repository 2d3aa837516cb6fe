/*
 * Metadata memory. npool never calls malloc (it must work as malloc itself):
 * chunk tables, subpages and huge-block records come from here.
 *
 *   size <= 4096: slabs of 64 KiB carved by a bump pointer, one free list per
 *                 32-byte granule, so a slot only ever holds objects of one size
 *   size  > 4096: a mapping of its own; up to META_LARGE_KEEP freed ones are
 *                 kept for the next of the same size (a chunk's page map and
 *                 tables: a chunk made from a retained range then costs no
 *                 system call at all)
 *
 * Kept mappings go back to the system with every purge of the arena
 * (np_meta_release_kept), slabs when the owning arena is destroyed.
 */
#include <string.h>

#include "core/memory/memory.h"
#ifdef NP_FAULT_INJECTION
#include "core/base/fault_inject.h" /* test builds only: the nth np_meta_alloc fails */
#endif

#define SLAB_SIZE (64 * 1024)
#define META_LARGE_KEEP (sizeof ((np_meta *)0)->large_kept / sizeof(void *))

static size_t round_up(size_t v, size_t to) { return (v + to - 1) & ~(to - 1); }

void np_meta_init(np_meta *m) { memset(m, 0, sizeof *m); }

void *np_meta_alloc(np_meta *m, size_t size) {
#ifdef NP_FAULT_INJECTION
  if (np_fault_hit(NP_FAULT_META)) return NULL;
#endif
  if (size == 0) size = 1;
  if (size > NP_META_SLAB_MAX) {
    size_t mapped = round_up(size, 4096);
    for (unsigned i = m->n_large_kept; i-- > 0;)
      if (m->large_kept_size[i] == mapped) {
        void *k = m->large_kept[i];
        m->n_large_kept--;
        m->large_kept[i] = m->large_kept[m->n_large_kept];
        m->large_kept_size[i] = m->large_kept_size[m->n_large_kept];
        memset(k, 0, mapped);
        return k;
      }
    void *p = np_os_map(mapped); /* zero-filled by the system */
    if (p) m->mapped_bytes += mapped;
    return p;
  }
  size_t rounded = round_up(size, NP_META_GRANULE);
  unsigned cls = (unsigned)(rounded / NP_META_GRANULE) - 1;
  void *p = m->free_lists[cls];
  if (p) {
    m->free_lists[cls] = *(void **)p;
    memset(p, 0, rounded);
    return p;
  }
  if ((size_t)(m->bump_end - m->bump) < rounded) {
    char *slab = np_os_map(SLAB_SIZE);
    if (slab == NULL) return NULL;
    m->mapped_bytes += SLAB_SIZE;
    *(void **)slab = m->slabs; /* the first granule links the slabs */
    m->slabs = slab;
    m->bump = slab + NP_META_GRANULE;
    m->bump_end = slab + SLAB_SIZE;
  }
  p = m->bump;
  m->bump += rounded;
  return p; /* fresh slab memory is zero */
}

void np_meta_free(np_meta *m, void *p, size_t size) {
  if (p == NULL) return;
  if (size == 0) size = 1;
  if (size > NP_META_SLAB_MAX) {
    size_t mapped = round_up(size, 4096);
    if (m->n_large_kept < META_LARGE_KEEP) {
      m->large_kept[m->n_large_kept] = p;
      m->large_kept_size[m->n_large_kept++] = mapped;
      return;
    }
    np_os_unmap(p, mapped);
    m->mapped_bytes -= mapped;
    return;
  }
  unsigned cls = (unsigned)(round_up(size, NP_META_GRANULE) / NP_META_GRANULE) - 1;
  *(void **)p = m->free_lists[cls];
  m->free_lists[cls] = p;
}

void np_meta_release_kept(np_meta *m) {
  for (unsigned i = 0; i < m->n_large_kept; i++) {
    np_os_unmap(m->large_kept[i], m->large_kept_size[i]);
    m->mapped_bytes -= m->large_kept_size[i];
  }
  m->n_large_kept = 0;
}

void np_meta_destroy(np_meta *m) {
  np_meta_release_kept(m);
  void *slab = m->slabs;
  while (slab) {
    void *next = *(void **)slab;
    np_os_unmap(slab, SLAB_SIZE);
    slab = next;
  }
  memset(m, 0, sizeof *m);
}
