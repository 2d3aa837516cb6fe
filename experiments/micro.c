/*
 * micro: single-thread alloc/free pairs, npool against glibc and jemalloc.
 *
 *   bazel run -c opt //experiments:micro [-- --iters N --repeats N --quick]
 *
 * For each size (64 B, 1 KiB, 16 KiB, 64 KiB, 1 MiB) and each allocator, one
 * thread runs N pairs of "allocate, write one byte, free" in a tight loop and
 * reports nanoseconds per pair: the median of R repeats, after a warm-up. The
 * repeats of the three allocators are interleaved (npool, glibc, jemalloc,
 * npool, ...) so that a noisy neighbour slows all three alike rather than one.
 * Ratios are to jemalloc measured in the same run.
 *
 * Which function is measured, unambiguously:
 *   npool     np_alloc / np_free on one np_allocator with np_config_default()
 *   glibc     __libc_malloc / __libc_free: glibc's own malloc, which libc.so.6
 *             exports under these names; plain malloc is jemalloc's here,
 *             because this binary links -ljemalloc (checked at start-up)
 *   jemalloc  malloc / free, which are jemalloc's: the binary links -ljemalloc
 *             and start-up refuses to measure unless jemalloc's own counter
 *             (mallctl "thread.allocated") sees a malloc'd block. This is the
 *             path programs use, with jemalloc's fast paths; `--mallocx`
 *             measures mallocx(size, 0) / dallocx(p, 0) instead, which in
 *             jemalloc 5.3 skip those fast paths (about 1.5x slower at 64 B).
 * Each loop calls its allocator directly (no function pointer), is not
 * inlined into main, and keeps the block alive past the compiler: a one-byte
 * volatile store into the block, an empty asm that takes the pointer and
 * clobbers memory, and a volatile sink for a running checksum.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npool.h"

/* glibc's malloc under its internal names (exported by libc.so.6, no header). */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);

#define BARRIER() __asm__ __volatile__("" ::: "memory")
#define USE_PTR(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static volatile uintptr_t g_sink;

enum { ALLOC_NPOOL, ALLOC_GLIBC, ALLOC_JEMALLOC, ALLOC_COUNT };
static const char *const alloc_names[ALLOC_COUNT] = {"npool", "glibc", "jemalloc"};

static const size_t sizes[] = {64, 1024, 16 * 1024, 64 * 1024, 1024 * 1024};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static np_allocator *g_np;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die_nomem(const char *who, size_t size) {
  fprintf(stderr, "micro: %s could not allocate %zu bytes: %s\n", who, size, strerror(errno));
  exit(1);
}

/* One loop per allocator, so each call is a direct call. */
__attribute__((noinline)) static void loop_npool(size_t size, long iters) {
  uintptr_t acc = 0;
  int bad = NP_OK;
  for (long i = 0; i < iters; i++) {
    char *p = np_alloc(g_np, size);
    if (__builtin_expect(p == NULL, 0)) die_nomem("np_alloc", size);
    *(volatile char *)p = (char)i;
    USE_PTR(p);
    acc += (uintptr_t)p;
    int rc = np_free(g_np, p);
    if (__builtin_expect(rc != NP_OK, 0)) bad = rc;
    BARRIER();
  }
  g_sink = acc;
  if (bad != NP_OK) {
    fprintf(stderr, "micro: np_free failed: %s\n", np_strerror(bad));
    exit(1);
  }
}

__attribute__((noinline)) static void loop_glibc(size_t size, long iters) {
  uintptr_t acc = 0;
  for (long i = 0; i < iters; i++) {
    char *p = __libc_malloc(size);
    if (__builtin_expect(p == NULL, 0)) die_nomem("__libc_malloc", size);
    *(volatile char *)p = (char)i;
    USE_PTR(p);
    acc += (uintptr_t)p;
    __libc_free(p);
    BARRIER();
  }
  g_sink = acc;
}

/* malloc/free resolve to libjemalloc.so (verified in check_malloc_identity). */
__attribute__((noinline)) static void loop_jemalloc(size_t size, long iters) {
  uintptr_t acc = 0;
  for (long i = 0; i < iters; i++) {
    char *p = malloc(size);
    if (__builtin_expect(p == NULL, 0)) die_nomem("malloc (jemalloc)", size);
    *(volatile char *)p = (char)i;
    USE_PTR(p);
    acc += (uintptr_t)p;
    free(p);
    BARRIER();
  }
  g_sink = acc;
}

__attribute__((noinline)) static void loop_jemalloc_mallocx(size_t size, long iters) {
  uintptr_t acc = 0;
  for (long i = 0; i < iters; i++) {
    char *p = mallocx(size, 0);
    if (__builtin_expect(p == NULL, 0)) die_nomem("mallocx", size);
    *(volatile char *)p = (char)i;
    USE_PTR(p);
    acc += (uintptr_t)p;
    dallocx(p, 0);
    BARRIER();
  }
  g_sink = acc;
}

static int g_use_mallocx;

static void run_loop(int which, size_t size, long iters) {
  switch (which) {
    case ALLOC_NPOOL: loop_npool(size, iters); break;
    case ALLOC_GLIBC: loop_glibc(size, iters); break;
    default:
      if (g_use_mallocx) loop_jemalloc_mallocx(size, iters);
      else loop_jemalloc(size, iters);
      break;
  }
}

static double time_loop(int which, size_t size, long iters) {
  BARRIER();
  double t0 = now_ns();
  BARRIER();
  run_loop(which, size, iters);
  BARRIER();
  double t1 = now_ns();
  BARRIER();
  return (t1 - t0) / (double)iters;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static const char *lib_of(void *fn) {
  Dl_info info;
  if (dladdr(fn, &info) && info.dli_fname) {
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
  }
  return "?";
}

/* Checks and reports which library plain malloc comes from, and refuses to
 * go on unless it is jemalloc. jemalloc's per-thread counter
 * "thread.allocated" grows by a malloc'd block only when malloc is jemalloc's;
 * dladdr names the library that defines the symbol. */
static void check_malloc_identity(void) {
  const char *version = "?";
  size_t len = sizeof version;
  if (mallctl("version", &version, &len, NULL, 0) != 0) version = "?";

  uint64_t before = 0, after = 0;
  size_t sz = sizeof before;
  int have_counter = mallctl("thread.allocated", &before, &sz, NULL, 0) == 0;
  void *volatile p = malloc(4096);
  sz = sizeof after;
  if (have_counter) have_counter = mallctl("thread.allocated", &after, &sz, NULL, 0) == 0;
  free(p);

  const char *verdict = !have_counter         ? "unknown (no thread.allocated counter)"
                        : after - before >= 4096 ? "jemalloc"
                                                 : "NOT jemalloc";
  printf("# jemalloc %s; malloc is %s (defined in %s; thread.allocated grew by %llu for malloc(4096))\n",
         version, verdict, lib_of((void *)&malloc), (unsigned long long)(after - before));
  printf("# measured: npool np_alloc/np_free (%s), glibc __libc_malloc/__libc_free (%s), "
         "jemalloc %s (%s)\n",
         lib_of((void *)&np_alloc), lib_of((void *)&__libc_malloc),
         g_use_mallocx ? "mallocx/dallocx" : "malloc/free",
         lib_of(g_use_mallocx ? (void *)&mallocx : (void *)&malloc));
  if (!g_use_mallocx && !(have_counter && after - before >= 4096)) {
    fprintf(stderr, "micro: malloc is not jemalloc's in this binary; the jemalloc column would be "
                    "wrong (run with --mallocx to measure mallocx/dallocx)\n");
    exit(1);
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: micro [--iters N] [--repeats N] [--quick] [--mallocx]\n"
          "  --iters N    alloc/free pairs per repeat for sizes below 1 MiB (default 1000000);\n"
          "               1 MiB runs N/10\n"
          "  --repeats N  timed repeats per size and allocator; the median is shown (default 7)\n"
          "  --quick      --iters 20000 --repeats 3 (a smoke run, for CI)\n"
          "  --mallocx    measure jemalloc through mallocx/dallocx instead of malloc/free\n");
}

static long parse_count(const char *opt, const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s ? s : "", &end, 10);
  if (!s || errno || *end || v < 1) {
    fprintf(stderr, "micro: %s needs a positive integer, got '%s'\n", opt, s ? s : "");
    usage(stderr);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  long iters = 1000000;
  long repeats = 7;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--iters")) {
      iters = parse_count(a, i + 1 < argc ? argv[++i] : NULL);
    } else if (!strncmp(a, "--iters=", 8)) {
      iters = parse_count("--iters", a + 8);
    } else if (!strcmp(a, "--repeats")) {
      repeats = parse_count(a, i + 1 < argc ? argv[++i] : NULL);
    } else if (!strncmp(a, "--repeats=", 10)) {
      repeats = parse_count("--repeats", a + 10);
    } else if (!strcmp(a, "--quick")) {
      iters = 20000;
      repeats = 3;
    } else if (!strcmp(a, "--mallocx")) {
      g_use_mallocx = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "micro: unknown argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }

  np_config cfg = np_config_default();
  int rc = np_allocator_create(&cfg, &g_np);
  if (rc != NP_OK) {
    fprintf(stderr, "micro: np_allocator_create: %s\n", np_strerror(rc));
    return 1;
  }

  check_malloc_identity();
  printf("# single thread, alloc + 1-byte write + free; ns/pair = median of %ld repeats of %ld pairs "
         "(%ld at 1 MiB), after a warm-up\n",
         repeats, iters, iters / 10 > 0 ? iters / 10 : 1);

  double med[NSIZES][ALLOC_COUNT], lo[NSIZES][ALLOC_COUNT], hi[NSIZES][ALLOC_COUNT];
  double *samples = malloc(sizeof(double) * (size_t)repeats);
  if (!samples) die_nomem("malloc", sizeof(double) * (size_t)repeats);
  double (*all)[ALLOC_COUNT] = malloc(sizeof(double[ALLOC_COUNT]) * (size_t)repeats);
  if (!all) die_nomem("malloc", sizeof(double[ALLOC_COUNT]) * (size_t)repeats);

  for (size_t s = 0; s < NSIZES; s++) {
    size_t size = sizes[s];
    long n = size >= 1024 * 1024 ? (iters / 10 > 0 ? iters / 10 : 1) : iters;
    long warm = n / 10 > 1000 ? n / 10 : (n < 1000 ? n : 1000);
    for (int w = 0; w < ALLOC_COUNT; w++) run_loop(w, size, warm);
    for (long r = 0; r < repeats; r++)
      for (int w = 0; w < ALLOC_COUNT; w++) all[r][w] = time_loop(w, size, n);
    for (int w = 0; w < ALLOC_COUNT; w++) {
      for (long r = 0; r < repeats; r++) samples[r] = all[r][w];
      med[s][w] = median(samples, (int)repeats); /* sorts samples */
      lo[s][w] = samples[0];
      hi[s][w] = samples[repeats - 1];
    }
  }

  printf("\n%8s %10s %10s %10s %12s %12s\n", "size", "npool", "glibc", "jemalloc", "npool/je",
         "glibc/je");
  printf("%8s %10s %10s %10s %12s %12s\n", "", "ns/pair", "ns/pair", "ns/pair", "", "");
  for (size_t s = 0; s < NSIZES; s++) {
    char label[32];
    size_t size = sizes[s];
    if (size >= 1024 * 1024) snprintf(label, sizeof label, "%zu MiB", size >> 20);
    else if (size >= 1024) snprintf(label, sizeof label, "%zu KiB", size >> 10);
    else snprintf(label, sizeof label, "%zu B", size);
    double je = med[s][ALLOC_JEMALLOC];
    printf("%8s %10.1f %10.1f %10.1f %12.2f %12.2f\n", label, med[s][ALLOC_NPOOL],
           med[s][ALLOC_GLIBC], je, med[s][ALLOC_NPOOL] / je, med[s][ALLOC_GLIBC] / je);
  }
  printf("\n# spread over repeats, min..max ns/pair\n");
  for (size_t s = 0; s < NSIZES; s++) {
    printf("# %8zu", sizes[s]);
    for (int w = 0; w < ALLOC_COUNT; w++)
      printf("  %s %.1f..%.1f", alloc_names[w], lo[s][w], hi[s][w]);
    printf("\n");
  }

  free(all);
  free(samples);
  np_allocator_destroy(g_np);
  return 0;
}
