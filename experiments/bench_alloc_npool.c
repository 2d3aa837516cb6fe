/*
 * The allocator under test for npool's worker binaries (one per strategy:
 * the binary links one //core:npool_<strategy>): np_alloc / np_free on one
 * np_allocator with np_config_from_env() (the defaults unless NPOOL_CONF
 * sets something: a sweep can compare settings, and machine.txt records
 * them), and pooled buffers (np_buf) from it for the pipeline workload. Implements baseline/bench_alloc.h.
 *
 * Its end-of-run check (bench_alloc_finish) is npool's correctness guard:
 * after every thread has exited (and so emptied its thread cache), the stats
 * must show zero active bytes and no refused frees; after
 * np_thread_cache_flush (which also empties per-CPU caches) still zero
 * active bytes and zero cached bytes. Otherwise it returns 3.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "baseline/bench_alloc.h"
#include "baseline/dl_name.h"
#include <stdlib.h>

#include "npool.h"
#include "npool_buf.h"

static np_allocator *g_np;
static atomic_ulong g_free_errors;
static atomic_int g_first_free_error;

int bench_alloc_init(void) {
  np_config cfg = np_config_from_env();
  int rc = np_allocator_create(&cfg, &g_np);
  if (rc != NP_OK) fprintf(stderr, "np_allocator_create: %s\n", np_strerror(rc));
  return rc != NP_OK;
}

int bench_alloc_identity(char *buf, size_t len) {
  /* The cache mode needs an allocator (rseq falls back to per-thread caches
   * where the kernel or glibc offers no rseq registration). */
  np_config cfg = np_config_from_env();
  np_allocator *a = NULL;
  static np_stats st;
  const char *mode = "?", *why = "";
  if (np_allocator_create(&cfg, &a) == NP_OK && np_allocator_stats(a, &st) == NP_OK) {
    mode = st.cache_mode ? st.cache_mode : "?";
    why = st.per_cpu_unavailable ? st.per_cpu_unavailable : "";
  }
  const char *conf = getenv("NPOOL_CONF");
  snprintf(buf, len,
           "np_alloc/np_free and np_buf, np_config_from_env() (NPOOL_CONF=\"%s\"), strategy \"%s\", "
           "caches: %s%s%s%s (in %s)",
           conf ? conf : "", np_strategy_name(), mode, *why ? " (" : "", why, *why ? ")" : "",
           bench_lib_of((void *)&np_alloc));
  np_allocator_destroy(a);
  return 0;
}

int bench_alloc_breakdown(bench_breakdown *out) {
  static np_stats st; /* (large; only the sampling thread calls this) */
  if (np_allocator_stats(g_np, &st) != NP_OK) return 0;
  out->active = st.small.active_bytes + st.normal.active_bytes + st.huge.active_bytes;
  out->thread_cache = st.thread_cached_bytes;
  out->remote = st.remote_cached_bytes;
  out->cpu_cache = st.cpu_cached_bytes;
  out->transfer = st.transfer_cached_bytes;
  out->subpage_free = st.subpage_free_bytes;
  out->pages_resident = st.chunk_free_dirty_bytes;
  out->pages_purged = st.chunk_free_purged_bytes;
  out->retained = st.retained_bytes;
  out->metadata = st.metadata_bytes;
  out->huge_tail = st.huge_tail_bytes;
  return 1;
}

__attribute__((noinline, cold)) static void note_free_error(int rc) {
  int zero = 0;
  atomic_compare_exchange_strong(&g_first_free_error, &zero, rc);
  atomic_fetch_add(&g_free_errors, 1);
}

void *bench_alloc(size_t n) { return np_alloc(g_np, n); }

void bench_free(void *p) {
  int rc = np_free(g_np, p);
  if (__builtin_expect(rc != NP_OK, 0)) note_free_error(rc);
}

void *bench_buf_make(size_t n, const unsigned char *pattern, size_t pattern_len) {
  np_buf *b = np_buf_alloc(g_np, n, n);
  if (b == NULL) return NULL;
  for (size_t off = 0; off < n; off += pattern_len) {
    size_t k = n - off < pattern_len ? n - off : pattern_len;
    int rc = np_buf_write_bytes(b, pattern, k);
    if (rc != NP_OK) {
      note_free_error(rc);
      break;
    }
  }
  return b;
}

uint64_t bench_buf_consume(void *buf, size_t *len) {
  np_buf *b = buf;
  size_t n = 0;
  uint8_t first = 0, last = 0;
  int rc = np_buf_readable_bytes(b, &n);
  if (rc == NP_OK && n) rc = np_buf_get_u8(b, 0, &first);
  if (rc == NP_OK && n) rc = np_buf_get_u8(b, n - 1, &last);
  if (rc != NP_OK) note_free_error(rc);
  *len = n;
  rc = np_buf_release(b);
  if (rc != NP_OK) note_free_error(rc);
  return (uint64_t)first + last;
}

int bench_alloc_finish(void) {
  int status = 0;
  unsigned long bad = atomic_load(&g_free_errors);
  if (bad) {
    fprintf(stderr, "workload_worker: %lu npool calls failed, the first with: %s\n", bad,
            np_strerror(atomic_load(&g_first_free_error)));
    status = 3;
  }
  static np_stats st;
  int rc = np_allocator_stats(g_np, &st);
  if (rc != NP_OK) {
    fprintf(stderr, "np_allocator_stats: %s\n", np_strerror(rc));
    return 3;
  }
  uint64_t active = st.small.active_bytes + st.normal.active_bytes + st.huge.active_bytes;
  uint64_t cached = st.cached_bytes, caches = st.thread_caches;
  np_thread_cache_flush(g_np);
  rc = np_allocator_stats(g_np, &st);
  if (rc != NP_OK) return 3;
  uint64_t active2 = st.small.active_bytes + st.normal.active_bytes + st.huge.active_bytes;
  printf("# npool stats after join: active_bytes=%llu cached_bytes=%llu thread_caches=%llu "
         "invalid_frees=%llu mapped_bytes=%llu cache_mode=\"%s\"; after np_thread_cache_flush: "
         "active_bytes=%llu cached_bytes=%llu\n",
         (unsigned long long)active, (unsigned long long)cached, (unsigned long long)caches,
         (unsigned long long)st.invalid_frees, (unsigned long long)st.mapped_bytes,
         st.cache_mode ? st.cache_mode : "?", (unsigned long long)active2,
         (unsigned long long)st.cached_bytes);
  if (active != 0 || active2 != 0 || st.invalid_frees != 0 || st.cached_bytes != 0) {
    fprintf(stderr,
            "workload_worker: npool (%s) correctness guard failed after all threads joined: "
            "%llu active bytes (%llu after a cache flush), %llu refused frees, %llu bytes still "
            "cached after the flush (expected all 0)\n",
            np_strategy_name(), (unsigned long long)active, (unsigned long long)active2,
            (unsigned long long)st.invalid_frees, (unsigned long long)st.cached_bytes);
    status = 3;
  }
  np_allocator_destroy(g_np);
  return status;
}
