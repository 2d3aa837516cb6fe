/*
 * workload_worker: one measurement of the sweep (//experiments:sweep) for ONE
 * allocator, the one implementing baseline/bench_alloc.h that this binary
 * links (workload_<allocator>: npool_<strategy>, glibc, jemalloc, mimalloc,
 * tcmalloc). The sweep runs one process per measurement, so every allocator
 * starts from a fresh heap and allocators never share a process.
 *
 *   workload_<alloc> --workload churn|prodcons|larson|pipeline|xmalloc|burst|shortlived
 *                    --dist fixed64|small|net|mixed|large|invsq --threads N
 *                    [--duration-ms N] [--warmup-ms N] [--slots N] [--ring N]
 *                    [--batch N] [--handoff N] [--seed N] [--pin] [--leak-one]
 *                    [--thread-blocks N] [--rss-trace FILE]
 *   workload_<alloc> --info        one line naming what is measured
 *
 * It prints one line on stdout:
 *   result ops=<pairs> ns=<window> threads=<n> lat_p50=<ns> lat_p99=<ns>
 *          lat_p999=<ns> peak_rss=<bytes> live=<bytes> where=<breakdown>
 *          remote_free=<p50>:<p99>:<p99.9 ns> sink=<x>
 * ops counts alloc+free pairs completed inside the timed window.
 *
 * Workloads (an "op" is one allocation plus one free in each):
 *   churn     thread-local: every thread owns --slots live blocks (default
 *             1000), allocated before timing; each op frees a random slot's
 *             block and puts a new one of the next size there.
 *   prodcons  threads pair up, producer i -> consumer i, through a bounded
 *             lock-free SPSC ring (--ring entries, published every --batch
 *             blocks): producers allocate, consumers free, so every block is
 *             freed by a thread other than the one that allocated it.
 *             ops = blocks freed. Needs an even thread count >= 2.
 *   larson    server-style handoff (after Larson and Krishnan's benchmark):
 *             every thread replaces random blocks of an array of --slots/2
 *             like churn, and every --handoff ops (default 1024) swaps the
 *             whole array with one of the arrays parked in a shared mailbox
 *             (one per thread, atomic exchange at a random index), so it goes
 *             on freeing blocks that other threads allocated.
 *   pipeline  Netty-style: threads/2 I/O threads allocate a buffer of the
 *             next size, fill it (every byte, like a read from a socket) and
 *             hand it through an SPSC ring to their worker thread, which reads
 *             it and releases it. npool: pooled buffers (np_buf_alloc,
 *             np_buf_write_bytes, np_buf_get_u8, np_buf_release); baselines:
 *             malloc, memcpy, loads, free. Needs an even thread count >= 2.
 *   xmalloc   many-to-many (after the xmalloc-test of Lever and Boreham, in
 *             mimalloc-bench): threads/2 producers allocate, threads/2
 *             consumers free; every producer has a ring to every consumer and
 *             sends each --batch of blocks to the next consumer in turn, so a
 *             consumer frees blocks of every producer and a producer's blocks
 *             come back from every consumer. ops = blocks freed (frees per
 *             second). The sweep runs it with fixed64 (64 B blocks).
 *   burst     thread-local bursts: every thread allocates n blocks of one
 *             size (the next of the distribution) and writes each whole,
 *             then frees the first half oldest first and the rest newest
 *             first; n is --burst, or 25, 100, 400 and 1600 in turn. ops =
 *             blocks allocated and freed.
 *   shortlived  threads that live briefly (servers that start a thread per
 *             request, thread pools that shrink): every counting thread
 *             starts a thread, waits for it to exit and starts the next; each
 *             allocates --thread-blocks blocks (default 2 x --slots: 2000) of the
 *             distribution, writing each, frees them (every other one oldest
 *             first, then the rest newest first) and exits, leaving whatever
 *             the allocator keeps per thread to be given back. ops = blocks
 *             allocated and freed.
 * Sizes: experiments/size_dist.h, a table of pre-drawn sizes per thread from
 * a fixed seed (the same sequence for every allocator). Every new block of
 * churn, prodcons and larson gets one byte written per 4 KiB page (a program
 * touches the memory it asks for; it makes RSS comparable), and the first
 * byte read before it is freed; prodcons and xmalloc stamp a block's size in
 * its first 4 bytes for the consumer (every distribution draws at least 4).
 *
 * Timing: all threads start together (barrier), run --warmup-ms untimed, then
 * the main thread opens the timed window (phase 1), sleeps --duration-ms and
 * closes it (phase 2), but not before every counting thread has done an op
 * inside it (a thread starved for a whole short window would count nothing).
 * Each thread looks at the phase every 64 ops. --pin pins threads (pin_cpu).
 * Latency: one allocator call in 16 (an allocation or a free, each timed on
 * its own with the TSC, converted to ns against the window's clock) goes into
 * the thread's log-linear histogram (latency_histogram.h); the percentiles
 * are over all threads' calls inside the window.
 * Memory: peak_rss is the process's peak resident set (getrusage); live is the
 * peak of the bytes the workload held (the sizes it asked for, allocated and
 * not yet freed), sampled every millisecond by the main thread.
 * where: the allocator's bench_alloc_breakdown, taken by the main thread when
 * the resident set (/proc/self/statm) had grown by more than 1% since the last
 * one, so at about the peak: active, thread cache, remote, CPU cache,
 * transfer, subpage free, free pages resident, free pages purged, retained,
 * metadata, then the resident bytes it was taken at, then the span past
 * huge blocks whose span was reused (maybe resident), colon-separated; "-"
 * for an allocator that cannot say. remote_free: the percentiles of the
 * consumers' calls alone (prodcons, xmalloc: every one a free of a block
 * another thread allocated; pipeline: its sampled frees), "-" elsewhere.
 * --rss-trace FILE: every sample (warm-up and window) as a line "<ms since
 * the start> <resident bytes> <live bytes>" into FILE, written at the end
 * from an mmap'd buffer (the first 65536 samples).
 * The harness's own memory (slot arrays, rings, tables) comes from mmap, so
 * the allocator under test serves only the workload's blocks.
 * bench_alloc_finish() runs after every thread joined: npool's correctness
 * guard (nothing active or cached must remain); a failure exits 3
 * (--leak-one, churn: thread 0 leaves one block, provokes it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "baseline/bench_alloc.h"
#include "experiments/latency_histogram.h"
#include "experiments/size_dist.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(NP_SANITIZER)
#define WW_SANITIZER 1
#else
#define WW_SANITIZER 0
#endif

/* ---- Small helpers --------------------------------------------------------- */
#define CACHELINE 64
#define BATCH 64          /* ops between looks at the phase */
#define SIZE_TABLE 4096   /* per-thread table of pre-drawn sizes (power of two) */
#define SPIN_BEFORE_YIELD 64
#define LAT_SAMPLE_MASK 15 /* one call in 16 is timed */
#define PAGE 4096
#define PATTERN 4096      /* pipeline: bytes of the fill pattern */

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "workload_worker: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(1);
}

/* Harness memory: from mmap, never from the allocator under test. */
static void *xmap(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap: %s", strerror(errno));
  return p;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Latency clock: the TSC on x86 (a few ns to read), else the monotonic clock. */
static inline uint64_t ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#else
  return now_ns();
#endif
}

/* --rss-trace: the samples as text, through a buffer of the harness's own
 * (mmap), so that the allocator under test serves nothing of it. */
static void write_trace(const char *path, const uint64_t (*t)[3], size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("--rss-trace: %s", strerror(errno));
  size_t cap = 64 * (n + 1), len = 0;
  char *buf = xmap(cap);
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%llu %llu %llu\n", (unsigned long long)t[i][0],
                            (unsigned long long)t[i][1], (unsigned long long)t[i][2]);
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w <= 0) die("--rss-trace: %s", strerror(errno));
    off += (size_t)w;
  }
  close(fd);
  munmap(buf, cap);
}

/* The process's resident bytes (/proc/self/statm's second field); 0 if unknown. */
static uint64_t resident_bytes(int statm) {
  char buf[128];
  ssize_t n = statm >= 0 ? pread(statm, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long long size, resident;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Spin a little, then give the CPU away (needed when threads > cores). */
static inline void backoff(unsigned *spins) {
  if (++*spins < SPIN_BEFORE_YIELD) cpu_relax();
  else sched_yield();
}

/* ---- Bounded lock-free SPSC ring ------------------------------------------ */
typedef struct spsc_ring {
  /* consumer's line: its index (read by the producer) and its view of tail */
  _Alignas(CACHELINE) atomic_size_t head;
  size_t tail_cache;
  /* producer's line: the published tail, and the producer's own tail, ahead
   * of it by the blocks written but not yet published */
  _Alignas(CACHELINE) atomic_size_t tail;
  size_t head_cache;
  size_t tail_local, tail_published;
  _Alignas(CACHELINE) atomic_int producer_done;
  size_t mask;
  _Alignas(CACHELINE) void *slots[]; /* mask + 1 entries */
} spsc_ring;

static spsc_ring *ring_create(size_t cap) {
  spsc_ring *r = xmap(sizeof *r + cap * sizeof(void *));
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  atomic_init(&r->producer_done, 0);
  r->tail_cache = r->head_cache = r->tail_local = r->tail_published = 0;
  r->mask = cap - 1;
  return r;
}

/* Makes every block pushed so far visible to the consumer. */
static inline void ring_publish(spsc_ring *r) {
  r->tail_published = r->tail_local;
  atomic_store_explicit(&r->tail, r->tail_local, memory_order_release);
}

/* Pushes p; publishes the tail every `batch` blocks (and when the ring is
 * full), so that the two threads exchange the index's cache line once per
 * batch rather than once per block. Returns 0 when the ring is full. */
static inline int ring_push(spsc_ring *r, void *p, size_t batch) {
  size_t t = r->tail_local;
  if (t - r->head_cache > r->mask) {
    ring_publish(r);
    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t - r->head_cache > r->mask) return 0; /* full */
  }
  r->slots[t & r->mask] = p;
  r->tail_local = t + 1;
  if (t + 1 - r->tail_published >= batch) ring_publish(r);
  return 1;
}

static inline void *ring_pop(spsc_ring *r) {
  size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (h == r->tail_cache) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h == r->tail_cache) return NULL; /* empty */
  }
  void *p = r->slots[h & r->mask];
  atomic_store_explicit(&r->head, h + 1, memory_order_release);
  return p;
}

/* ---- Workloads --------------------------------------------------------------- */
enum { WL_CHURN, WL_PRODCONS, WL_LARSON, WL_PIPELINE, WL_XMALLOC, WL_BURST, WL_SHORTLIVED, WL_COUNT };
static const char *const wl_names[] = {"churn",   "prodcons", "larson",    "pipeline",
                                       "xmalloc", "burst",    "shortlived"};
enum { ROLE_CHURN, ROLE_PRODUCER, ROLE_CONSUMER, ROLE_LARSON, ROLE_BURST, ROLE_SHORTLIVED };

/* A live block and the size asked for it. */
typedef struct slot {
  unsigned char *p;
  size_t size;
} slot;

typedef struct worker {
  _Alignas(CACHELINE) int id;
  int role;
  uint64_t rng;
  uint32_t *sizes; /* SIZE_TABLE pre-drawn sizes */
  spsc_ring **rings; /* prodcons, pipeline: its pair's ring; xmalloc: a producer's ring to */
  int n_rings;       /* every consumer, or a consumer's ring from every producer */
  uint64_t ops_start, ops_end;
  uint64_t sink;
  unsigned calls; /* allocator calls, for latency sampling */
  int timing;     /* inside the window: record latencies */
  latency_histogram *lat;
  pthread_t thread;
  /* Bytes this thread allocated minus bytes it freed (may go negative: a
   * consumer frees what its producer allocated); only this thread writes it,
   * the main thread sums all of them. Own cache line. */
  _Alignas(CACHELINE) _Atomic int64_t live;
  /* shortlived: the most `live` reached by one of its threads, which the
   * main thread's 1 ms samples may all miss when the threads are brief. */
  _Atomic int64_t own_peak;
} worker;

static struct {
  int workload, dist, threads;
  long duration_ms, warmup_ms;
  size_t slots, ring, batch, handoff;
  uint64_t seed;
  int leak_one; /* test hook: thread 0 leaves one block allocated */
  int pin;      /* pin threads to CPUs (see pin_cpu) */
  size_t large_slots; /* churn's live blocks per thread with --dist large */
  size_t burst;       /* burst: blocks per burst (0: 25, 100, 400, 1600 in turn) */
  size_t thread_blocks; /* shortlived: blocks each short-lived thread allocates (0: 2 x slots) */
  const char *rss_trace; /* --rss-trace FILE, or NULL */
} g_opt = {WL_CHURN, DIST_FIXED64, 1, 400, 100, 1000, 1024, 32, 1024, 1, 0, 0, 4, 0, 0, NULL};

static _Alignas(CACHELINE) atomic_int g_phase; /* 0 warm-up, 1 timed, 2 stop */
/* Counting threads that have done an op inside the window: the window is not
 * closed before all have (see the header). */
static _Alignas(CACHELINE) atomic_int g_started;
static pthread_barrier_t g_start;
/* larson: the parked arrays, one per thread. */
static _Atomic(slot *) *g_mailbox;
static unsigned char g_pattern[PATTERN];

static inline void live_add(worker *w, int64_t d) {
  atomic_store_explicit(&w->live, atomic_load_explicit(&w->live, memory_order_relaxed) + d,
                        memory_order_relaxed);
}

/* The allocator calls, one in LAT_SAMPLE_MASK + 1 timed while in the window. */
static inline int sample(worker *w) { return w->timing && (++w->calls & LAT_SAMPLE_MASK) == 0; }

__attribute__((noinline, cold)) static void alloc_failed(worker *w, size_t size) {
  fprintf(stderr, "workload_worker: thread %d could not allocate %zu bytes: %s\n", w->id, size,
          strerror(errno));
  exit(1);
}

/* Allocates size bytes and touches every page (its first byte holds v). */
static inline unsigned char *w_alloc(worker *w, size_t size, unsigned char v) {
  unsigned char *p;
  if (sample(w)) {
    uint64_t t = ticks();
    p = bench_alloc(size);
    lh_record(w->lat, ticks() - t);
  } else {
    p = bench_alloc(size);
  }
  if (__builtin_expect(p == NULL, 0)) alloc_failed(w, size);
  for (size_t off = 0; off < size; off += PAGE) *(volatile unsigned char *)(p + off) = v;
  live_add(w, (int64_t)size);
  return p;
}

static inline void w_free(worker *w, unsigned char *p, size_t size) {
  w->sink += *(volatile unsigned char *)p;
  if (sample(w)) {
    uint64_t t = ticks();
    bench_free(p);
    lh_record(w->lat, ticks() - t);
  } else {
    bench_free(p);
  }
  live_add(w, -(int64_t)size);
}

static inline size_t next_size(worker *w, uint64_t r) { return w->sizes[r & (SIZE_TABLE - 1)]; }

/* Looks at the phase after each batch; returns 1 when the thread should stop. */
static inline int check_phase(worker *w, uint64_t ops, int *seen_start) {
  int ph = atomic_load_explicit(&g_phase, memory_order_relaxed);
  if (ph >= 1 && !*seen_start) {
    w->ops_start = ops;
    *seen_start = 1;
    w->timing = 1;
    memset(w->lat, 0, sizeof *w->lat); /* latencies of the window only */
  } else if (*seen_start == 1 && ops > w->ops_start) {
    *seen_start = 2; /* counted an op inside the window */
    atomic_fetch_add_explicit(&g_started, 1, memory_order_relaxed);
  }
  if (ph == 2) {
    w->ops_end = ops;
    w->timing = 0;
    return 1;
  }
  return 0;
}

static void fill_slots(worker *w, slot *slots, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t sz = next_size(w, bench_splitmix64(&w->rng));
    slots[i].p = w_alloc(w, sz, (unsigned char)i);
    slots[i].size = sz;
  }
}

static void free_slots(worker *w, slot *slots, size_t from, size_t n) {
  for (size_t i = from; i < n; i++) w_free(w, slots[i].p, slots[i].size);
}

/* One op of churn and larson: a random slot's block replaced by a new one. */
static inline void replace_random(worker *w, slot *slots, size_t n) {
  uint64_t r = bench_splitmix64(&w->rng);
  size_t i = (size_t)(((r & 0xffffffffu) * (uint64_t)n) >> 32);
  size_t sz = next_size(w, r >> 32);
  w_free(w, slots[i].p, slots[i].size);
  slots[i].p = w_alloc(w, sz, (unsigned char)r);
  slots[i].size = sz;
}

static void run_churn(worker *w) {
  /* Blocks of 1-32 MiB: a few live per thread, as a program handling big buffers. */
  const size_t n = g_opt.dist == DIST_LARGE ? g_opt.large_slots : g_opt.slots;
  slot *slots = xmap(n * sizeof(slot));
  fill_slots(w, slots, n);
  pthread_barrier_wait(&g_start);
  uint64_t ops = 0;
  int seen_start = 0;
  do {
    for (int b = 0; b < BATCH; b++) replace_random(w, slots, n);
    ops += BATCH;
  } while (!check_phase(w, ops, &seen_start));
  free_slots(w, slots, g_opt.leak_one && w->id == 0, n);
  munmap(slots, n * sizeof(slot));
}

/* burst: n blocks of one size (the next of the distribution) allocated and
 * written, then freed: the first half in allocation order (FIFO), the rest
 * newest first (LIFO). n is --burst, or 25, 100, 400 and 1600 in turn. */
static void run_burst(worker *w) {
  static const size_t turns[] = {25, 100, 400, 1600};
  const size_t max_n = g_opt.burst ? g_opt.burst : 1600;
  slot *blocks = xmap(max_n * sizeof(slot));
  pthread_barrier_wait(&g_start);
  uint64_t ops = 0, bursts = 0;
  int seen_start = 0;
  do {
    size_t n = g_opt.burst ? g_opt.burst : turns[bursts++ & 3];
    size_t sz = next_size(w, bench_splitmix64(&w->rng));
    for (size_t i = 0; i < n; i++) {
      blocks[i].p = w_alloc(w, sz, (unsigned char)i);
      memset(blocks[i].p, (int)i, sz);
      blocks[i].size = sz;
    }
    size_t half = n / 2;
    for (size_t i = 0; i < half; i++) w_free(w, blocks[i].p, sz);
    for (size_t i = n; i-- > half;) w_free(w, blocks[i].p, sz);
    ops += n;
  } while (!check_phase(w, ops, &seen_start));
  munmap(blocks, max_n * sizeof(slot));
}

/* shortlived: the life of one short-lived thread, on its lane's worker (the
 * lane waits for it, so the worker has one user at a time). */
static void *short_thread_main(void *arg) {
  worker *w = arg;
  const size_t n = g_opt.thread_blocks;
  slot *blocks = xmap(n * sizeof(slot));
  for (size_t i = 0; i < n; i++) {
    size_t sz = next_size(w, bench_splitmix64(&w->rng));
    blocks[i].p = w_alloc(w, sz, (unsigned char)i);
    memset(blocks[i].p, (int)i, sz < 256 ? sz : 256);
    blocks[i].size = sz;
  }
  int64_t held = atomic_load_explicit(&w->live, memory_order_relaxed);
  if (held > atomic_load_explicit(&w->own_peak, memory_order_relaxed))
    atomic_store_explicit(&w->own_peak, held, memory_order_relaxed);
  for (size_t i = 0; i < n; i += 2) w_free(w, blocks[i].p, blocks[i].size);
  for (long i = (long)((n - 1) | 1); i > 0; i -= 2) /* the odd ones, newest first */
    if ((size_t)i < n) w_free(w, blocks[i].p, blocks[i].size);
  munmap(blocks, n * sizeof(slot));
  return NULL;
}

static void run_shortlived(worker *w) {
  pthread_barrier_wait(&g_start);
  uint64_t ops = 0;
  int seen_start = 0;
  do {
    pthread_t t; /* inherits this thread's CPU affinity (--pin) */
    int err = pthread_create(&t, NULL, short_thread_main, w);
    if (err) die("pthread_create: %s", strerror(err));
    pthread_join(t, NULL);
    ops += g_opt.thread_blocks;
  } while (!check_phase(w, ops, &seen_start));
}

static void run_larson(worker *w) {
  const size_t n = g_opt.slots / 2 ? g_opt.slots / 2 : 1;
  slot *mine = xmap(n * sizeof(slot)), *parked = xmap(n * sizeof(slot));
  fill_slots(w, mine, n);
  fill_slots(w, parked, n);
  atomic_store(&g_mailbox[w->id], parked);
  pthread_barrier_wait(&g_start);
  uint64_t ops = 0, since = 0;
  int seen_start = 0;
  do {
    for (int b = 0; b < BATCH; b++) {
      replace_random(w, mine, n);
      if (++since == g_opt.handoff) { /* swap arrays with a random mailbox slot */
        since = 0;
        size_t k = (size_t)((bench_splitmix64(&w->rng) & 0xffffffffu) * (uint64_t)g_opt.threads >> 32);
        mine = atomic_exchange_explicit(&g_mailbox[k], mine, memory_order_acq_rel);
      }
    }
    ops += BATCH;
  } while (!check_phase(w, ops, &seen_start));
  free_slots(w, mine, 0, n);
  munmap(mine, n * sizeof(slot)); /* the parked arrays are the main thread's to free */
}

/* prodcons and pipeline: the producer side (an I/O thread in the pipeline).
 * The block's size travels in its first 8 bytes (prodcons; every size >= 16)
 * or in the buffer (pipeline). */
static void run_producer(worker *w) {
  const size_t batch = g_opt.batch;
  int k = 0;            /* xmalloc: the consumer's ring this batch goes to */
  size_t in_batch = 0;
  const int buffers = g_opt.workload == WL_PIPELINE;
  pthread_barrier_wait(&g_start);
  for (;;) {
    for (int b = 0; b < BATCH; b++) {
      uint64_t r = bench_splitmix64(&w->rng);
      size_t sz = next_size(w, r);
      void *item;
      if (buffers) {
        item = bench_buf_make(sz, g_pattern, PATTERN);
        if (__builtin_expect(item == NULL, 0)) alloc_failed(w, sz);
        live_add(w, (int64_t)sz);
      } else {
        unsigned char *p = w_alloc(w, sz, (unsigned char)(r >> 32));
        uint32_t stamp = (uint32_t)sz; /* 4 bytes: the smallest size drawn (invsq) */
        memcpy(p, &stamp, sizeof stamp);
        item = p;
      }
      unsigned spins = 0;
      while (!ring_push(w->rings[k], item, batch)) backoff(&spins);
      if (++in_batch == batch) { /* (ring_push has published the batch) */
        in_batch = 0;
        k = k + 1 == w->n_rings ? 0 : k + 1;
      }
    }
    if (atomic_load_explicit(&g_phase, memory_order_relaxed) == 2) break;
  }
  for (int i = 0; i < w->n_rings; i++) {
    ring_publish(w->rings[i]);
    atomic_store_explicit(&w->rings[i]->producer_done, 1, memory_order_release);
  }
}

/* A consumer's next block from its rings (one for prodcons and pipeline, one
 * per producer for xmalloc), trying each once from where it last found one;
 * NULL when all are empty. */
static inline void *pop_any(worker *w, int *k) {
  for (int tried = 0; tried < w->n_rings; tried++) {
    void *item = ring_pop(w->rings[*k]);
    if (item) return item;
    *k = *k + 1 == w->n_rings ? 0 : *k + 1;
  }
  return NULL;
}

/* Whether every producer feeding this consumer has published its last block. */
static inline int producers_done(const worker *w) {
  for (int i = 0; i < w->n_rings; i++)
    if (!atomic_load_explicit(&w->rings[i]->producer_done, memory_order_acquire)) return 0;
  return 1;
}

static void run_consumer(worker *w) {
  int k = 0;
  const int buffers = g_opt.workload == WL_PIPELINE;
  uint64_t ops = 0;
  int seen_start = 0, stopped = 0;
  unsigned spins = 0, since_check = 0;
  pthread_barrier_wait(&g_start);
  for (;;) {
    /* Once stopped, drain: read producer_done BEFORE the pops, so empty pops
     * after it mean the producers have pushed their last blocks. */
    int done = stopped && producers_done(w);
    void *item = pop_any(w, &k);
    if (item) {
      if (buffers) {
        size_t len = 0;
        if (sample(w)) {
          uint64_t t = ticks();
          w->sink += bench_buf_consume(item, &len);
          lh_record(w->lat, ticks() - t);
        } else {
          w->sink += bench_buf_consume(item, &len);
        }
        live_add(w, -(int64_t)len);
      } else {
        uint32_t sz; /* the producer's stamp */
        memcpy(&sz, item, sizeof sz);
        w_free(w, item, sz);
      }
      ops++;
      spins = 0;
    } else {
      if (done) break;
      backoff(&spins);
    }
    if (!stopped && (++since_check >= BATCH || !item)) {
      since_check = 0;
      stopped = check_phase(w, ops, &seen_start);
    }
  }
}

/* The rings of the paired workloads: producer i and consumer i share one
 * (prodcons, pipeline); with xmalloc every producer has one to every
 * consumer, and sends each batch to the next consumer in turn. */
static void connect_rings(worker *ws, int nt) {
  const int pairs = nt / 2, all = g_opt.workload == WL_XMALLOC;
  const int per = all ? pairs : 1;
  spsc_ring **grid = xmap(sizeof(spsc_ring *) * (size_t)pairs * (size_t)per * 2);
  spsc_ring **by_producer = grid, **by_consumer = grid + (size_t)pairs * (size_t)per;
  for (int p = 0; p < pairs; p++)
    for (int j = 0; j < per; j++) {
      spsc_ring *r = ring_create(g_opt.ring);
      int c = all ? j : p;
      by_producer[p * per + j] = r;
      by_consumer[c * per + (all ? p : 0)] = r;
    }
  for (int p = 0; p < pairs; p++) {
    ws[p].rings = by_producer + p * per;
    ws[p].n_rings = per;
    ws[pairs + p].rings = by_consumer + p * per;
    ws[pairs + p].n_rings = per;
  }
}

/* --pin: the CPU of thread t among the n CPUs this process may use. churn:
 * round robin. prodcons: producer i on the (2i)th, consumer i on the
 * (2i+1)th (mod n), so every pair's handoff crosses CPUs when n >= 2. */
static int pin_cpu(const worker *w, int nt, const int *cpus, int n) {
  if (w->role == ROLE_CHURN || w->role == ROLE_LARSON || w->role == ROLE_BURST || w->role == ROLE_SHORTLIVED)
    return cpus[w->id % n];
  int pairs = nt / 2;
  int pair = w->role == ROLE_PRODUCER ? w->id : w->id - pairs;
  return cpus[(2 * pair + (w->role == ROLE_CONSUMER)) % n];
}

static void *thread_main(void *arg) {
  worker *w = arg;
  switch (w->role) {
    case ROLE_CHURN: run_churn(w); break;
    case ROLE_LARSON: run_larson(w); break;
    case ROLE_BURST: run_burst(w); break;
    case ROLE_SHORTLIVED: run_shortlived(w); break;
    case ROLE_PRODUCER: run_producer(w); break;
    default: run_consumer(w); break;
  }
  return NULL;
}

/* ---- Options ----------------------------------------------------------------- */
static void usage(FILE *f) {
  fprintf(f,
          "usage: workload_<allocator> --workload churn|prodcons|larson|pipeline|xmalloc|burst|\n"
          "                                      shortlived\n"
          "         --dist %s --threads N\n"
          "         [--duration-ms N] [--warmup-ms N] [--slots N] [--ring N] [--batch N]\n"
          "         [--handoff N] [--seed N] [--pin] [--large-slots N] [--burst N]\n"
          "         [--thread-blocks N] [--rss-trace FILE]\n"
          "         (--burst: blocks per burst, default 25, 100, 400, 1600 in turn)\n"
          "         (--thread-blocks: shortlived's blocks per thread, default 2 x --slots)\n"
          "         (--large-slots: churn's live blocks per thread with --dist large, default 4)\n"
          "         [--leak-one]   (churn: thread 0 leaves one block allocated, to test\n"
          "                        npool's end-of-run check, which must then exit 3)\n"
          "       workload_<allocator> --info\n"
          "One timed run; prints \"result ops=<alloc+free pairs> ns=<window> ...\".\n"
          "Normally run by //experiments:sweep.\n",
          size_dist_all());
}

static long parse_long(const char *opt, const char *s, long min) {
  char *end;
  errno = 0;
  long v = strtol(s ? s : "", &end, 10);
  if (!s || !*s || errno || *end || v < min) {
    fprintf(stderr, "workload_worker: %s needs an integer >= %ld, got '%s'\n", opt, min,
            s ? s : "");
    usage(stderr);
    exit(2);
  }
  return v;
}

static int parse_workload(const char *s) {
  for (int i = 0; i < WL_COUNT; i++)
    if (!strcmp(s, wl_names[i])) return i;
  return -1;
}

int main(int argc, char **argv) {
  int info_only = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--info")) {
      info_only = 1;
    } else if (!strcmp(a, "--workload") && v) {
      if ((g_opt.workload = parse_workload(v)) < 0)
        die("unknown workload '%s' (churn, prodcons, larson, pipeline, xmalloc, burst, shortlived)", v);
      i++;
    } else if (!strcmp(a, "--dist") && v) {
      if ((g_opt.dist = size_dist_parse(v)) < 0)
        die("unknown size distribution '%s' (fixed64, small, net, mixed, large, invsq)", v);
      i++;
    } else if (!strcmp(a, "--threads") && v) {
      g_opt.threads = (int)parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--duration-ms") && v) {
      g_opt.duration_ms = parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--warmup-ms") && v) {
      g_opt.warmup_ms = parse_long(a, v, 0);
      i++;
    } else if (!strcmp(a, "--slots") && v) {
      g_opt.slots = (size_t)parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--ring") && v) {
      g_opt.ring = (size_t)parse_long(a, v, 2);
      i++;
    } else if (!strcmp(a, "--batch") && v) {
      g_opt.batch = (size_t)parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--handoff") && v) {
      g_opt.handoff = (size_t)parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--seed") && v) {
      g_opt.seed = (uint64_t)parse_long(a, v, 0);
      i++;
    } else if (!strcmp(a, "--large-slots") && v) {
      g_opt.large_slots = (size_t)parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--burst") && v) {
      g_opt.burst = (size_t)parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--thread-blocks") && v) {
      g_opt.thread_blocks = (size_t)parse_long(a, v, 1);
      i++;
    } else if (!strcmp(a, "--rss-trace") && v) {
      g_opt.rss_trace = v;
      i++;
    } else if (!strcmp(a, "--pin")) {
      g_opt.pin = 1;
    } else if (!strcmp(a, "--leak-one")) {
      g_opt.leak_one = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "workload_worker: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }

  if (g_opt.thread_blocks == 0) g_opt.thread_blocks = 2 * g_opt.slots;
  if (g_opt.dist == DIST_LARGE && g_opt.workload != WL_CHURN)
    die("--dist %s is for --workload churn only (its live set is a few blocks per thread)", "large");

  char id[512];
  int wrong_malloc = bench_alloc_identity(id, sizeof id);
  if (info_only) {
    printf("%s\n", id);
    return wrong_malloc && !WW_SANITIZER ? 1 : 0;
  }
  if (wrong_malloc) {
    /* A sanitizer build replaces malloc itself; the run still checks the
     * harness (and npool's paths) but its malloc numbers mean nothing. */
    fprintf(stderr, "workload_worker: %s\n", id);
    if (!WW_SANITIZER) return 1;
  }
  int paired = g_opt.workload == WL_PRODCONS || g_opt.workload == WL_PIPELINE || g_opt.workload == WL_XMALLOC;
  if (paired && (g_opt.threads < 2 || g_opt.threads % 2)) {
    fprintf(stderr, "workload_worker: %s needs an even thread count >= 2, got %d\n",
            wl_names[g_opt.workload], g_opt.threads);
    return 2;
  }
  if (g_opt.ring & (g_opt.ring - 1)) {
    fprintf(stderr, "workload_worker: --ring must be a power of two\n");
    return 2;
  }
  if (g_opt.batch > g_opt.ring) g_opt.batch = g_opt.ring;
  /* A hung run (a deadlock in an allocator) must not hang the sweep. */
  alarm((unsigned)(60 + 10 * (g_opt.duration_ms + g_opt.warmup_ms) / 1000));
  if (bench_alloc_init() != 0) return 1;
  for (int i = 0; i < PATTERN; i++) g_pattern[i] = (unsigned char)(i * 131 + 7);

  const int nt = g_opt.threads;
  worker *ws = xmap(sizeof(worker) * (size_t)nt);
  uint32_t *size_tables = xmap(sizeof(uint32_t) * SIZE_TABLE * (size_t)nt);
  latency_histogram *hists = xmap(sizeof(latency_histogram) * ((size_t)nt + 2));
  g_mailbox = xmap(sizeof(*g_mailbox) * (size_t)nt);
  for (int t = 0; t < nt; t++) {
    worker *w = &ws[t];
    w->id = t;
    /* Fixed seeds per thread: the same size and slot sequence for every allocator. */
    w->rng = g_opt.seed * 0x100000001b3ull + (uint64_t)t * 0x9e3779b97f4a7c15ull + 12345;
    w->sizes = size_tables + (size_t)t * SIZE_TABLE;
    w->lat = &hists[t];
    atomic_init(&w->live, 0);
    atomic_init(&w->own_peak, 0);
    if (g_opt.workload == WL_CHURN) {
      w->role = ROLE_CHURN;
    } else if (g_opt.workload == WL_LARSON) {
      w->role = ROLE_LARSON;
    } else if (g_opt.workload == WL_BURST) {
      w->role = ROLE_BURST;
    } else if (g_opt.workload == WL_SHORTLIVED) {
      w->role = ROLE_SHORTLIVED;
    } else {
      w->role = t < nt / 2 ? ROLE_PRODUCER : ROLE_CONSUMER;
    }
    size_dist_fill((size_dist)g_opt.dist, w->rng ^ 0x5bd1e995u, w->sizes, SIZE_TABLE);
  }
  if (paired) connect_rings(ws, nt);

  atomic_store(&g_phase, 0);
  if (pthread_barrier_init(&g_start, NULL, (unsigned)nt + 1) != 0) die("%s", "pthread_barrier_init");
  int cpus[CPU_SETSIZE], ncpus = 0;
  if (g_opt.pin) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) die("sched_getaffinity: %s", strerror(errno));
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) cpus[ncpus++] = c;
  }
  for (int t = 0; t < nt; t++) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (g_opt.pin) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(pin_cpu(&ws[t], nt, cpus, ncpus), &one);
      pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    }
    int err = pthread_create(&ws[t].thread, &attr, thread_main, &ws[t]);
    if (err) die("pthread_create: %s", strerror(err));
    pthread_attr_destroy(&attr);
  }

  /* Samples the bytes held (every ms) while it waits until `until`, or (with
   * wait_started) also until every counting thread has counted an op. */
  int64_t peak_live = 0;
  int counting = 0;
  for (int t = 0; t < nt; t++) counting += ws[t].role != ROLE_PRODUCER;
  /* Where the allocator's bytes are (bench_alloc_breakdown), taken whenever the
   * resident set passed the last one taken by more than 1%: at the peak. */
  bench_breakdown bd = {0};
  uint64_t bd_rss = 0, trace_t0 = now_ns();
  enum { TRACE_MAX = 65536 };
  uint64_t(*trace)[3] = g_opt.rss_trace ? xmap(sizeof *trace * TRACE_MAX) : NULL;
  size_t traced = 0;
  int have_bd = 0, statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
#define WAIT_SAMPLING(until, wait_started)                                          \
  for (;;) {                                                                        \
    int64_t sum = 0;                                                                \
    for (int t = 0; t < nt; t++) sum += atomic_load_explicit(&ws[t].live, memory_order_relaxed); \
    if (sum > peak_live) peak_live = sum;                                           \
    uint64_t rss = resident_bytes(statm);                                           \
    if (trace && traced < TRACE_MAX) {                                              \
      trace[traced][0] = (now_ns() - trace_t0) / 1000000u;                          \
      trace[traced][1] = rss;                                                       \
      trace[traced++][2] = sum > 0 ? (uint64_t)sum : 0;                             \
    }                                                                               \
    if (rss > bd_rss + bd_rss / 100) {                                              \
      bench_breakdown now;                                                          \
      if (bench_alloc_breakdown(&now)) {                                            \
        bd = now;                                                                   \
        have_bd = 1;                                                                \
      }                                                                             \
      bd_rss = rss;                                                                 \
    }                                                                               \
    if (now_ns() >= (until) && (!(wait_started) || atomic_load(&g_started) >= counting)) break; \
    sleep_ms(1);                                                                    \
  }
  pthread_barrier_wait(&g_start);
  uint64_t warm_end = now_ns() + (uint64_t)g_opt.warmup_ms * 1000000u;
  WAIT_SAMPLING(warm_end, 0);
  uint64_t t0 = now_ns(), k0 = ticks();
  atomic_store(&g_phase, 1);
  WAIT_SAMPLING(t0 + (uint64_t)g_opt.duration_ms * 1000000u, 1);
  atomic_store(&g_phase, 2);
  uint64_t t1 = now_ns(), k1 = ticks();
#undef WAIT_SAMPLING
  for (int t = 0; t < nt; t++) pthread_join(ws[t].thread, NULL);
  pthread_barrier_destroy(&g_start);

  uint64_t ops = 0, sink = 0;
  latency_histogram *all = &hists[nt], *remote = &hists[nt + 1];
  for (int t = 0; t < nt; t++) {
    if (ws[t].role != ROLE_PRODUCER) ops += ws[t].ops_end - ws[t].ops_start;
    lh_merge(all, ws[t].lat);
    if (ws[t].role == ROLE_CONSUMER) lh_merge(remote, ws[t].lat);
    sink += ws[t].sink;
  }
  double ns_per_tick = k1 > k0 ? (double)(t1 - t0) / (double)(k1 - k0) : 1.0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  /* larson: the arrays still parked are freed here, by the main thread. */
  if (g_opt.workload == WL_LARSON) {
    worker main_w = {.id = -1, .lat = all};
    const size_t n = g_opt.slots / 2 ? g_opt.slots / 2 : 1;
    for (int t = 0; t < nt; t++) {
      slot *s = atomic_load(&g_mailbox[t]);
      free_slots(&main_w, s, 0, n);
      munmap(s, n * sizeof(slot));
    }
    sink += main_w.sink;
  }
  /* The true peak is at least any one thread's own. */
  for (int t = 0; t < nt; t++) {
    int64_t own = atomic_load_explicit(&ws[t].own_peak, memory_order_relaxed);
    if (own > peak_live) peak_live = own;
  }
  if (statm >= 0) close(statm);
  if (trace) write_trace(g_opt.rss_trace, trace, traced);
  int status = bench_alloc_finish();
  char where[320] = "-";
  if (have_bd)
    snprintf(where, sizeof where, "%llu:%llu:%llu:%llu:%llu:%llu:%llu:%llu:%llu:%llu:%llu:%llu",
             (unsigned long long)bd.active, (unsigned long long)bd.thread_cache,
             (unsigned long long)bd.remote,
             (unsigned long long)bd.cpu_cache, (unsigned long long)bd.transfer,
             (unsigned long long)bd.subpage_free, (unsigned long long)bd.pages_resident,
             (unsigned long long)bd.pages_purged, (unsigned long long)bd.retained,
             (unsigned long long)bd.metadata, (unsigned long long)bd_rss,
             (unsigned long long)bd.huge_tail);
  char remote_free[96] = "-"; /* the consumers' calls: frees of other threads' blocks */
  if (remote->total)
    snprintf(remote_free, sizeof remote_free, "%.0f:%.0f:%.0f",
             (double)lh_percentile(remote, 0.50) * ns_per_tick,
             (double)lh_percentile(remote, 0.99) * ns_per_tick,
             (double)lh_percentile(remote, 0.999) * ns_per_tick);
  printf("result ops=%llu ns=%llu threads=%d lat_p50=%.0f lat_p99=%.0f lat_p999=%.0f "
         "peak_rss=%llu live=%lld where=%s remote_free=%s sink=%llu\n",
         (unsigned long long)ops, (unsigned long long)(t1 - t0), nt,
         (double)lh_percentile(all, 0.50) * ns_per_tick,
         (double)lh_percentile(all, 0.99) * ns_per_tick,
         (double)lh_percentile(all, 0.999) * ns_per_tick,
         (unsigned long long)ru.ru_maxrss * 1024ull, (long long)peak_live, where, remote_free,
         (unsigned long long)(sink & 0xff));
  fflush(stdout);
  return status;
}
