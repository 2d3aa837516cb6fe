/*
 * The chunk registry: from any address to the chunk or huge block holding it.
 *
 * Chunks are mapped at chunk-size alignment, so addr >> log2(chunk size) names
 * the chunk slot. A two-level radix tree over a 48-bit address space maps the
 * slot to its np_region:
 *
 *   key = addr >> shift          (48 - shift bits)
 *   root[key >> leaf_bits] -> leaf[key & leaf mask] -> np_region *
 *
 * Readers (every np_free) use atomic loads and no lock; leaves are created
 * under the registry lock and never removed before the allocator dies. A
 * huge block given back leaves np_registry_released_huge on the slot of its
 * start, until a chunk or huge block takes the slot again: a second free of
 * that start is then known for a double free. The
 * root and leaves are reserved mappings: only touched pages cost memory.
 */
#include <string.h>

#include "core/memory/memory.h"

#define LEAF_BITS_MAX 16

int np_registry_init(np_registry *r, unsigned chunk_shift) {
  memset(r, 0, sizeof *r);
  unsigned key_bits = NP_REGISTRY_ADDRESS_BITS - chunk_shift;
  r->shift = chunk_shift;
  r->leaf_bits = key_bits < LEAF_BITS_MAX ? key_bits : LEAF_BITS_MAX;
  r->root_bits = key_bits - r->leaf_bits;
  r->root_shift = chunk_shift + r->leaf_bits;
  r->leaf_mask = ((uintptr_t)1 << r->leaf_bits) - 1;
  r->root_bytes = sizeof(*r->root) << r->root_bits;
  if (r->root_bytes < 4096) r->root_bytes = 4096;
  r->root = np_os_map(r->root_bytes);
  if (r->root == NULL) return NP_ERR_NO_MEMORY;
  np_lock_init(&r->lock);
  return NP_OK;
}

static size_t leaf_bytes(const np_registry *r) { return sizeof(np_region *) << r->leaf_bits; }

void np_registry_destroy(np_registry *r) {
  if (r->root == NULL) return;
  for (size_t i = 0; i < ((size_t)1 << r->root_bits); i++) {
    void *leaf = atomic_load_explicit(&r->root[i], memory_order_relaxed);
    if (leaf) np_os_unmap(leaf, leaf_bytes(r));
  }
  np_os_unmap(r->root, r->root_bytes);
  np_lock_destroy(&r->lock);
  r->root = NULL;
}

int np_registry_set(np_registry *r, const void *addr, np_region *region) {
  size_t ri, li;
  if (!np_registry_key(r, addr, &ri, &li)) return NP_ERR_NO_MEMORY;
  _Atomic(np_region *) *leaf = atomic_load_explicit(&r->root[ri], memory_order_acquire);
  if (leaf == NULL) {
    np_lock_acquire(&r->lock);
    leaf = atomic_load_explicit(&r->root[ri], memory_order_acquire);
    if (leaf == NULL) {
      leaf = np_os_map(leaf_bytes(r));
      if (leaf) atomic_store_explicit(&r->root[ri], leaf, memory_order_release);
    }
    np_lock_release(&r->lock);
    if (leaf == NULL) return NP_ERR_NO_MEMORY;
  }
  atomic_store_explicit(&leaf[li], region, memory_order_release);
  return NP_OK;
}

/* Stores region in addr's slot where its leaf exists (a slot without a leaf
 * was never set: nothing to clear or mark). */
static void store_if_leaf(np_registry *r, const void *addr, np_region *region) {
  size_t ri, li;
  if (!np_registry_key(r, addr, &ri, &li)) return;
  _Atomic(np_region *) *leaf = atomic_load_explicit(&r->root[ri], memory_order_acquire);
  if (leaf) atomic_store_explicit(&leaf[li], region, memory_order_release);
}

void np_registry_clear(np_registry *r, const void *addr) { store_if_leaf(r, addr, NULL); }

np_region np_registry_released_huge = {.kind = NP_REGION_RELEASED_HUGE};

void np_registry_mark_released_huge(np_registry *r, const void *addr) {
  store_if_leaf(r, addr, &np_registry_released_huge);
}

void np_registry_fork_lock(np_registry *r) { np_lock_acquire(&r->lock); }
void np_registry_fork_unlock(np_registry *r) { np_lock_release(&r->lock); }
