/*
 * threads_fuzz: the allocation language over 2 to 4 threads that hand blocks
 * to each other, so that remote frees, frees after the allocating thread
 * exited and the caches of exited threads are covered.
 *
 * Deterministic enough to reproduce a finding from its input: the main
 * thread reads the program and hands one operation at a time to the worker
 * thread the operation names (a semaphore each way), so the operations run in
 * the input's order, each on its own thread; only the "race" operation lets
 * two threads free one block at the same instant (exactly one may succeed).
 *
 * Input: byte 0 the thread count (2..4) and the caches, byte 1 the arenas
 * (1..4), the chunk size, the trim interval and what an emptied chunk
 * becomes (retained, or unmapped at once: dirty_decay_ms 0, or retained
 * memory full), then operations: an opcode byte whose low 2 bits name the
 * thread, and operands. The model and its checks are alloc_fuzz's: blocks never
 * overlap, keep their pattern until freed, a live block's free is NP_OK on
 * any thread, a freed one is refused, np_allocator_stats agrees.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npool.h"
#include "fuzz_support.h"

#define MAX_LIVE 256
#define MAX_FREED 32
#define MAX_THREADS 4

typedef struct block {
  uint8_t *p;
  size_t usable;
  uint64_t id;
} block;

enum { OP_ALLOC, OP_FREE, OP_FREE_STALE, OP_FLUSH, OP_EXIT, OP_RACE_FREE };

typedef struct worker {
  pthread_t tid;
  int running;
  sem_t go, done;
  int op;
  size_t arg;
  uint8_t *ptr;
  int rc;
} worker;

static np_allocator *A;
static worker W[MAX_THREADS];
static block live[MAX_LIVE];
static unsigned n_live;
static uint8_t *freed[MAX_FREED];
static unsigned n_freed, freed_next;
static uint64_t next_id, invalid, live_bytes;
static int exact_claims; /* this input's exact_double_free */
static size_t chunk;

FZ_NO_COVERAGE static size_t next_off(size_t off, size_t n) {
  if (n <= 4096 || off < 64 || off + 65 >= n) return off + 1;
  if (off + 512 < n - 64) return (off + 512) & ~(size_t)511;
  return n - 64;
}

FZ_NO_COVERAGE static void fill(uint8_t *p, size_t n, uint64_t id) {
  for (size_t off = 0; off < n; off = next_off(off, n)) p[off] = fz_pattern_byte(id, off);
}

FZ_NO_COVERAGE static void check(const uint8_t *p, size_t n, uint64_t id) {
  for (size_t off = 0; off < n; off = next_off(off, n))
    FZ_CHECK(p[off] == fz_pattern_byte(id, off), "block %p (%zu bytes, id %llu) overwritten at %zu", (void *)p, n,
             (unsigned long long)id, off);
}

FZ_NO_COVERAGE static int find_live(const uint8_t *q) {
  for (unsigned i = 0; i < n_live; i++)
    if (q >= live[i].p && q < live[i].p + live[i].usable) return (int)i;
  return -1;
}

FZ_NO_COVERAGE static void add_block(uint8_t *p, size_t req) {
  FZ_CHECK(p != NULL, "np_alloc(%zu) gave NULL, errno %d", req, errno);
  size_t usable = np_usable_size(A, p);
  FZ_CHECK(usable >= req && usable > 0, "np_alloc(%zu): usable %zu", req, usable);
  for (unsigned i = 0; i < n_live; i++)
    FZ_CHECK(p + usable <= live[i].p || live[i].p + live[i].usable <= p, "[%p, +%zu) overlaps [%p, +%zu)",
             (void *)p, usable, (void *)live[i].p, live[i].usable);
  for (unsigned i = 0; i < n_freed; i++)
    if (freed[i] >= p && freed[i] < p + usable) freed[i] = NULL;
  block b = {p, usable, ++next_id};
  fill(p, usable, b.id);
  live[n_live++] = b;
  live_bytes += usable;
}

static void drop_live(unsigned i) {
  block b = live[i];
  live[i] = live[--n_live];
  live_bytes -= b.usable;
  freed[freed_next] = b.p;
  freed_next = (freed_next + 1) % MAX_FREED;
  if (n_freed < MAX_FREED) n_freed++;
}

/* One operation, on the worker's thread (the main thread waits meanwhile,
 * so the model needs no lock: the semaphores order every access). */
static void run_op(worker *w) {
  switch (w->op) {
    case OP_ALLOC:
      add_block(np_alloc(A, w->arg), w->arg);
      break;
    case OP_FREE: {
      block b = live[w->arg];
      check(b.p, b.usable, b.id);
      int rc = np_free(A, b.p);
      FZ_CHECK(rc == NP_OK, "np_free(live %p) on another thread = %s", (void *)b.p, np_strerror(rc));
      drop_live((unsigned)w->arg);
      break;
    }
    case OP_FREE_STALE: {
      int at = find_live(w->ptr);
      int rc = np_free(A, w->ptr);
      invalid++;
      if (at >= 0)
        FZ_CHECK(rc == NP_ERR_NOT_BLOCK_START, "np_free(freed %p, inside a live block) = %s", (void *)w->ptr,
                 np_strerror(rc));
      else
        FZ_CHECK(rc == NP_ERR_DOUBLE_FREE || rc == NP_ERR_NOT_BLOCK_START || rc == NP_ERR_FOREIGN_POINTER,
                 "np_free(freed %p) = %s", (void *)w->ptr, np_strerror(rc));
      break;
    }
    case OP_FLUSH:
      np_thread_cache_flush(A);
      break;
    case OP_RACE_FREE:
      w->rc = np_free(A, w->ptr);
      break;
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  for (;;) {
    while (sem_wait(&w->go) != 0) {
    }
    if (w->op == OP_EXIT) break;
    run_op(w);
    sem_post(&w->done);
  }
  return NULL;
}

static void start(worker *w) {
  if (w->running) return;
  sem_init(&w->go, 0, 0);
  sem_init(&w->done, 0, 0);
  FZ_CHECK(pthread_create(&w->tid, NULL, worker_main, w) == 0, "pthread_create");
  w->running = 1;
}

static void stop(worker *w) {
  if (!w->running) return;
  w->op = OP_EXIT;
  sem_post(&w->go);
  pthread_join(w->tid, NULL);
  sem_destroy(&w->go);
  sem_destroy(&w->done);
  w->running = 0;
}

static void post(worker *w, int op, size_t arg, uint8_t *ptr) {
  start(w);
  w->op = op;
  w->arg = arg;
  w->ptr = ptr;
  sem_post(&w->go);
}

static void wait_done(worker *w) {
  while (sem_wait(&w->done) != 0) {
  }
}

static void on(worker *w, int op, size_t arg, uint8_t *ptr) {
  post(w, op, arg, ptr);
  wait_done(w);
}

static void expect_stats(void) {
  np_stats s;
  FZ_CHECK(np_allocator_stats(A, &s) == NP_OK, "stats");
  uint64_t active = s.small.active + s.normal.active + s.huge.active;
  uint64_t bytes = s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes;
  FZ_CHECK(active == n_live, "stats: %llu active, model %u", (unsigned long long)active, n_live);
  FZ_CHECK(bytes == live_bytes, "stats: %llu active bytes, model %llu", (unsigned long long)bytes,
           (unsigned long long)live_bytes);
  FZ_CHECK(s.invalid_frees == invalid, "stats: %llu invalid frees, model %llu",
           (unsigned long long)s.invalid_frees, (unsigned long long)invalid);
}

static size_t pick_size(fz_in *in, size_t page) {
  uint8_t k = fz_u8(in);
  uint16_t v = fz_u16(in);
  switch (k % 4) {
    case 0: return v % 513;
    case 1: return v % (4 * page + 1);
    case 2: return v % (chunk + 1);
    default: return chunk + 1 + (size_t)(v % 64) * 4096;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  n_live = n_freed = freed_next = 0;
  next_id = invalid = live_bytes = 0;
  uint8_t b0 = fz_u8(&in), b1 = fz_u8(&in);
  unsigned threads = 2 + b0 % 3;
  np_config c = np_config_default();
  static const unsigned caches[] = {0, 1, 4, 256};
  c.small_cache_size = caches[(b0 >> 2) % 4];
  c.normal_cache_size = caches[(b0 >> 4) % 4];
  c.cache_refill_batch = (b0 >> 6) == 1 ? 1 : 0;
  c.trim_low_water = (b0 >> 7) & 1;
  c.arenas = 1 + b1 % 4;
  c.max_order = (b1 >> 2) % 2 ? 4 : 9;
  c.cache_trim_interval = (b1 >> 3) % 2 ? 3 : 8192;
  /* Racing frees of one block only with exact claims (the default claim lets
   * both win: a race in the caller); stale frees race nothing. */
  c.exact_double_free = exact_claims = (b1 >> 6) & 1;
  switch ((b1 >> 4) % 4) { /* an emptied chunk: retained, or unmapped at once */
    case 1: c.dirty_decay_ms = 0; break;
    case 2: c.retained_max = 0; break; /* (retained memory always full) */
    default: break;
  }
  c.leak_detection = NP_LEAK_DISABLED;
  chunk = c.page_size << c.max_order;
  FZ_CHECK(np_allocator_create(&c, &A) == NP_OK, "create");

  for (unsigned ops = 0; !fz_done(&in) && ops < 1500; ops++) {
    uint8_t op = fz_u8(&in);
    worker *w = &W[(op & 3) % threads];
    switch ((op >> 2) % 8) {
      case 0:
      case 1: { /* alloc on thread w */
        size_t n = pick_size(&in, c.page_size);
        if (n_live < MAX_LIVE && live_bytes < (64u << 20)) on(w, OP_ALLOC, n, NULL);
        break;
      }
      case 2:
      case 3: { /* free a live block on thread w (often not the one that made it) */
        uint16_t sel = fz_u16(&in);
        if (n_live) on(w, OP_FREE, sel % n_live, NULL);
        break;
      }
      case 4: { /* free a freed pointer on thread w */
        uint8_t sel = fz_u8(&in);
        if (n_freed && freed[sel % n_freed]) on(w, OP_FREE_STALE, 0, freed[sel % n_freed]);
        break;
      }
      case 5: /* flush thread w's cache */
        on(w, OP_FLUSH, 0, NULL);
        break;
      case 6: /* thread w exits (its cache goes; its blocks stay live) */
        stop(w);
        if (op & 0x80) expect_stats();
        break;
      default: { /* two threads free one live block at the same instant */
        uint16_t sel = fz_u16(&in);
        worker *w2 = &W[((op & 3) + 1) % threads];
        if (n_live == 0 || !exact_claims) break;
        unsigned i = sel % n_live;
        block b = live[i];
        check(b.p, b.usable, b.id);
        start(w);
        start(w2);
        post(w, OP_RACE_FREE, 0, b.p);
        post(w2, OP_RACE_FREE, 0, b.p);
        wait_done(w);
        wait_done(w2);
        int ok = (w->rc == NP_OK) + (w2->rc == NP_OK);
        FZ_CHECK(ok == 1, "racing frees of %p: %s and %s", (void *)b.p, np_strerror(w->rc), np_strerror(w2->rc));
        int bad = w->rc == NP_OK ? w2->rc : w->rc;
        /* The winner may have unmapped it (a huge block, a chunk it emptied):
         * then the pointer is no longer npool's. */
        FZ_CHECK(bad == NP_ERR_DOUBLE_FREE || bad == NP_ERR_FOREIGN_POINTER || bad == NP_ERR_NOT_BLOCK_START,
                 "the losing racing free of %p: %s", (void *)b.p, np_strerror(bad));
        invalid++;
        drop_live(i);
      }
    }
  }
  expect_stats();
  for (unsigned t = 0; t < threads; t++) stop(&W[t]);
  expect_stats();
  while (n_live) {
    block b = live[n_live - 1];
    check(b.p, b.usable, b.id);
    FZ_CHECK(np_free(A, b.p) == NP_OK, "final free of %p", (void *)b.p);
    drop_live(n_live - 1);
  }
  expect_stats();
  np_allocator_destroy(A);
  return 0;
}
