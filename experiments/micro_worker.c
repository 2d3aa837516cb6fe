/*
 * One allocator's single-thread micro benchmark (experiments/micro.c runs one
 * of these per allocator and repeat, interleaved). Built once per allocator:
 *
 *   micro_npool_<s>  np_alloc / np_free on an allocator with np_config_from_env() (NPOOL_CONF; unset: the defaults)
 *                    (MICRO_NPOOL), called directly: no function pointer
 *   micro_<baseline> malloc / free of a binary that links that allocator
 *                    (baseline/<name>.c checks that malloc is really it);
 *                    micro_glibc under LD_PRELOAD=libnpool_malloc_<s>.so is
 *                    npool through the malloc library (--preloaded-npool
 *                    checks that malloc is npool's)
 *
 * For each size, two patterns, each timed over the same number of pairs:
 *   immediate  allocate, write one byte, free: a cache's best case
 *   batched    BATCH allocations (one byte written per 4 KiB of each), then
 *              their frees in allocation order: where refills and flushes
 *              show (BATCH is 1000, 64 at 1 MiB; at most 1 GiB touched per
 *              measurement, so fewer pairs at the large sizes)
 * Output, one line per measurement: "<pattern> <size> <ns per pair>".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef MICRO_NPOOL
#include "npool.h"
static np_allocator *g_np;
#define ALLOC(n) np_alloc(g_np, (n))
#define FREE(p) np_free(g_np, (p))
#else
#include "baseline/bench_alloc.h"
#define ALLOC(n) malloc(n)
#define FREE(p) free(p)
#endif

#define USE_PTR(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static volatile uintptr_t g_sink;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die_nomem(size_t size) {
  fprintf(stderr, "micro_worker: could not allocate %zu bytes: %s\n", size, strerror(errno));
  exit(1);
}

__attribute__((noinline)) static double immediate(size_t size, long pairs) {
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (long i = 0; i < pairs; i++) {
    char *p = ALLOC(size);
    if (__builtin_expect(p == NULL, 0)) die_nomem(size);
    *(volatile char *)p = (char)i;
    USE_PTR(p);
    acc += (uintptr_t)p;
    FREE(p);
  }
  double t1 = now_ns();
  g_sink = acc;
  return (t1 - t0) / (double)pairs;
}

__attribute__((noinline)) static double batched(size_t size, long pairs, void **blocks, long batch) {
  long rounds = pairs / batch > 0 ? pairs / batch : 1;
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (long r = 0; r < rounds; r++) {
    for (long i = 0; i < batch; i++) {
      char *p = ALLOC(size);
      if (__builtin_expect(p == NULL, 0)) die_nomem(size);
      for (size_t off = 0; off < size; off += 4096) *(volatile char *)(p + off) = (char)i;
      blocks[i] = p;
    }
    for (long i = 0; i < batch; i++) {
      acc += (uintptr_t)blocks[i];
      FREE(blocks[i]);
    }
  }
  double t1 = now_ns();
  g_sink = acc;
  return (t1 - t0) / (double)(rounds * batch);
}

/* Which allocator this process measures; 0 when it is the one named. */
static int identity(int preloaded_npool, char *buf, size_t len) {
#ifdef MICRO_NPOOL
  (void)preloaded_npool;
  snprintf(buf, len, "np_alloc/np_free, strategy %s", np_strategy_name());
  return 0;
#else
  if (!preloaded_npool) return bench_alloc_identity(buf, len);
  /* npool's malloc library must be the one that serves malloc. */
  void *(*def)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "np_default_allocator");
  size_t (*usable)(void *, const void *) = (size_t(*)(void *, const void *))dlsym(RTLD_DEFAULT, "np_usable_size");
  const char *(*strategy)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "np_strategy_name");
  void *volatile p = malloc(64);
  int ok = def && usable && strategy && def() && usable(def(), p) >= 64;
  free(p);
  snprintf(buf, len, "malloc/free from npool's malloc library (LD_PRELOAD), strategy %s (%s)",
           strategy ? strategy() : "?", ok ? "verified: np_usable_size knows malloc's block" : "NOT npool");
  return !ok;
#endif
}

int main(int argc, char **argv) {
  long pairs = 1000000;
  int preloaded_npool = 0, immediate_only = 0;
  size_t sizes[16];
  int n_sizes = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--pairs") && i + 1 < argc) pairs = atol(argv[++i]);
    else if (!strcmp(argv[i], "--preloaded-npool")) preloaded_npool = 1;
    else if (!strcmp(argv[i], "--immediate-only")) immediate_only = 1; /* for instruction counts */
    else if (!strcmp(argv[i], "--size") && i + 1 < argc && n_sizes < 16) sizes[n_sizes++] = (size_t)atol(argv[++i]);
    else {
      fprintf(stderr, "usage: micro_worker [--pairs N] [--size BYTES]... [--preloaded-npool] [--immediate-only]\n");
      return 2;
    }
  }
  if (pairs < 1 || n_sizes == 0) {
    fprintf(stderr, "micro_worker: --pairs >= 1 and at least one --size\n");
    return 2;
  }
#ifdef MICRO_NPOOL
  np_config cfg = np_config_from_env();
  int rc = np_allocator_create(&cfg, &g_np);
  if (rc != NP_OK) {
    fprintf(stderr, "micro_worker: np_allocator_create: %s\n", np_strerror(rc));
    return 1;
  }
#else
  if (bench_alloc_init() != 0) return 1;
#endif
  char id[512];
  int bad = identity(preloaded_npool, id, sizeof id);
  printf("# %s\n", id);
  if (bad) {
    fprintf(stderr, "micro_worker: not the allocator it should measure: %s\n", id);
    return 3;
  }
  void **blocks = malloc(1000 * sizeof(void *));
  if (blocks == NULL) die_nomem(1000 * sizeof(void *));
  for (int s = 0; s < n_sizes; s++) {
    size_t size = sizes[s];
    long n = size >= (1u << 20) ? (pairs / 10 > 0 ? pairs / 10 : 1) : pairs;
    long batch = size >= (1u << 20) ? 64 : 1000;
    immediate(size, n / 10 + 1); /* warm-up */
    if (immediate_only) {
      printf("immediate %zu %.3f\n", size, immediate(size, n));
      continue;
    }
    batched(size, batch, blocks, batch);
    printf("immediate %zu %.3f\n", size, immediate(size, n));
    /* At most 1 GiB touched per batched measurement (fresh pages fault). */
    long nb = n < (long)((1ul << 30) / size) ? n : (long)((1ul << 30) / size);
    printf("batched %zu %.3f\n", size, batched(size, nb < batch ? batch : nb, blocks, batch));
  }
  free(blocks);
#ifdef MICRO_NPOOL
  np_allocator_destroy(g_np);
#endif
  return 0;
}
