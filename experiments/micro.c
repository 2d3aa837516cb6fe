/*
 * micro: single-thread allocation pairs, every npool strategy against glibc,
 * jemalloc, mimalloc and tcmalloc, in the same run.
 *
 *   bazel run //experiments:micro [-- --pairs N --repeats N --quick]
 *
 * Each allocator runs in a process of its own (a linked allocator replaces
 * malloc for the whole process): experiments/micro_worker.c, built once per
 * allocator. Columns:
 *
 *   npool-<s>         np_alloc / np_free, strategy s (mutex, ck, rseq)
 *   npool-<s>-malloc  malloc / free through libnpool_malloc_<s>.so (LD_PRELOAD
 *                     of the glibc worker; the worker checks malloc is npool's)
 *   glibc, jemalloc, mimalloc, tcmalloc   malloc / free of a binary linking it
 *                     (each worker checks with the allocator's introspection)
 *
 * Patterns (micro_worker.c): immediate (allocate, write a byte, free) and
 * batched (1000 allocations touching each 4 KiB, then the 1000 frees; 64 at
 * 1 MiB). Every repeat runs every allocator once, the order rotated per
 * repeat, so a noisy neighbour slows all alike; each cell is the median over
 * the repeats (min..max below). Ratios: the best npool strategy (np_alloc and
 * malloc columns separately) to jemalloc and to the best peer, same run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/runfiles.h"

enum { MAX_ALLOCS = 16, MAX_SIZES = 8, PATTERNS = 2 };

typedef struct allocator {
  const char *name;
  const char *worker;   /* micro_<worker> */
  const char *preload;  /* libnpool_malloc_<preload>.so, or NULL */
  int is_npool, is_peer;
} allocator;

static const allocator all_allocs[] = {
    {"npool-mutex", "npool_mutex", NULL, 1, 0},
    {"npool-ck", "npool_ck", NULL, 1, 0},
    {"npool-rseq", "npool_rseq", NULL, 1, 0},
    {"npool-mutex-malloc", "glibc", "mutex", 2, 0},
    {"npool-ck-malloc", "glibc", "ck", 2, 0},
    {"npool-rseq-malloc", "glibc", "rseq", 2, 0},
    {"glibc", "glibc", NULL, 0, 1},
    {"jemalloc", "jemalloc", NULL, 0, 1},
    {"mimalloc", "mimalloc", NULL, 0, 1},
    {"tcmalloc", "tcmalloc", NULL, 0, 1},
};
#define N_ALLOCS (int)(sizeof all_allocs / sizeof all_allocs[0])

static const size_t default_sizes[] = {64, 1024, 16384, 65536, 1048576};
static const char *const pattern_names[PATTERNS] = {"immediate", "batched"};

/* The runfiles tree's root (npool/...), where the workers and libraries are. */
static const char *find_root(const char *argv0) {
  const char *root = np_runfiles_dir(argv0, "");
  if (root) return root;
  fprintf(stderr, "micro: cannot find the runfiles of %s (run it with bazel run)\n", argv0);
  exit(2);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Runs one worker; parses its "<pattern> <size> <ns>" lines into out. */
static int run_worker(const char *root, const allocator *al, long pairs, const size_t *sizes, int n_sizes,
                      double out[PATTERNS][MAX_SIZES], char *identity, size_t id_len) {
  char path[4200], lib[4200];
  snprintf(path, sizeof path, "%s/experiments/micro_%s", root, al->worker);
  char *args[4 + 2 * MAX_SIZES + 2];
  char pairs_s[32], size_s[MAX_SIZES][32];
  int n = 0;
  args[n++] = path;
  args[n++] = "--pairs";
  snprintf(pairs_s, sizeof pairs_s, "%ld", pairs);
  args[n++] = pairs_s;
  for (int s = 0; s < n_sizes; s++) {
    snprintf(size_s[s], sizeof size_s[s], "%zu", sizes[s]);
    args[n++] = "--size";
    args[n++] = size_s[s];
  }
  if (al->preload) args[n++] = "--preloaded-npool";
  args[n] = NULL;
  int fd[2];
  if (pipe(fd) != 0) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    if (al->preload) {
      snprintf(lib, sizeof lib, "%s/core/libnpool_malloc_%s.so", root, al->preload);
      setenv("LD_PRELOAD", lib, 1);
    }
    execv(path, args);
    fprintf(stderr, "micro: cannot run %s: %s\n", path, strerror(errno));
    _exit(127);
  }
  close(fd[1]);
  FILE *f = fdopen(fd[0], "r");
  char line[1024];
  int got = 0;
  while (f && fgets(line, sizeof line, f)) {
    char pat[32];
    size_t size;
    double ns;
    if (line[0] == '#') {
      snprintf(identity, id_len, "%.500s", line + 2);
      identity[strcspn(identity, "\n")] = '\0';
    } else if (sscanf(line, "%31s %zu %lf", pat, &size, &ns) == 3) {
      for (int p = 0; p < PATTERNS; p++)
        for (int s = 0; s < n_sizes; s++)
          if (!strcmp(pat, pattern_names[p]) && sizes[s] == size) out[p][s] = ns, got++;
    }
  }
  if (f) fclose(f);
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != PATTERNS * n_sizes) {
    fprintf(stderr, "micro: %s failed (status %d, %d of %d results)\n", al->name, status, got,
            PATTERNS * n_sizes);
    return -1;
  }
  return 0;
}

static void size_label(size_t size, char *buf, size_t len) {
  if (size >= 1048576) snprintf(buf, len, "%zu MiB", size >> 20);
  else if (size >= 1024) snprintf(buf, len, "%zu KiB", size >> 10);
  else snprintf(buf, len, "%zu B", size);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: micro [--pairs N] [--repeats N] [--quick] [--allocators a,b,...] [--size BYTES]...\n"
          "  --pairs N     pairs per measurement below 1 MiB (default 1000000; 1 MiB: N/10)\n"
          "  --repeats N   runs of every allocator; each cell is the median (default 7)\n"
          "  --quick       --pairs 20000 --repeats 3 (a smoke run)\n"
          "  --allocators  a subset of:");
  for (int i = 0; i < N_ALLOCS; i++) fprintf(f, " %s", all_allocs[i].name);
  fprintf(f, "\n  --size BYTES  sizes to measure (default 64 1024 16384 65536 1048576)\n");
}

int main(int argc, char **argv) {
  long pairs = 1000000, repeats = 7;
  size_t sizes[MAX_SIZES];
  int n_sizes = 0;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--pairs") && v) pairs = atol(v), i++;
    else if (!strcmp(a, "--repeats") && v) repeats = atol(v), i++;
    else if (!strcmp(a, "--quick")) pairs = 20000, repeats = 3;
    else if (!strcmp(a, "--allocators") && v) only = v, i++;
    else if (!strcmp(a, "--size") && v && n_sizes < MAX_SIZES) sizes[n_sizes++] = (size_t)atol(v), i++;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "micro: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (pairs < 1 || repeats < 1) {
    fprintf(stderr, "micro: --pairs and --repeats must be at least 1\n");
    return 2;
  }
  if (n_sizes == 0) {
    n_sizes = (int)(sizeof default_sizes / sizeof default_sizes[0]);
    memcpy(sizes, default_sizes, sizeof default_sizes);
  }
  const allocator *allocs[MAX_ALLOCS];
  int n_allocs = 0;
  for (int i = 0; i < N_ALLOCS; i++) {
    if (only) {
      char list[1024];
      snprintf(list, sizeof list, ",%s,", only);
      char key[64];
      snprintf(key, sizeof key, ",%s,", all_allocs[i].name);
      if (!strstr(list, key)) continue;
    }
    allocs[n_allocs++] = &all_allocs[i];
  }
  if (n_allocs == 0) {
    fprintf(stderr, "micro: no allocator selected\n");
    return 2;
  }
  const char *root = find_root(argv[0]);

  static double all[64][MAX_ALLOCS][PATTERNS][MAX_SIZES];
  if (repeats > 64) repeats = 64;
  char ids[MAX_ALLOCS][512] = {{0}};
  for (long r = 0; r < repeats; r++)
    for (int k = 0; k < n_allocs; k++) {
      int w = (int)((k + r) % n_allocs); /* rotated order */
      fprintf(stderr, "micro: repeat %ld/%ld %s\n", r + 1, repeats, allocs[w]->name);
      if (run_worker(root, allocs[w], pairs, sizes, n_sizes, all[r][w], ids[w], sizeof ids[w]) != 0)
        return 1;
    }

  printf("# single thread; ns per alloc+free pair, median of %ld repeats of %ld pairs (%ld at 1 MiB)\n",
         repeats, pairs, pairs / 10 > 0 ? pairs / 10 : 1);
  for (int w = 0; w < n_allocs; w++) printf("# %-19s %s\n", allocs[w]->name, ids[w]);
  double med[MAX_ALLOCS][PATTERNS][MAX_SIZES], lo[MAX_ALLOCS][PATTERNS][MAX_SIZES],
      hi[MAX_ALLOCS][PATTERNS][MAX_SIZES];
  for (int w = 0; w < n_allocs; w++)
    for (int p = 0; p < PATTERNS; p++)
      for (int s = 0; s < n_sizes; s++) {
        double v[64];
        for (long r = 0; r < repeats; r++) v[r] = all[r][w][p][s];
        qsort(v, (size_t)repeats, sizeof v[0], cmp_double);
        med[w][p][s] = repeats % 2 ? v[repeats / 2] : 0.5 * (v[repeats / 2 - 1] + v[repeats / 2]);
        lo[w][p][s] = v[0];
        hi[w][p][s] = v[repeats - 1];
      }
  for (int p = 0; p < PATTERNS; p++) {
    printf("\n%s\n%8s", pattern_names[p], "size");
    for (int w = 0; w < n_allocs; w++) printf(" %*s", (int)strlen(allocs[w]->name) > 8 ? (int)strlen(allocs[w]->name) : 8, allocs[w]->name);
    printf("   best-np/je best-np/peer np-malloc/peer\n");
    for (int s = 0; s < n_sizes; s++) {
      char label[32];
      size_label(sizes[s], label, sizeof label);
      printf("%8s", label);
      double best_np = 0, best_npm = 0, best_peer = 0, je = 0;
      for (int w = 0; w < n_allocs; w++) {
        double m = med[w][p][s];
        int width = (int)strlen(allocs[w]->name) > 8 ? (int)strlen(allocs[w]->name) : 8;
        printf(" %*.1f", width, m);
        if (allocs[w]->is_npool == 1 && (best_np == 0 || m < best_np)) best_np = m;
        if (allocs[w]->is_npool == 2 && (best_npm == 0 || m < best_npm)) best_npm = m;
        if (allocs[w]->is_peer && (best_peer == 0 || m < best_peer)) best_peer = m;
        if (!strcmp(allocs[w]->name, "jemalloc")) je = m;
      }
      if (best_np > 0 && je > 0) printf("   %10.2f", best_np / je);
      else printf("   %10s", "-");
      if (best_np > 0 && best_peer > 0) printf(" %12.2f", best_np / best_peer);
      else printf(" %12s", "-");
      if (best_npm > 0 && best_peer > 0) printf(" %14.2f", best_npm / best_peer);
      else printf(" %14s", "-");
      printf("\n");
    }
  }
  printf("\n# spread over repeats, min..max ns/pair\n");
  for (int p = 0; p < PATTERNS; p++)
    for (int s = 0; s < n_sizes; s++) {
      printf("# %-9s %8zu", pattern_names[p], sizes[s]);
      for (int w = 0; w < n_allocs; w++) printf("  %s %.1f..%.1f", allocs[w]->name, lo[w][p][s], hi[w][p][s]);
      printf("\n");
    }
  return 0;
}
