/*
 * An allocator's caches as a whole: set up over a pool (the secret of the
 * free marks, the thread caches' settings and table, per-CPU caches where the
 * strategy has them) and torn down.
 */
#include <time.h>
#include <unistd.h>

#include "core/cache/cache_internal.h"

/* The secret of the free marks: bit 63 set, so that no mark is 0 or a small
 * number, and different per allocator and process (sys/random would do, but
 * it may block early at boot; a mix of clock, address and stack is enough:
 * the mark guards against accidents, not adversaries). */
static uint64_t free_key_new(const np_caches *caches) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)caches ^
               ((uintptr_t)&ts << 16) ^ (uint64_t)getpid() << 48;
  x ^= x >> 33; /* splitmix64's finaliser */
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x | (1ull << 63);
}

int np_caches_init(np_caches *caches, np_pool *pool, const np_config *cfg) {
  caches->pool = pool;
  caches->cfg = cfg;
  caches->free_key = free_key_new(caches);
  caches->exact_claims = cfg->exact_double_free != 0;
  np_tcaches_init(caches);
  int rc = np_cpu_cache_init(caches);
  if (rc != NP_OK) np_tcaches_destroy(caches);
  return rc;
}

void np_caches_destroy(np_caches *caches) {
  np_tcaches_destroy(caches);
  np_cpu_cache_destroy(caches);
}
