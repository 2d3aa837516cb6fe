/*
 * mt_bench_worker: one measurement of the multi-threaded throughput benchmark
 * for ONE allocator, chosen when this file is compiled:
 *
 *   -DMTB_NPOOL     np_alloc / np_free on one np_allocator, np_config_default()
 *                   (the binary links one //core:npool_<strategy>)
 *   -DMTB_GLIBC     malloc / free of a binary that links no other malloc
 *   -DMTB_JEMALLOC  malloc / free of a binary linking -ljemalloc (checked at
 *                   start-up with jemalloc's own "thread.allocated" counter)
 *
 * The driver (mt_bench.c) runs one process per measurement, so every
 * allocator starts from a fresh heap and the allocators never share a process.
 * Usage (normally only the driver calls it):
 *
 *   mt_bench_<alloc> --workload churn|prodcons --dist 64|mixed --threads N
 *                    [--duration-ms N] [--warmup-ms N] [--slots N] [--ring N]
 *                    [--batch N] [--seed N] [--pin] [--leak-one]
 *   mt_bench_<alloc> --info        one line naming what is measured
 *
 * It prints one line "result ops=<pairs> ns=<time> threads=<n>" on stdout.
 * ops counts alloc+free pairs completed inside the timed window.
 *
 * Workloads (an "op" is one allocation plus one free, in both):
 *   churn     every thread owns a ring of --slots live blocks (default 1000),
 *             filled before timing; each op frees a randomly chosen slot's
 *             block and puts a new block of the next size there.
 *   prodcons  threads pair up, producer i -> consumer i, through a bounded
 *             lock-free single-producer single-consumer ring (C11 atomics,
 *             --ring entries, default 1024). Producers allocate and push;
 *             consumers pop and free, so every block is freed by a thread
 *             other than the one that allocated it. ops = blocks freed by the
 *             consumers. Needs an even thread count >= 2. The producer
 *             publishes its tail every --batch blocks (default 32; 1 = every
 *             block), so that the handoff costs one exchange of the index's
 *             cache line per batch, not per block, and the allocators'
 *             cross-thread paths rather than the ring dominate.
 * Sizes: "64" is 64 bytes always; "mixed" is log-uniform over [16, 32768]
 * bytes, drawn from a fixed seed per thread (the same sequence for every
 * allocator). Each new block gets its first byte written; before a block is
 * freed its first byte is read into a checksum.
 *
 * Timing: all threads start together (barrier), run --warmup-ms untimed, then
 * the main thread opens the timed window (phase 1), sleeps --duration-ms and
 * closes it (phase 2). Each thread looks at the phase every 64 ops and counts
 * the ops it did between seeing phase 1 and seeing phase 2; the window's
 * length is measured by the main thread around its two phase stores.
 * --pin pins the threads (see pin_cpu); without it the scheduler places them
 * (the driver passes --pin unless told --no-pin).
 * The harness's own memory (slot arrays, rings, size tables) comes from mmap,
 * so the allocator under test serves only the workload's blocks.
 *
 * npool's correctness guard: after every thread has exited (and so emptied
 * its thread cache), np_allocator_stats must show zero active bytes (small,
 * normal and huge) and no refused frees; after np_thread_cache_flush (which
 * also empties per-CPU caches) still zero active bytes and zero cached bytes.
 * Otherwise the process exits 3 (--leak-one provokes it, for the smoke test).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(NP_SANITIZER)
#define MTB_SANITIZER 1
#else
#define MTB_SANITIZER 0
#endif

/* ---- The allocator under test -------------------------------------------- */
#if defined(MTB_NPOOL)
#include "npool.h"
static np_allocator *g_np;
static atomic_ulong g_free_errors;
static atomic_int g_first_free_error;

__attribute__((noinline, cold)) static void note_free_error(int rc) {
  int zero = 0;
  atomic_compare_exchange_strong(&g_first_free_error, &zero, rc);
  atomic_fetch_add(&g_free_errors, 1);
}
static inline void *bench_alloc(size_t n) { return np_alloc(g_np, n); }
static inline void bench_free(void *p) {
  int rc = np_free(g_np, p);
  if (__builtin_expect(rc != NP_OK, 0)) note_free_error(rc);
}
#elif defined(MTB_JEMALLOC)
#include <jemalloc/jemalloc.h>
static inline void *bench_alloc(size_t n) { return malloc(n); }
static inline void bench_free(void *p) { free(p); }
#elif defined(MTB_GLIBC)
#include <gnu/libc-version.h>
static inline void *bench_alloc(size_t n) { return malloc(n); }
static inline void bench_free(void *p) { free(p); }
#else
#error "compile with one of -DMTB_NPOOL, -DMTB_GLIBC, -DMTB_JEMALLOC"
#endif

/* ---- Small helpers --------------------------------------------------------- */
#define CACHELINE 64
#define BATCH 64        /* ops between looks at the phase */
#define SIZE_TABLE 4096 /* per-thread table of pre-drawn sizes (power of two) */
#define SPIN_BEFORE_YIELD 64

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "mt_bench_worker: ");
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

static inline uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
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
enum { WL_CHURN, WL_PRODCONS };
enum { DIST_64, DIST_MIXED };
enum { ROLE_CHURN, ROLE_PRODUCER, ROLE_CONSUMER };

typedef struct worker {
  _Alignas(CACHELINE) int id;
  int role;
  uint64_t rng;
  uint32_t *sizes; /* SIZE_TABLE pre-drawn sizes */
  spsc_ring *ring;
  uint64_t ops_start, ops_end;
  uint64_t sink;
  int failed;
  pthread_t thread;
} worker;

static struct {
  int workload, dist, threads;
  long duration_ms, warmup_ms;
  size_t slots, ring, batch;
  uint64_t seed;
  int leak_one; /* test hook: thread 0 leaves one block allocated */
  int pin;      /* pin threads to CPUs (see pin_cpu) */
} g_opt = {WL_CHURN, DIST_64, 1, 400, 100, 1000, 1024, 32, 1, 0, 0};

static _Alignas(CACHELINE) atomic_int g_phase; /* 0 warm-up, 1 timed, 2 stop */
/* Counting threads that have done an op inside the window: the window is not
 * closed before all have, or a thread descheduled for the whole (short) window on a loaded
 * machine would count zero ops and the run would be reported as failed. */
static _Alignas(CACHELINE) atomic_int g_started;
static pthread_barrier_t g_start;

static void fill_sizes(uint32_t *sizes, uint64_t seed) {
  uint64_t s = seed;
  for (int i = 0; i < SIZE_TABLE; i++) {
    if (g_opt.dist == DIST_64) {
      sizes[i] = 64;
    } else { /* log-uniform over [16, 32768]: 2^(4 + 11u), u uniform in [0, 1] */
      double u = (double)(splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0);
      double v = exp2(4.0 + 11.0 * u);
      uint32_t n = (uint32_t)(v + 0.5);
      sizes[i] = n < 16 ? 16 : n > 32768 ? 32768 : n;
    }
  }
}

__attribute__((noinline, cold)) static void alloc_failed(worker *w, size_t size) {
  fprintf(stderr, "mt_bench_worker: thread %d could not allocate %zu bytes: %s\n", w->id, size,
          strerror(errno));
  exit(1);
}

/* Looks at the phase after each batch; returns 1 when the thread should stop. */
static inline int check_phase(worker *w, uint64_t ops, int *seen_start) {
  int ph = atomic_load_explicit(&g_phase, memory_order_relaxed);
  if (ph >= 1 && !*seen_start) {
    w->ops_start = ops;
    *seen_start = 1;
  } else if (*seen_start == 1 && ops > w->ops_start) {
    *seen_start = 2; /* counted an op inside the window */
    atomic_fetch_add_explicit(&g_started, 1, memory_order_relaxed);
  }
  if (ph == 2) {
    w->ops_end = ops;
    return 1;
  }
  return 0;
}

static void run_churn(worker *w) {
  const size_t n = g_opt.slots;
  void **slots = xmap(n * sizeof(void *));
  const uint32_t *sizes = w->sizes;
  uint64_t rng = w->rng, acc = 0;
  for (size_t i = 0; i < n; i++) {
    size_t sz = sizes[splitmix64(&rng) & (SIZE_TABLE - 1)];
    unsigned char *p = bench_alloc(sz);
    if (!p) alloc_failed(w, sz);
    *(volatile unsigned char *)p = (unsigned char)i;
    slots[i] = p;
  }
  pthread_barrier_wait(&g_start);

  uint64_t ops = 0;
  int seen_start = 0;
  for (;;) {
    for (int b = 0; b < BATCH; b++) {
      uint64_t r = splitmix64(&rng);
      size_t i = (size_t)(((r & 0xffffffffu) * (uint64_t)n) >> 32);
      size_t sz = sizes[(r >> 32) & (SIZE_TABLE - 1)];
      unsigned char *old = slots[i];
      acc += *(volatile unsigned char *)old;
      bench_free(old);
      unsigned char *p = bench_alloc(sz);
      if (__builtin_expect(p == NULL, 0)) alloc_failed(w, sz);
      *(volatile unsigned char *)p = (unsigned char)r;
      slots[i] = p;
    }
    ops += BATCH;
    if (check_phase(w, ops, &seen_start)) break;
  }

  for (size_t i = g_opt.leak_one && w->id == 0; i < n; i++) {
    acc += *(volatile unsigned char *)slots[i];
    bench_free(slots[i]);
  }
  munmap(slots, n * sizeof(void *));
  w->sink = acc;
}

static void run_producer(worker *w) {
  spsc_ring *ring = w->ring;
  const uint32_t *sizes = w->sizes;
  const size_t batch = g_opt.batch;
  uint64_t rng = w->rng;
  pthread_barrier_wait(&g_start);
  for (;;) {
    for (int b = 0; b < BATCH; b++) {
      uint64_t r = splitmix64(&rng);
      size_t sz = sizes[r & (SIZE_TABLE - 1)];
      unsigned char *p = bench_alloc(sz);
      if (__builtin_expect(p == NULL, 0)) alloc_failed(w, sz);
      *(volatile unsigned char *)p = (unsigned char)(r >> 32);
      unsigned spins = 0;
      while (!ring_push(ring, p, batch)) backoff(&spins);
    }
    if (atomic_load_explicit(&g_phase, memory_order_relaxed) == 2) break;
  }
  ring_publish(ring);
  atomic_store_explicit(&ring->producer_done, 1, memory_order_release);
}

static void run_consumer(worker *w) {
  spsc_ring *ring = w->ring;
  uint64_t ops = 0, acc = 0;
  int seen_start = 0, stopped = 0;
  unsigned spins = 0, since_check = 0;
  pthread_barrier_wait(&g_start);
  for (;;) {
    /* Once stopped, drain: read producer_done BEFORE the pop, so an empty pop
     * after it means the producer has pushed its last block. */
    int done = stopped && atomic_load_explicit(&ring->producer_done, memory_order_acquire);
    unsigned char *p = ring_pop(ring);
    if (p) {
      acc += *(volatile unsigned char *)p;
      bench_free(p);
      ops++;
      spins = 0;
    } else {
      if (done) break;
      backoff(&spins);
    }
    if (!stopped && (++since_check >= BATCH || !p)) {
      since_check = 0;
      stopped = check_phase(w, ops, &seen_start);
    }
  }
  w->sink = acc;
}

/* --pin: the CPU of thread t among the n CPUs this process may use. churn:
 * round robin. prodcons: producer i on the (2i)th, consumer i on the
 * (2i+1)th (mod n), so every pair's handoff crosses CPUs when n >= 2. */
static int pin_cpu(const worker *w, int nt, const int *cpus, int n) {
  if (w->role == ROLE_CHURN) return cpus[w->id % n];
  int pairs = nt / 2;
  int pair = w->role == ROLE_PRODUCER ? w->id : w->id - pairs;
  return cpus[(2 * pair + (w->role == ROLE_CONSUMER)) % n];
}

static void *thread_main(void *arg) {
  worker *w = arg;
  switch (w->role) {
    case ROLE_CHURN: run_churn(w); break;
    case ROLE_PRODUCER: run_producer(w); break;
    default: run_consumer(w); break;
  }
  return NULL;
}

/* ---- Identity: what exactly is measured ------------------------------------- */
static const char *lib_of(void *fn) {
  Dl_info info;
  if (dladdr(fn, &info) && info.dli_fname) {
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
  }
  return "?";
}

/* Writes one line describing the measured functions into buf; returns 0 when
 * malloc is the allocator this binary claims to measure. */
static int identity(char *buf, size_t len) {
#if defined(MTB_NPOOL)
  /* The cache mode needs an allocator (rseq falls back to per-thread caches
   * where the kernel or glibc offers no rseq registration). */
  np_config cfg = np_config_default();
  np_allocator *a = NULL;
  static np_stats st;
  const char *mode = "?", *why = "";
  if (np_allocator_create(&cfg, &a) == NP_OK && np_allocator_stats(a, &st) == NP_OK) {
    mode = st.cache_mode ? st.cache_mode : "?";
    why = st.per_cpu_unavailable ? st.per_cpu_unavailable : "";
  }
  snprintf(buf, len,
           "np_alloc/np_free, np_config_default(), strategy \"%s\", caches: %s%s%s%s (in %s)",
           np_strategy_name(), mode, *why ? " (" : "", why, *why ? ")" : "",
           lib_of((void *)&np_alloc));
  np_allocator_destroy(a);
  return 0;
#elif defined(MTB_JEMALLOC)
  const char *version = "?";
  size_t vlen = sizeof version;
  if (mallctl("version", &version, &vlen, NULL, 0) != 0) version = "?";
  uint64_t before = 0, after = 0;
  size_t sz = sizeof before;
  int have = mallctl("thread.allocated", &before, &sz, NULL, 0) == 0;
  void *volatile p = malloc(4096);
  sz = sizeof after;
  if (have) have = mallctl("thread.allocated", &after, &sz, NULL, 0) == 0;
  free(p);
  int ok = have && after - before >= 4096;
  snprintf(buf, len, "malloc/free from %s, jemalloc %s (%s by jemalloc's thread.allocated counter)",
           lib_of((void *)&malloc), version, ok ? "verified" : "NOT confirmed");
  return ok ? 0 : 1;
#else
  const char *lib = lib_of((void *)&malloc);
  int ok = strncmp(lib, "libc.so", 7) == 0;
  snprintf(buf, len, "malloc/free from %s, glibc %s%s", lib, gnu_get_libc_version(),
           ok ? "" : " (NOT glibc's malloc)");
  return ok ? 0 : 1;
#endif
}

/* ---- Options ----------------------------------------------------------------- */
static void usage(FILE *f) {
  fprintf(f,
          "usage: mt_bench_<allocator> --workload churn|prodcons --dist 64|mixed --threads N\n"
          "         [--duration-ms N] [--warmup-ms N] [--slots N] [--ring N] [--batch N]\n"
          "         [--seed N] [--pin]\n"
          "         [--leak-one]   (churn: thread 0 leaves one block allocated, to test\n"
          "                        npool's end-of-run check, which must then exit 3)\n"
          "       mt_bench_<allocator> --info\n"
          "One timed run; prints \"result ops=<alloc+free pairs> ns=<window> threads=<n>\".\n"
          "Normally run by //experiments:mt_bench.\n");
}

static long parse_long(const char *opt, const char *s, long min) {
  char *end;
  errno = 0;
  long v = strtol(s ? s : "", &end, 10);
  if (!s || !*s || errno || *end || v < min) {
    fprintf(stderr, "mt_bench_worker: %s needs an integer >= %ld, got '%s'\n", opt, min,
            s ? s : "");
    usage(stderr);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  int info_only = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--info")) {
      info_only = 1;
    } else if (!strcmp(a, "--workload") && v) {
      if (!strcmp(v, "churn")) g_opt.workload = WL_CHURN;
      else if (!strcmp(v, "prodcons")) g_opt.workload = WL_PRODCONS;
      else die("unknown workload '%s' (churn, prodcons)", v);
      i++;
    } else if (!strcmp(a, "--dist") && v) {
      if (!strcmp(v, "64")) g_opt.dist = DIST_64;
      else if (!strcmp(v, "mixed")) g_opt.dist = DIST_MIXED;
      else die("unknown size distribution '%s' (64, mixed)", v);
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
    } else if (!strcmp(a, "--seed") && v) {
      g_opt.seed = (uint64_t)parse_long(a, v, 0);
      i++;
    } else if (!strcmp(a, "--pin")) {
      g_opt.pin = 1;
    } else if (!strcmp(a, "--leak-one")) {
      g_opt.leak_one = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "mt_bench_worker: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }

  char id[512];
  int wrong_malloc = identity(id, sizeof id);
  if (info_only) {
    printf("%s\n", id);
    return wrong_malloc && !MTB_SANITIZER ? 1 : 0;
  }
  if (wrong_malloc) {
    /* A sanitizer build replaces malloc itself; the run still checks the
     * harness (and npool's paths) but its malloc numbers mean nothing. */
    fprintf(stderr, "mt_bench_worker: %s\n", id);
    if (!MTB_SANITIZER) return 1;
  }
  if (g_opt.workload == WL_PRODCONS && (g_opt.threads < 2 || g_opt.threads % 2)) {
    fprintf(stderr, "mt_bench_worker: prodcons needs an even thread count >= 2, got %d\n",
            g_opt.threads);
    return 2;
  }
  if (g_opt.ring & (g_opt.ring - 1)) {
    fprintf(stderr, "mt_bench_worker: --ring must be a power of two\n");
    return 2;
  }
  if (g_opt.batch > g_opt.ring) g_opt.batch = g_opt.ring;
  /* A hung run (a deadlock in an allocator) must not hang the driver. */
  alarm((unsigned)(60 + 10 * (g_opt.duration_ms + g_opt.warmup_ms) / 1000));

#if defined(MTB_NPOOL)
  np_config cfg = np_config_default();
  int rc = np_allocator_create(&cfg, &g_np);
  if (rc != NP_OK) die("np_allocator_create: %s", np_strerror(rc));
#endif

  const int nt = g_opt.threads;
  worker *ws = xmap(sizeof(worker) * (size_t)nt);
  uint32_t *size_tables = xmap(sizeof(uint32_t) * SIZE_TABLE * (size_t)nt);
  for (int t = 0; t < nt; t++) {
    worker *w = &ws[t];
    w->id = t;
    /* Fixed seeds per thread: the same size and slot sequence for every allocator. */
    w->rng = g_opt.seed * 0x100000001b3ull + (uint64_t)t * 0x9e3779b97f4a7c15ull + 12345;
    w->sizes = size_tables + (size_t)t * SIZE_TABLE;
    if (g_opt.workload == WL_CHURN) {
      w->role = ROLE_CHURN;
    } else {
      int pairs = nt / 2;
      w->role = t < pairs ? ROLE_PRODUCER : ROLE_CONSUMER;
      if (t < pairs) ws[t].ring = ring_create(g_opt.ring);
      else w->ring = ws[t - pairs].ring;
    }
    fill_sizes(w->sizes, w->rng ^ 0x5bd1e995u);
  }

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
  pthread_barrier_wait(&g_start);
  sleep_ms(g_opt.warmup_ms);
  uint64_t t0 = now_ns();
  atomic_store(&g_phase, 1);
  sleep_ms(g_opt.duration_ms);
  int counting = 0;
  for (int t = 0; t < nt; t++) counting += ws[t].role != ROLE_PRODUCER;
  while (atomic_load(&g_started) < counting) sleep_ms(1);
  atomic_store(&g_phase, 2);
  uint64_t t1 = now_ns();
  for (int t = 0; t < nt; t++) pthread_join(ws[t].thread, NULL);
  pthread_barrier_destroy(&g_start);

  uint64_t ops = 0;
  for (int t = 0; t < nt; t++)
    if (ws[t].role != ROLE_PRODUCER) ops += ws[t].ops_end - ws[t].ops_start;

  int status = 0;
#if defined(MTB_NPOOL)
  unsigned long bad = atomic_load(&g_free_errors);
  if (bad) {
    fprintf(stderr, "mt_bench_worker: %lu np_free calls failed, the first with: %s\n", bad,
            np_strerror(atomic_load(&g_first_free_error)));
    status = 3;
  }
  /* Every thread has exited, so every thread cache has been emptied; blocks
   * in caches (per-CPU ones stay) are free, not active. */
  static np_stats st;
  rc = np_allocator_stats(g_np, &st);
  if (rc != NP_OK) die("np_allocator_stats: %s", np_strerror(rc));
  uint64_t active = st.small.active_bytes + st.normal.active_bytes + st.huge.active_bytes;
  uint64_t cached = st.cached_bytes, caches = st.thread_caches;
  /* Then every cache is flushed (every CPU's, with per-CPU caches): nothing
   * may stay cached. */
  np_thread_cache_flush(g_np);
  rc = np_allocator_stats(g_np, &st);
  if (rc != NP_OK) die("np_allocator_stats: %s", np_strerror(rc));
  uint64_t active2 = st.small.active_bytes + st.normal.active_bytes + st.huge.active_bytes;
  printf("# npool stats after join: active_bytes=%llu cached_bytes=%llu thread_caches=%llu "
         "invalid_frees=%llu mapped_bytes=%llu cache_mode=\"%s\"; after np_thread_cache_flush: "
         "active_bytes=%llu cached_bytes=%llu\n",
         (unsigned long long)active, (unsigned long long)cached,
         (unsigned long long)caches, (unsigned long long)st.invalid_frees,
         (unsigned long long)st.mapped_bytes, st.cache_mode ? st.cache_mode : "?",
         (unsigned long long)active2, (unsigned long long)st.cached_bytes);
  if (active != 0 || active2 != 0 || st.invalid_frees != 0 || st.cached_bytes != 0) {
    fprintf(stderr,
            "mt_bench_worker: npool (%s) correctness guard failed after all threads joined: "
            "%llu active bytes (%llu after a cache flush), %llu refused frees, %llu bytes still "
            "cached after the flush (expected all 0)\n",
            np_strategy_name(), (unsigned long long)active, (unsigned long long)active2,
            (unsigned long long)st.invalid_frees, (unsigned long long)st.cached_bytes);
    status = 3;
  }
  np_allocator_destroy(g_np);
#endif

  uint64_t sink = 0;
  for (int t = 0; t < nt; t++) sink += ws[t].sink;
  printf("result ops=%llu ns=%llu threads=%d sink=%llu\n", (unsigned long long)ops,
         (unsigned long long)(t1 - t0), nt, (unsigned long long)(sink & 0xff));
  fflush(stdout);
  return status;
}
