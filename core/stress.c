/*
 * Long stress of one allocator: many short-lived threads on few CPUs, sizes
 * from 16 B to 8 MiB, blocks handed between threads (remote frees, frees after
 * their allocating thread exited, bursts of 64-192 blocks of one size freed
 * whole by another thread), refused frees, flushes, purges, stats, and
 * fork() in the middle with the child allocating and exiting. Every block holds
 * a pattern derived from its own seed and size, checked when it is freed,
 * reallocated or handed over; at the end every block is freed and the
 * allocator must report zero active blocks and bytes and exactly the refused
 * frees this program made.
 *
 *   stress_<strategy> [--seconds N] [--min-threads N] [--max-threads N]
 *                     [--max-size BYTES] [--fork-every-ms N] [--seed N]
 *                     [--conf "key:value,..."]
 *
 * Defaults: 10 s, 16 to 64 live threads, 8 MiB, a fork every 500 ms, the
 * configuration of NPOOL_CONF (then --conf). The report names the operations,
 * the threads started and the most alive at once, the forks and the peak RSS.
 * Exits 0 with "stress: ok ..." or 1 with "stress: FAILED: ..." on the first
 * wrong byte, wrong return code or wrong count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "npool.h"

/* ---- Settings and shared state ---------------------------------------------- */
typedef struct settings {
  double seconds;
  unsigned min_threads, max_threads;
  size_t max_size;
  unsigned fork_every_ms;
  uint64_t seed;
  double progress_every; /* seconds between progress lines on stderr */
} settings;

static settings set = {10, 16, 64, 8u << 20, 500, 1, 60};
static np_allocator *alloc_under_test;

static atomic_bool stopping;
static atomic_uint live_threads, peak_threads;
static atomic_uint_fast64_t threads_started, ops_done, allocations, remote_frees,
    refused_frees, flushes;

#define LOCAL_BLOCKS 64 /* live blocks a worker holds at most */

static void fail(const char *what, uint64_t detail) {
  fprintf(stderr, "stress: FAILED: %s (%" PRIu64 "), --seed %" PRIu64 "\n", what, detail, set.seed);
  fflush(stderr);
  _exit(1);
}

static uint64_t next_rand(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1Dull;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Mostly small, some normal, a few chunk-sized and huge: log-uniform within
 * each band, at least 16 B (the block's header). */
static size_t random_size(uint64_t *s) {
  uint64_t r = next_rand(s) % 1000;
  unsigned lo, hi; /* log2 bounds */
  if (r < 880) lo = 4, hi = 10;       /* 16 B .. 1 KiB */
  else if (r < 975) lo = 10, hi = 16; /* .. 64 KiB */
  else if (r < 997) lo = 16, hi = 22; /* .. 4 MiB */
  else lo = 22, hi = 23;              /* .. 8 MiB */
  unsigned bits = lo + (unsigned)(next_rand(s) % (hi - lo));
  size_t size = ((size_t)1 << bits) + next_rand(s) % ((size_t)1 << bits);
  if (size > set.max_size) size = set.max_size;
  return size < 16 ? 16 : size;
}

/* ---- Block patterns --------------------------------------------------------- */
/* What a block must hold is kept outside it (so that two blocks handed out
 * over the same bytes cannot both look right): its size and a seed. Word w
 * holds seed * (w + 1) ^ (w << 56). Blocks up to 64 KiB are written whole;
 * larger ones in their first and last 4 KiB and one word per 512 B, which
 * still catches two blocks that overlap. */
typedef struct block {
  unsigned char *p;
  size_t size;
  uint64_t seed;
} block;

#define FULL_PATTERN_LIMIT (64u << 10)

static int pattern_word(size_t size, size_t w) {
  size_t off = w * 8;
  return size <= FULL_PATTERN_LIMIT || off < 4096 || off + 4096 >= size || off % 512 == 0;
}

static uint64_t word_value(uint64_t seed, size_t w) { return seed * (w + 1) ^ (w << 56); }

static void fill(const block *b) {
  size_t words = b->size / 8;
  for (size_t w = 0; w < words; w++)
    if (pattern_word(b->size, w)) {
      uint64_t v = word_value(b->seed, w);
      memcpy(b->p + w * 8, &v, 8);
    }
  for (size_t i = words * 8; i < b->size; i++) b->p[i] = (unsigned char)b->seed;
}

/* Checks the pattern b was filled with, at the bytes below `limit`, at `at`
 * (b->p, or where realloc moved it). */
static void check_prefix(const block *b, const unsigned char *at, size_t limit,
                         const char *where) {
  size_t words = b->size / 8;
  for (size_t w = 0; w < words && w * 8 + 8 <= limit; w++)
    if (pattern_word(b->size, w)) {
      uint64_t v;
      memcpy(&v, at + w * 8, 8);
      if (v != word_value(b->seed, w)) fail(where, w * 8);
    }
  for (size_t i = words * 8; i < b->size && i < limit; i++)
    if (at[i] != (unsigned char)b->seed) fail(where, i);
}

static void check_block(const block *b, const char *where) { check_prefix(b, b->p, b->size, where); }

/* ---- Operations --------------------------------------------------------------- */
static void free_block(const block *b, const char *where) {
  check_block(b, where);
  int rc = np_free(alloc_under_test, b->p);
  if (rc != NP_OK) fail("np_free refused a live block", (uint64_t)-rc);
}

static block new_block(uint64_t *s) {
  block b = {NULL, random_size(s), next_rand(s)};
  uint64_t how = next_rand(s) % 16;
  if (how == 0) {
    b.p = np_calloc(alloc_under_test, 1, b.size);
    if (b.p)
      for (size_t i = 0; i < b.size; i += (b.size <= FULL_PATTERN_LIMIT ? 1 : 509))
        if (b.p[i] != 0) fail("np_calloc gave a byte that is not zero", i);
  } else if (how == 1) {
    size_t align = (size_t)16 << (next_rand(s) % 13); /* 16 B .. 64 KiB */
    b.p = np_alloc_aligned(alloc_under_test, align, b.size);
    if (b.p && (uintptr_t)b.p % align) fail("np_alloc_aligned misaligned", align);
  } else {
    b.p = np_alloc(alloc_under_test, b.size);
  }
  if (b.p == NULL) fail("allocation returned NULL", b.size);
  if (how == 2 && np_usable_size(alloc_under_test, b.p) < b.size)
    fail("usable size below the request", b.size);
  fill(&b);
  atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
  return b;
}

static void resize_block(uint64_t *s, block *b) {
  check_block(b, "block changed while live (before realloc)");
  size_t size = random_size(s);
  unsigned char *q = np_realloc(alloc_under_test, b->p, size);
  if (q == NULL) fail("np_realloc returned NULL", size);
  check_prefix(b, q, size < b->size ? size : b->size, "np_realloc lost the contents");
  b->p = q;
  b->size = size;
  fill(b);
}

/* Frees that must be refused and change nothing: a pointer inside a live
 * block, and one into this thread's stack. */
static void refused_free(const block *live) {
  int local;
  void *bad = live->size >= 32 ? (void *)(live->p + live->size / 2) : (void *)&local;
  if (np_free(alloc_under_test, bad) == NP_OK) fail("np_free accepted a bad pointer", live->size);
  atomic_fetch_add_explicit(&refused_frees, 1, memory_order_relaxed);
  check_block(live, "a refused free changed the block");
}

/* Blocks in transit between threads: whoever takes one out checks and frees
 * it, usually not the thread that allocated it. A slot holds a copy of the
 * block's description (from the C library's malloc, not the allocator under
 * test). */
#define EXCHANGE_SLOTS 1024
static _Atomic(block *) exchange[EXCHANGE_SLOTS];

static void free_from_exchange(block *b, const char *where) {
  if (b == NULL) return;
  free_block(b, where);
  free(b);
  atomic_fetch_add_explicit(&remote_frees, 1, memory_order_relaxed);
}

/* Puts a block in a random exchange slot; frees what was there. */
static void hand_over(uint64_t *s, const block *b) {
  block *copy = malloc(sizeof *copy);
  if (copy == NULL) fail("malloc (the exchange's record)", 0);
  *copy = *b;
  free_from_exchange(atomic_exchange(&exchange[next_rand(s) % EXCHANGE_SLOTS], copy),
                     "block changed in the exchange");
}

static void take_and_free(uint64_t *s) {
  free_from_exchange(atomic_exchange(&exchange[next_rand(s) % EXCHANGE_SLOTS], NULL),
                     "block changed in the exchange");
}

/* Bursts: one thread allocates 64 to 192 blocks of one size (1 KiB to 64 KiB,
 * half of them 32 KiB: a normal class whose remote list holds 64), flushes
 * its cache (no block of those runs stays cached there) and hands them over
 * as one batch, which another thread frees whole: the owner's remote list
 * fills with blocks of whole runs and chunks, and its next flush or exit
 * gives them back in batches that empty chunks (unmapped at once with
 * dirty_decay_ms:0 or retained memory full). */
#define BURST_SLOTS 8
#define BURST_MAX 192
typedef struct burst {
  unsigned n;
  block blocks[BURST_MAX];
} burst;
static _Atomic(burst *) bursts[BURST_SLOTS];

static void free_burst(burst *b, const char *where) {
  if (b == NULL) return;
  for (unsigned i = 0; i < b->n; i++) free_block(&b->blocks[i], where);
  atomic_fetch_add_explicit(&remote_frees, b->n, memory_order_relaxed);
  free(b);
}

static void make_burst(uint64_t *s) {
  burst *b = malloc(sizeof *b);
  if (b == NULL) fail("malloc (a burst's record)", 0);
  size_t size = next_rand(s) % 2 ? 32768 : (size_t)1024 << (next_rand(s) % 7);
  if (size > set.max_size) size = set.max_size;
  b->n = 64 + (unsigned)(next_rand(s) % (BURST_MAX - 64 + 1));
  for (unsigned i = 0; i < b->n; i++) {
    b->blocks[i] = (block){np_alloc(alloc_under_test, size), size, next_rand(s)};
    if (b->blocks[i].p == NULL) fail("allocation returned NULL (burst)", size);
    fill(&b->blocks[i]);
  }
  atomic_fetch_add_explicit(&allocations, b->n, memory_order_relaxed);
  np_thread_cache_flush(alloc_under_test);
  free_burst(atomic_exchange(&bursts[next_rand(s) % BURST_SLOTS], b), "block changed in a burst");
}

static void take_burst(uint64_t *s) {
  free_burst(atomic_exchange(&bursts[next_rand(s) % BURST_SLOTS], NULL), "block changed in a burst");
}

/* ---- Workers -------------------------------------------------------------------- */
static void worker_finished(uintptr_t arg);

static void *worker(void *arg) {
  uint64_t s = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull ^ set.seed;
  next_rand(&s);
  block local[LOCAL_BLOCKS];
  unsigned n = 0;
  /* It lives 20 ms to 2 s, then exits, unless that would leave fewer than
   * --min-threads alive (the controller may be slow to start more on a
   * loaded machine): then it lives on for another span. */
  double end = now_s() + 0.02 + (double)(next_rand(&s) % 1980) / 1000.0;
  uint64_t op = 0;
  int counted_out = 0; /* this thread already took itself off live_threads */
  for (; !atomic_load_explicit(&stopping, memory_order_relaxed); op++) {
    if (op % 32 == 0 && now_s() >= end) {
      unsigned live = atomic_load(&live_threads);
      while (live > set.min_threads && !atomic_compare_exchange_weak(&live_threads, &live, live - 1)) {
      }
      if ((counted_out = live > set.min_threads)) break;
      end = now_s() + 0.02 + (double)(next_rand(&s) % 1980) / 1000.0;
    }
    uint64_t r = next_rand(&s) % 1000;
    if (n < LOCAL_BLOCKS && (n == 0 || r < 480)) {
      local[n++] = new_block(&s);
      continue;
    }
    unsigned i = (unsigned)(next_rand(&s) % n);
    if (r < 540) {
      resize_block(&s, &local[i]);
    } else if (r < 640) {
      hand_over(&s, &local[i]);
      local[i] = local[--n];
    } else if (r < 700) {
      take_and_free(&s);
    } else if (r < 705) {
      refused_free(&local[i]);
    } else if (r < 706) {
      np_thread_cache_flush(alloc_under_test);
      atomic_fetch_add_explicit(&flushes, 1, memory_order_relaxed);
    } else if (r < 707) {
      if (next_rand(&s) % 4 == 0) make_burst(&s);
      else take_burst(&s);
    } else {
      free_block(&local[i], "block changed while live");
      local[i] = local[--n];
    }
  }
  /* Exiting: some blocks go to others (freed after this thread is gone). */
  for (unsigned i = 0; i < n; i++) {
    if (next_rand(&s) % 2) hand_over(&s, &local[i]);
    else free_block(&local[i], "block changed while live (at exit)");
  }
  atomic_fetch_add_explicit(&ops_done, op, memory_order_relaxed);
  if (!counted_out) atomic_fetch_sub(&live_threads, 1);
  worker_finished((uintptr_t)arg);
  return NULL;
}

/* Workers are joined (not detached) so that a finished one's thread exit, where
 * npool retires its cache, is over before the final counts are read. */
#define MAX_WORKERS 1024
static struct worker_slot {
  pthread_t thread;
  int running;          /* started and not yet joined (the controller's) */
  atomic_bool finished; /* the worker's last store */
} workers[MAX_WORKERS];

static void worker_finished(uintptr_t arg) {
  atomic_store(&workers[arg % MAX_WORKERS].finished, 1);
}

static void join_finished(void) {
  for (unsigned i = 0; i < MAX_WORKERS; i++)
    if (workers[i].running && atomic_load(&workers[i].finished)) {
      pthread_join(workers[i].thread, NULL);
      workers[i].running = 0;
    }
}

static int start_worker(uint64_t index) {
  unsigned slot = 0;
  while (slot < MAX_WORKERS && workers[slot].running) slot++;
  if (slot == MAX_WORKERS) return EAGAIN;
  atomic_store(&workers[slot].finished, 0);
  unsigned live = atomic_fetch_add(&live_threads, 1) + 1;
  int rc = pthread_create(&workers[slot].thread, NULL, worker,
                          (void *)(uintptr_t)(index * MAX_WORKERS + slot));
  if (rc != 0) {
    atomic_fetch_sub(&live_threads, 1);
    return rc;
  }
  workers[slot].running = 1;
  atomic_fetch_add(&threads_started, 1);
  unsigned peak = atomic_load(&peak_threads);
  while (live > peak && !atomic_compare_exchange_weak(&peak_threads, &peak, live)) {
  }
  return 0;
}

/* ---- fork() while the workers run ---------------------------------------------- */
/* The child allocates, frees some blocks the parent's threads left in the
 * exchange (their owners do not exist in the child), checks the stats, exits. */
static void child_after_fork(uint64_t seed) {
  uint64_t s = seed;
  block local[LOCAL_BLOCKS];
  unsigned n = 0;
  for (int op = 0; op < 1000; op++) {
    if (n < LOCAL_BLOCKS && next_rand(&s) % 2) {
      local[n++] = new_block(&s);
    } else if (n > 0) {
      unsigned i = (unsigned)(next_rand(&s) % n);
      free_block(&local[i], "child: block changed while live");
      local[i] = local[--n];
    }
    if (op % 16 == 0) take_and_free(&s);
    if (op % 250 == 0) take_burst(&s);
  }
  while (n > 0) free_block(&local[--n], "child: block changed while live");
  np_stats st;
  if (np_allocator_stats(alloc_under_test, &st) != NP_OK) fail("child: np_allocator_stats", 0);
  if (np_allocator_purge(alloc_under_test) != NP_OK) fail("child: np_allocator_purge", 0);
  _exit(0);
}

static void fork_once(uint64_t seed) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) fail("fork", (uint64_t)errno);
  if (pid == 0) child_after_fork(seed);
  int status;
  if (waitpid(pid, &status, 0) != pid) fail("waitpid", (uint64_t)errno);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("the forked child failed (status)", (uint64_t)status);
}

/* ---- Main ------------------------------------------------------------------------- */
static void usage(void) {
  fprintf(stderr,
          "usage: stress [--seconds N] [--min-threads N] [--max-threads N] [--max-size BYTES]\n"
          "              [--fork-every-ms N (0: never)] [--seed N] [--conf \"key:value,...\"]\n"
          "              [--progress-every SECONDS]\n");
  exit(2);
}

static void report_conf_problem(void *ctx, const char *msg) {
  (void)ctx;
  fprintf(stderr, "stress: --conf: %s\n", msg);
  exit(2);
}

int main(int argc, char **argv) {
  np_config cfg = np_config_from_env();
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL) usage();
    i++;
    if (!strcmp(k, "--seconds")) set.seconds = atof(v);
    else if (!strcmp(k, "--min-threads")) set.min_threads = (unsigned)atoi(v);
    else if (!strcmp(k, "--max-threads")) set.max_threads = (unsigned)atoi(v);
    else if (!strcmp(k, "--max-size")) set.max_size = (size_t)strtoull(v, NULL, 0);
    else if (!strcmp(k, "--fork-every-ms")) set.fork_every_ms = (unsigned)atoi(v);
    else if (!strcmp(k, "--seed")) set.seed = strtoull(v, NULL, 0);
    else if (!strcmp(k, "--progress-every")) set.progress_every = atof(v);
    else if (!strcmp(k, "--conf")) np_config_from_string(&cfg, v, report_conf_problem, NULL);
    else usage();
  }
  if (set.min_threads < 1 || set.max_threads < set.min_threads ||
      set.max_threads > MAX_WORKERS || set.max_size < 16 ||
      set.seconds <= 0)
    usage();
  int rc = np_allocator_create(&cfg, &alloc_under_test);
  if (rc != NP_OK) fail("np_allocator_create", (uint64_t)-rc);

  uint64_t s = set.seed * 0x2545F4914F6CDD1Dull + 7;
  double start = now_s(), end = start + set.seconds, next_fork = start + 0.05, next_target = start + 0.2,
         next_purge = start + 0.25, next_progress = start + set.progress_every;
  unsigned target = set.max_threads;
  uint64_t forks = 0, purges = 0, next_index = 0, create_failures = 0, peak_mapped = 0;
  while (now_s() < end) {
    double t = now_s();
    if (t >= next_target) { /* the number of live threads wanders */
      target = set.min_threads + (unsigned)(next_rand(&s) % (set.max_threads - set.min_threads + 1));
      next_target = t + 0.2;
    }
    join_finished();
    /* A few at a time, so that the rest of the round still runs where
     * starting a thread is slow (TSan). */
    for (int n = 0; n < 16 && atomic_load(&live_threads) < target; n++)
      if (start_worker(next_index++) != 0) {
        create_failures++;
        break;
      }
    if (set.fork_every_ms && t >= next_fork) {
      fork_once(next_rand(&s));
      forks++;
      next_fork = t + set.fork_every_ms / 1000.0;
    }
    np_stats st;
    if (np_allocator_stats(alloc_under_test, &st) != NP_OK) fail("np_allocator_stats", 0);
    if (st.mapped_bytes > peak_mapped) peak_mapped = st.mapped_bytes;
    if (t >= next_progress) {
      fprintf(stderr,
              "stress: %.0f s, %" PRIu64 " allocations, %" PRIu64 " threads started, %u alive, %" PRIu64
              " forks, %.1f MiB mapped\n",
              t - start, atomic_load(&allocations), atomic_load(&threads_started),
              atomic_load(&live_threads), forks, st.mapped_bytes / 1048576.0);
      next_progress = t + set.progress_every;
    }
    if (t >= next_purge) {
      if (np_allocator_purge(alloc_under_test) != NP_OK) fail("np_allocator_purge", 0);
      purges++;
      next_purge = t + 0.25;
    }
    usleep(2000);
  }
  atomic_store(&stopping, 1);
  for (unsigned i = 0; i < MAX_WORKERS; i++)
    if (workers[i].running) pthread_join(workers[i].thread, NULL), workers[i].running = 0;
  for (unsigned i = 0; i < EXCHANGE_SLOTS; i++) {
    free_from_exchange(atomic_exchange(&exchange[i], NULL),
                       "block changed in the exchange (at the end)");
  }
  for (unsigned i = 0; i < BURST_SLOTS; i++)
    free_burst(atomic_exchange(&bursts[i], NULL), "block changed in a burst (at the end)");
  np_thread_cache_flush(alloc_under_test);

  np_stats st;
  if (np_allocator_stats(alloc_under_test, &st) != NP_OK) fail("np_allocator_stats", 0);
  uint64_t active = st.small.active + st.normal.active + st.huge.active;
  uint64_t active_bytes = st.small.active_bytes + st.normal.active_bytes + st.huge.active_bytes;
  if (active != 0) fail("blocks still active after every free", active);
  if (active_bytes != 0) fail("bytes still active after every free", active_bytes);
  if (st.invalid_frees != atomic_load(&refused_frees))
    fail("refused frees counted differently", st.invalid_frees);
  uint64_t allocs = atomic_load(&allocations);
  if (st.small.allocations + st.normal.allocations + st.huge.allocations < allocs)
    fail("the stats count fewer allocations than were made", allocs);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("stress: ok, strategy %s, seed %" PRIu64 ", %.0f s, %" PRIu64 " operations, %" PRIu64
         " allocations, %" PRIu64 " frees by another thread, %" PRIu64 " refused frees, %" PRIu64
         " flushes, %" PRIu64 " purges, %" PRIu64 " threads started (at most %u alive, %" PRIu64
         " creations refused), %" PRIu64 " forks, peak RSS %.1f MiB, peak mapped %.1f MiB\n",
         np_strategy_name(), set.seed, now_s() - start, atomic_load(&ops_done), allocs,
         atomic_load(&remote_frees), atomic_load(&refused_frees), atomic_load(&flushes), purges,
         atomic_load(&threads_started), atomic_load(&peak_threads), create_failures, forks,
         ru.ru_maxrss / 1024.0, peak_mapped / 1048576.0);
  np_allocator_destroy(alloc_under_test);
  return 0;
}
