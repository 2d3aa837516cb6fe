/*
 * buf_bench: pooled buffers against malloc'd blocks. One op is "allocate a
 * 256-byte buffer, write 256 bytes into it, release it":
 *
 *   bazel run -c opt //experiments:buf_bench [-- --iters N --repeats R]
 *
 * Two patterns: single thread (allocate, write, release in a loop) and
 * handoff (the producer thread allocates and writes, a lock-free SPSC ring
 * hands the buffer to a consumer thread that releases it). ns per op is the
 * median of R repeats (after a warm-up), ratios are to jemalloc.
 *
 *   npool-buf        np_buf_alloc / np_buf_write_bytes / np_buf_release on an
 *                    np_allocator with np_config_default() (leak detection
 *                    simple, 1 in 128 sampled: Netty's default)
 *   npool-buf-noleak the same with leak_detection disabled
 *   glibc            __libc_malloc / memcpy / __libc_free (glibc's own malloc;
 *                    plain malloc is jemalloc's in this binary)
 *   jemalloc         malloc / memcpy / free (this binary links -ljemalloc;
 *                    checked at start-up with mallctl "thread.allocated")
 */
#define _GNU_SOURCE
#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npool.h"
#include "npool_buf.h"

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);

#define SIZE 256
#define RING 1024
#define USE_PTR(p) __asm__ __volatile__("" : : "r"(p) : "memory")

enum { K_NPOOL, K_NPOOL_NOLEAK, K_GLIBC, K_JEMALLOC, K_COUNT };
static const char *const names[K_COUNT] = {"npool-buf", "npool-buf-noleak", "glibc", "jemalloc"};
static np_allocator *np_leak_on, *np_leak_off;
static char src[SIZE];

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline void *make(int k) {
  if (k <= K_NPOOL_NOLEAK) {
    np_buf *b = np_buf_alloc(k == K_NPOOL ? np_leak_on : np_leak_off, SIZE, SIZE);
    if (b == NULL || np_buf_write_bytes(b, src, SIZE) != NP_OK) abort();
    return b;
  }
  void *p = k == K_GLIBC ? __libc_malloc(SIZE) : malloc(SIZE);
  if (p == NULL) abort();
  memcpy(p, src, SIZE);
  USE_PTR(p);
  return p;
}

static inline void drop(int k, void *p) {
  if (k <= K_NPOOL_NOLEAK) {
    if (np_buf_release(p) != NP_OK) abort();
  } else if (k == K_GLIBC) {
    __libc_free(p);
  } else {
    free(p);
  }
}

__attribute__((noinline)) static double run_single(int k, long iters) {
  double t0 = now_ns();
  for (long i = 0; i < iters; i++) drop(k, make(k));
  return (now_ns() - t0) / (double)iters;
}

/* SPSC ring: the producer owns tail, the consumer head. */
static void *ring[RING];
static _Atomic long ring_head, ring_tail;
typedef struct {
  int k;
  long iters;
} job;

static void *consumer(void *arg) {
  job *j = arg;
  long head = 0;
  for (long n = 0; n < j->iters; n++) {
    while (atomic_load_explicit(&ring_tail, memory_order_acquire) == head) __builtin_ia32_pause();
    void *p = ring[head % RING];
    atomic_store_explicit(&ring_head, ++head, memory_order_release);
    drop(j->k, p);
  }
  return NULL;
}

__attribute__((noinline)) static double run_handoff(int k, long iters) {
  job j = {k, iters};
  atomic_store(&ring_head, 0);
  atomic_store(&ring_tail, 0);
  pthread_t t;
  double t0 = now_ns();
  if (pthread_create(&t, NULL, consumer, &j) != 0) abort();
  long tail = 0;
  for (long n = 0; n < iters; n++) {
    void *p = make(k);
    while (tail - atomic_load_explicit(&ring_head, memory_order_acquire) == RING) __builtin_ia32_pause();
    ring[tail % RING] = p;
    atomic_store_explicit(&ring_tail, ++tail, memory_order_release);
  }
  pthread_join(t, NULL);
  return (now_ns() - t0) / (double)iters;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long iters = 2000000;
  int repeats = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--iters") == 0) iters = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--repeats") == 0) repeats = atoi(argv[i + 1]);
  }
  if (argc > 1 && strcmp(argv[argc - 1], "--quick") == 0) iters = 100000, repeats = 1;
  if (repeats < 1 || repeats > 99 || iters < 1) {
    fprintf(stderr, "usage: buf_bench [--iters N] [--repeats R (1..99)] [--quick]\n");
    return 2;
  }
  memset(src, 0x5a, sizeof src);

  /* malloc must be jemalloc's. */
  uint64_t before = 0, after = 0;
  size_t sz = sizeof before;
  if (mallctl("thread.allocated", &before, &sz, NULL, 0) != 0) {
    fprintf(stderr, "buf_bench: jemalloc's mallctl failed\n");
    return 1;
  }
  void *probe = malloc(4096);
  USE_PTR(probe);
  mallctl("thread.allocated", &after, &sz, NULL, 0);
  free(probe);
  if (after - before < 4096) {
    fprintf(stderr, "buf_bench: malloc is not jemalloc's\n");
    return 1;
  }

  np_config cfg = np_config_default();
  if (np_allocator_create(&cfg, &np_leak_on) != NP_OK) return 1;
  cfg.leak_detection = NP_LEAK_DISABLED;
  if (np_allocator_create(&cfg, &np_leak_off) != NP_OK) return 1;

  printf("buf_bench: allocate + write %d bytes + release; ns per op, median of %d x %ld\n", SIZE,
         repeats, iters);
  for (int pattern = 0; pattern < 2; pattern++) {
    double med[K_COUNT];
    double res[K_COUNT][99];
    for (int k = 0; k < K_COUNT; k++) /* warm-up */
      pattern ? run_handoff(k, iters / 10 + 1) : run_single(k, iters / 10 + 1);
    for (int r = 0; r < repeats; r++) /* interleaved */
      for (int k = 0; k < K_COUNT; k++)
        res[k][r] = pattern ? run_handoff(k, iters) : run_single(k, iters);
    for (int k = 0; k < K_COUNT; k++) {
      qsort(res[k], (size_t)repeats, sizeof(double), cmp);
      med[k] = res[k][repeats / 2];
    }
    printf("\n%s\n  %-18s %10s %12s\n",
           pattern ? "handoff (release on another thread, SPSC ring)" : "single thread",
           "allocator", "ns/op", "vs jemalloc");
    for (int k = 0; k < K_COUNT; k++)
      printf("  %-18s %10.1f %11.2fx\n", names[k], med[k], med[k] / med[K_JEMALLOC]);
  }
  /* Not destroyed: a buffer still in a thread cache is fine, and no leaks. */
  return 0;
}
