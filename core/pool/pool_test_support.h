// A pool on its own, for the pool layer's unit tests: what the layers above
// do with it (a block of a size, its free by address, the statistics) in a
// few lines, with no cache in between. The tests run on one thread, so they
// call what needs an arena lock without it (the ck strategy's lock is C
// only).
#ifndef NP_POOL_TEST_SUPPORT_H
#define NP_POOL_TEST_SUPPORT_H

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "core/pool/pool_internal.h"

class TestPool {
 public:
  // cfg as the allocator would take it (np_allocator_create checks it first).
  int Create(const np_config &cfg, unsigned arenas = 1) {
    Destroy();
    arenas_.reset(new np_arena[arenas]);  // (np_arena_init sets each)
    int rc = np_pool_init(&p, &cfg, arenas_.get(), arenas);
    if (rc != NP_OK) Destroy();
    else made_ = true;
    return rc;
  }
  ~TestPool() { Destroy(); }
  void Destroy() {
    if (!made_) return;
    np_pool_destroy(&p);
    made_ = false;
  }
  np_arena *arena(unsigned i = 0) { return &p.arenas[i]; }

  // A block of size bytes from arena i: its class's, or a huge block.
  void *Alloc(size_t size, unsigned i = 0) {
    unsigned idx = np_size_class(&p.sc, size);
    if (idx >= p.sc.n_sizes) return np_arena_alloc_huge(arena(i), size, 0, NP_ZERO_NOT_NEEDED);
    return np_arena_alloc(arena(i), idx, 0);
  }
  // Frees a block by its address, as np_free's slow path does.
  int Free(void *ptr) {
    np_region *r = np_registry_get(&p.registry, ptr);
    if (r == NULL || r->kind == NP_REGION_RELEASED_HUGE) return np_free_of_released(&p, r, ptr);
    if (r->kind != NP_REGION_CHUNK) return np_arena_free_huge(r->arena, r, ptr);
    np_block_ref ref;
    int rc = np_chunk_find_block(&p, (np_chunk *)r, ptr, &ref);
    if (rc != NP_OK) return rc;
    if (!(NP_LOAD(ref.tag) & NP_TAG_OUT)) return NP_ERR_DOUBLE_FREE;
    return np_arena_free_block(r->arena, ptr, &ref);
  }
  // The usable size of a live pooled block (its class's size); 0 for
  // anything else.
  size_t UsableSize(const void *ptr) {
    np_region *r = np_registry_get(&p.registry, ptr);
    np_block_ref ref;
    if (r == NULL || r->kind != NP_REGION_CHUNK || np_chunk_find_block(&p, (np_chunk *)r, ptr, &ref) != NP_OK ||
        !(NP_LOAD(ref.tag) & NP_TAG_OUT))
      return 0;
    return np_index_to_size(&p.sc, ref.size_idx);
  }
  // Every arena's counters (np_allocator_stats without the caches).
  void Stats(np_stats *out) {
    std::memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < p.n_arenas; i++) np_arena_stats_add(&p.arenas[i], out);
  }
  np_stats Stats() {
    np_stats s;
    Stats(&s);
    return s;
  }

  np_pool p{};

 private:
  std::unique_ptr<np_arena[]> arenas_;
  bool made_ = false;
};

#endif
