/*
 * Leak detection of pooled buffers (Netty's ResourceLeakDetector): the bodies
 * of the hooks in leak_hooks.h, the records and the reports.
 *
 *   np_buf_alloc ──> np_leak_on_create: level of the allocator's config
 *                    disabled: nothing; simple / advanced: 1 buffer in
 *                    leak_sampling_interval (per-thread countdown); paranoid:
 *                    every buffer ──> np_leak_create_slow: a record (creation
 *                    backtrace) linked into the list of open records
 *   public call  ──> np_leak_on_touch: root->leak set and level advanced or
 *                    paranoid ──> the hint (function name or np_buf_touch's)
 *                    joins the last NP_LEAK_TOUCHES, with a backtrace of it
 *   count 0      ──> np_leak_on_free: the record is closed (unlinked, freed)
 *
 * A record still open when its allocator is destroyed (np_allocator_destroy
 * runs the destroy hook the detector registers with its first record) or when the process exits (atexit:
 * allocators never destroyed, np_default_allocator()) is a leak: reported to
 * stderr, or to the callback set with np_leak_set_reporter, one report per
 * leaked buffer, with the creation backtrace symbolised and, at advanced and
 * paranoid, the recent touches.
 *
 * Memory: records come from np_alloc on a private allocator of their own
 * (made with the first record, never destroyed; a buffer made when there is
 * no memory for its record is not tracked), not from malloc, so the detector does not call malloc
 * while buffers are made and used (npool may one day replace malloc through
 * LD_PRELOAD). Two exceptions, documented: glibc's backtrace() loads libgcc_s
 * on its first call (dlopen, which mallocs): the detector makes that first
 * call when it starts (the first tracked buffer); and backtrace_symbols()
 * mallocs its result: it runs at report time only.
 *
 * Locking: one mutex guards the list of open records and every record's
 * touches (tracking is the slow path: a sample, or paranoid). Reports are
 * formatted and delivered outside it.
 */
#include <execinfo.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer_internal.h"

#define NP_LEAK_FRAMES 24  /* creation and latest-touch backtraces */
#define NP_LEAK_TOUCHES 4  /* recent touches kept (advanced, paranoid) */
#define NP_LEAK_HINT 48    /* bytes of a touch's hint kept (with the NUL) */

typedef struct np_leak_record {
  struct np_leak_record *prev, *next; /* the list of open records */
  np_allocator *alloc;
  np_buf *buf;
  np_leak_level level;
  size_t capacity;           /* at creation */
  const void *caller;        /* np_buf_alloc's return address */
  int nframes, first;         /* frames[first]: np_buf_alloc */
  void *frames[NP_LEAK_FRAMES];
  uint64_t ntouches;         /* touches seen in all */
  char touches[NP_LEAK_TOUCHES][NP_LEAK_HINT]; /* ring: the latest at (ntouches - 1) % N */
  int touch_nframes, touch_first; /* backtrace of the latest touch, from the public function */
  void *touch_frames[NP_LEAK_FRAMES];
} np_leak_record;

NP_BUF_TLS unsigned np_leak_countdown;

static pthread_mutex_t leak_lock = PTHREAD_MUTEX_INITIALIZER;
static np_leak_record *open_records; /* guarded by leak_lock */
static void (*reporter)(void *ctx, const char *report); /* guarded by leak_lock */
static void *reporter_ctx;

static pthread_once_t leak_once = PTHREAD_ONCE_INIT;
static np_allocator *record_alloc; /* the records' private allocator (never destroyed; __atomic) */

static void report_at_exit(void);

/* fork(): no other thread inside the record list while the process forks. */
static void leak_prefork(void) { pthread_mutex_lock(&leak_lock); }
static void leak_postfork(void) { pthread_mutex_unlock(&leak_lock); }

static void report_on_destroy(np_allocator *a);

static void leak_start(void) {
  void *warm[2];
  backtrace(warm, 2); /* loads libgcc_s now (it mallocs), not inside a later call */
  atexit(report_at_exit);
  pthread_atfork(leak_prefork, leak_postfork, leak_postfork);
  /* Before the first record: none can be open when an allocator goes
   * unreported. (No room for the hook: reports come at exit only.) */
  np_on_allocator_destroy(report_on_destroy);
}

void np_leak_set_reporter(void (*report)(void *ctx, const char *report), void *ctx) {
  pthread_mutex_lock(&leak_lock);
  reporter = report;
  reporter_ctx = ctx;
  pthread_mutex_unlock(&leak_lock);
}

/* ---- The hooks' slow paths ----------------------------------------------------- */

/* The index of the frame ret (the slow path's return address: the public
 * function the hook is inlined into) in frames: the frames before it are the
 * detector's own (and, under ASan, its backtrace interceptor). 1 if absent. */
static int first_frame(void *const *frames, int n, const void *ret) {
  for (int i = 0; i < n; i++)
    if (frames[i] == ret) return i;
  return n > 1 ? 1 : n;
}

void np_leak_create_slow(np_buf *root, np_allocator *alloc, const void *caller) {
  pthread_once(&leak_once, leak_start);
  /* Made with the first record (again later if there was no memory then). */
  np_allocator *records = np_private_allocator(&record_alloc);
  np_leak_record *rec = records ? np_alloc(records, sizeof *rec) : NULL;
  if (rec == NULL) return; /* no memory for a record: not tracked */
  rec->alloc = alloc;
  rec->buf = root;
  rec->level = np_allocator_config(alloc)->leak_detection;
  rec->capacity = root->capacity;
  rec->caller = caller;
  rec->nframes = backtrace(rec->frames, NP_LEAK_FRAMES);
  rec->first = first_frame(rec->frames, rec->nframes, __builtin_return_address(0));
  rec->ntouches = 0;
  rec->touch_nframes = rec->touch_first = 0;
  pthread_mutex_lock(&leak_lock);
  rec->prev = NULL;
  rec->next = open_records;
  if (open_records) open_records->prev = rec;
  open_records = rec;
  root->leak = rec;
  pthread_mutex_unlock(&leak_lock);
}

void np_leak_touch_slow(const np_buf *root, const char *hint) {
  np_leak_record *rec = root->leak;
  if (rec == NULL || rec->level < NP_LEAK_ADVANCED) return; /* simple: creation site only */
  void *frames[NP_LEAK_FRAMES];
  int n = backtrace(frames, NP_LEAK_FRAMES);
  int first = first_frame(frames, n, __builtin_return_address(0));
  pthread_mutex_lock(&leak_lock);
  if (root->leak == rec) { /* still open */
    char *slot = rec->touches[rec->ntouches % NP_LEAK_TOUCHES];
    snprintf(slot, NP_LEAK_HINT, "%s", hint ? hint : "(no hint)");
    rec->ntouches++;
    memcpy(rec->touch_frames, frames, (size_t)n * sizeof frames[0]);
    rec->touch_nframes = n;
    rec->touch_first = first;
  }
  pthread_mutex_unlock(&leak_lock);
}

static void unlink_record(np_leak_record *rec) {
  if (rec->prev) rec->prev->next = rec->next;
  else open_records = rec->next;
  if (rec->next) rec->next->prev = rec->prev;
}

void np_leak_free_slow(np_buf *root) {
  pthread_mutex_lock(&leak_lock);
  np_leak_record *rec = root->leak;
  if (rec) {
    unlink_record(rec);
    root->leak = NULL;
  }
  pthread_mutex_unlock(&leak_lock);
  if (rec) np_free(record_alloc, rec);
}

/* ---- Reports ------------------------------------------------------------------------ */

typedef struct {
  char *buf;
  size_t len, cap;
} np_text;

static void text_add(np_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(np_text *t, const char *fmt, ...) {
  if (t->len + 1 >= t->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  if (n > 0) t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

/* Frames [skip, n) symbolised (backtrace_symbols: malloc, report time only). */
static void text_frames(np_text *t, void *const *frames, int n, int skip) {
  if (n <= skip) {
    text_add(t, "    (no backtrace)\n");
    return;
  }
  char **names = backtrace_symbols(frames + skip, n - skip);
  for (int i = skip; i < n; i++)
    if (names) text_add(t, "    #%d %s\n", i - skip, names[i - skip]);
    else text_add(t, "    #%d %p\n", i - skip, frames[i]);
  free(names);
}

/* Reports one leaked record (called without the lock). */
static void report_record(const np_leak_record *rec, const char *when) {
  static const char *const level_names[] = {"disabled", "simple", "advanced", "paranoid"};
  char buf[8192];
  np_text t = {buf, 0, sizeof buf};
  buf[0] = '\0';
  text_add(&t,
           "LEAK: np_buf_release() was not called before the buffer was lost (%s); "
           "buffer %p, capacity %zu at creation, allocator %p, leak_detection %s\n",
           when, (void *)rec->buf, rec->capacity, (void *)rec->alloc,
           level_names[rec->level <= NP_LEAK_PARANOID ? rec->level : 0]);
  if (rec->level >= NP_LEAK_ADVANCED) {
    uint64_t n = rec->ntouches;
    unsigned kept = n < NP_LEAK_TOUCHES ? (unsigned)n : NP_LEAK_TOUCHES;
    text_add(&t, "Recent access records: %llu in all, the last %u (latest first):\n",
             (unsigned long long)n, kept);
    for (unsigned i = 0; i < kept; i++)
      text_add(&t, "  touch #%llu: %s\n", (unsigned long long)(n - i),
               rec->touches[(n - 1 - i) % NP_LEAK_TOUCHES]);
    if (kept) {
      text_add(&t, "  latest touch at:\n");
      text_frames(&t, rec->touch_frames, rec->touch_nframes, rec->touch_first);
    }
  }
  text_add(&t, "Created at:\n");
  text_frames(&t, rec->frames, rec->nframes, rec->first);

  pthread_mutex_lock(&leak_lock);
  void (*fn)(void *, const char *) = reporter;
  void *ctx = reporter_ctx;
  pthread_mutex_unlock(&leak_lock);
  if (fn) fn(ctx, buf);
  else fprintf(stderr, "npool: %s", buf);
}

/* Unlinks every open record of alloc (NULL: all), reports and frees them. */
static void report_open(np_allocator *alloc, const char *when) {
  np_leak_record *leaked = NULL;
  pthread_mutex_lock(&leak_lock);
  np_leak_record *rec = open_records;
  while (rec) {
    np_leak_record *next = rec->next;
    if (alloc == NULL || rec->alloc == alloc) {
      unlink_record(rec);
      /* The object outlives the allocator (objects are never unmapped): a
       * later call on this leaked buffer must not reach the freed record. */
      rec->buf->leak = NULL;
      rec->next = leaked;
      leaked = rec;
    }
    rec = next;
  }
  pthread_mutex_unlock(&leak_lock);
  while (leaked) {
    np_leak_record *next = leaked->next;
    report_record(leaked, when);
    np_free(record_alloc, leaked);
    leaked = next;
  }
}

/* The destroy hook (np_on_allocator_destroy), registered with the first
 * record. */
static void report_on_destroy(np_allocator *a) {
  /* No record of a was ever made: no list to look at (and no lock to take). */
  if (np_allocator_config(a)->leak_detection == NP_LEAK_DISABLED) return;
  report_open(a, "allocator destroyed");
}

static void report_at_exit(void) { report_open(NULL, "process exit"); }
