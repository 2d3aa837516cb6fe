/*
 * The library's own allocators (buffer objects, leak records): made on first
 * use with the public API, kept for the life of the process.
 */
#include <errno.h>

#include "buffer_internal.h"

np_allocator *np_private_allocator(np_allocator **slot) {
  np_allocator *a = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (a) return a;
  np_config cfg = np_config_default();
  cfg.arenas = 1;
  cfg.small_cache_size = 0;
  cfg.normal_cache_size = 0;
  cfg.leak_detection = NP_LEAK_DISABLED;
  if (np_allocator_create(&cfg, &a) != NP_OK) {
    errno = ENOMEM;
    return NULL;
  }
  np_allocator *expected = NULL;
  if (__atomic_compare_exchange_n(slot, &expected, a, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return a;
  np_allocator_destroy(a); /* another thread made one first */
  return expected;
}
