/*
 * mt_bench: multi-threaded throughput of npool's concurrency strategies
 * against glibc and jemalloc.
 *
 *   bazel run -c opt //experiments:mt_bench [-- options]
 *
 * For every workload x size distribution x thread count ("cell") it runs each
 * allocator's worker binary (mt_bench_worker.c compiled once per allocator:
 * mt_bench_npool_<strategy>, mt_bench_glibc, mt_bench_jemalloc) in a process of
 * its own, --repeats times, the allocators interleaved repeat by repeat (and
 * the order rotated each repeat), and prints the median alloc+free pairs per
 * second of each allocator and its ratio to jemalloc's median in the same cell.
 * The min..max spread over the repeats follows the table. Threads are pinned
 * to CPUs by default (--no-pin: the scheduler places them; see --help).
 *
 * The default allocator list comes from experiments/BUILD (the generated
 * mt_bench_allocators.h); the worker binaries are found beside this program in
 * its runfiles (or with --bindir). See mt_bench_worker.c for the workloads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "experiments/mt_bench_allocators.h" /* MTB_DEFAULT_ALLOCATORS */

#define MAX_LIST 16

/* The build's sanitizer (the workers are built in the same configuration). */
#if defined(__SANITIZE_THREAD__)
#define SANITIZER "thread"
#elif defined(__SANITIZE_ADDRESS__)
#define SANITIZER "address"
#elif defined(NP_SANITIZER)
#define SANITIZER "other"
#else
#define SANITIZER "none"
#endif
#define SANITIZER_NOTE \
  (strcmp(SANITIZER, "none") ? ", SANITIZER BUILD (" SANITIZER "): numbers not meaningful" : "")

typedef struct list {
  int n;
  char *buf; /* the items point into it */
  char *item[MAX_LIST];
} list;

static void usage(FILE *f) {
  fprintf(f,
          "usage: mt_bench [options]\n"
          "  --workloads LIST     churn,prodcons (default: both)\n"
          "  --dists LIST         64,mixed (default: both): 64 B, or log-uniform 16 B..32 KiB\n"
          "  --threads LIST       thread counts (default: 1,2,4,8); prodcons runs only the\n"
          "                       even counts >= 2 (half producers, half consumers)\n"
          "  --allocators LIST    default: %s\n"
          "  --duration-ms N      timed window per run (default 400)\n"
          "  --warmup-ms N        untimed warm-up before it (default 100)\n"
          "  --repeats N          runs per allocator and cell; the median is shown (default 3)\n"
          "  --slots N            churn: live blocks per thread (default 1000)\n"
          "  --ring N             prodcons: SPSC ring entries, a power of two (default 1024)\n"
          "  --batch N            prodcons: the producer publishes every N blocks (default 32)\n"
          "  --no-pin             let the scheduler place the threads. By default (--pin) they\n"
          "                       are pinned: churn round robin over the usable CPUs;\n"
          "                       prodcons producer i on CPU 2i, consumer i on CPU 2i+1\n"
          "                       (mod CPUs), so every handoff crosses CPUs. Unpinned,\n"
          "                       prodcons with more threads than CPUs is bimodal: a pair\n"
          "                       that shares a CPU hands off in bursts, several times faster\n"
          "  --quick              --repeats 1 --duration-ms 20 --warmup-ms 5 (a smoke run)\n"
          "  --csv FILE           also write every run (not just medians) as CSV\n"
          "  --bindir DIR         where the mt_bench_<allocator> binaries are\n"
          "                       (default: this program's runfiles)\n"
          "  --build-info         print \"optimised=0|1 sanitizer=none|address|thread|other\"\n"
          "LISTs are comma-separated. Exits non-zero if any run failed.\n",
          MTB_DEFAULT_ALLOCATORS);
}

static void split(list *l, const char *s, const char *what) {
  char *copy = strdup(s), *save = NULL;
  free(l->buf);
  l->buf = copy;
  l->n = 0;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (l->n == MAX_LIST) {
      fprintf(stderr, "mt_bench: too many %s (at most %d)\n", what, MAX_LIST);
      exit(2);
    }
    l->item[l->n++] = tok;
  }
  if (l->n == 0) {
    fprintf(stderr, "mt_bench: empty list of %s\n", what);
    exit(2);
  }
}

static long parse_long(const char *opt, const char *s, long min) {
  char *end;
  errno = 0;
  long v = strtol(s ? s : "", &end, 10);
  if (!s || !*s || errno || *end || v < min) {
    fprintf(stderr, "mt_bench: %s needs an integer >= %ld, got '%s'\n", opt, min, s ? s : "");
    exit(2);
  }
  return v;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The runfiles copy of this package, where the worker binaries are. */
static char *find_bindir(const char *argv0) {
  static char buf[4096];
  const char *envs[] = {"RUNFILES_DIR", "TEST_SRCDIR"};
  for (int i = 0; i < 2; i++) {
    const char *r = getenv(envs[i]);
    if (r && *r) {
      snprintf(buf, sizeof buf, "%s/npool/experiments", r);
      if (is_dir(buf)) return buf;
    }
  }
  snprintf(buf, sizeof buf, "%s.runfiles/npool/experiments", argv0);
  if (is_dir(buf)) return buf;
  /* Beside this program (bazel-bin/experiments, or a runfiles tree). */
  snprintf(buf, sizeof buf, "%s", argv0);
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
  else snprintf(buf, sizeof buf, ".");
  return buf;
}

static char *worker_path(const char *bindir, const char *alloc) {
  char *p;
  if (asprintf(&p, "%s/mt_bench_%s", bindir, alloc) < 0) exit(1);
  for (char *c = p + strlen(bindir) + 1; *c; c++)
    if (*c == '-') *c = '_';
  return p;
}

/* Runs argv, returns its stdout (malloc'd) and its wait status. stderr is
 * passed through. */
static char *run_capture(char *const argv[], int *status) {
  int fd[2];
  if (pipe(fd) != 0) {
    perror("mt_bench: pipe");
    exit(1);
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("mt_bench: fork");
    exit(1);
  }
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], STDOUT_FILENO);
    close(fd[1]);
    execv(argv[0], argv);
    fprintf(stderr, "mt_bench: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fd[1]);
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  for (;;) {
    if (len + 1024 > cap) out = realloc(out, cap *= 2);
    ssize_t n = read(fd[0], out + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  out[len] = '\0';
  close(fd[0]);
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
  return out;
}

static void describe_status(int status, char *buf, size_t len) {
  if (WIFEXITED(status)) snprintf(buf, len, "exit %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(buf, len, "status %d", status);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void print_machine(void) {
  char model[256] = "?";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (!strncmp(line, "model name", 10)) {
        char *c = strchr(line, ':');
        if (c) {
          c++;
          while (*c == ' ' || *c == '\t') c++;
          c[strcspn(c, "\n")] = '\0';
          snprintf(model, sizeof model, "%s", c);
        }
        break;
      }
    }
    fclose(f);
  }
  long mem_kb = 0;
  f = fopen("/proc/meminfo", "r");
  if (f) {
    if (fscanf(f, "MemTotal: %ld kB", &mem_kb) != 1) mem_kb = 0;
    fclose(f);
  }
  char load[128] = "?";
  f = fopen("/proc/loadavg", "r");
  if (f) {
    if (!fgets(load, sizeof load, f)) snprintf(load, sizeof load, "?");
    load[strcspn(load, "\n")] = '\0';
    fclose(f);
  }
  struct utsname u;
  uname(&u);
  cpu_set_t set;
  int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
  printf("# machine: %s, %ld online CPUs (%d usable by this process), %.1f GiB RAM, %s\n", model,
         sysconf(_SC_NPROCESSORS_ONLN), usable, (double)mem_kb / (1024.0 * 1024.0), u.machine);
  printf("# system:  %s %s, glibc %s; load average at start %s\n", u.sysname, u.release,
         gnu_get_libc_version(), load);
#ifdef NDEBUG
  printf("# build:   optimised (NDEBUG), gcc %s%s\n", __VERSION__, SANITIZER_NOTE);
#else
  printf("# build:   NOT optimised (no -c opt): the numbers below are not meaningful, gcc %s%s\n",
         __VERSION__, SANITIZER_NOTE);
#endif
}

/* Globals, so that what they hold stays reachable on an early return. */
static list workloads, dists, threads, allocs;

int main(int argc, char **argv) {
  split(&workloads, "churn,prodcons", "workloads");
  split(&dists, "64,mixed", "size distributions");
  split(&threads, "1,2,4,8", "thread counts");
  split(&allocs, MTB_DEFAULT_ALLOCATORS, "allocators");
  long duration_ms = 400, warmup_ms = 100, repeats = 3, slots = 1000, ring = 1024, batch = 32;
  int pin = 1;
  const char *csv_path = NULL, *bindir = NULL;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1;
    if (!strcmp(a, "--workloads") && v) split(&workloads, v, "workloads");
    else if (!strcmp(a, "--dists") && v) split(&dists, v, "size distributions");
    else if (!strcmp(a, "--threads") && v) split(&threads, v, "thread counts");
    else if (!strcmp(a, "--allocators") && v) split(&allocs, v, "allocators");
    else if (!strcmp(a, "--duration-ms") && v) duration_ms = parse_long(a, v, 1);
    else if (!strcmp(a, "--warmup-ms") && v) warmup_ms = parse_long(a, v, 0);
    else if (!strcmp(a, "--repeats") && v) repeats = parse_long(a, v, 1);
    else if (!strcmp(a, "--slots") && v) slots = parse_long(a, v, 1);
    else if (!strcmp(a, "--ring") && v) ring = parse_long(a, v, 2);
    else if (!strcmp(a, "--batch") && v) batch = parse_long(a, v, 1);
    else if (!strcmp(a, "--csv") && v) csv_path = v;
    else if (!strcmp(a, "--bindir") && v) bindir = v;
    else {
      takes = 0;
      if (!strcmp(a, "--pin")) {
        pin = 1;
      } else if (!strcmp(a, "--no-pin")) {
        pin = 0;
      } else if (!strcmp(a, "--quick")) {
        repeats = 1;
        duration_ms = 20;
        warmup_ms = 5;
      } else if (!strcmp(a, "--build-info")) {
#ifdef NDEBUG
        printf("optimised=1 sanitizer=%s\n", SANITIZER);
#else
        printf("optimised=0 sanitizer=%s\n", SANITIZER);
#endif
        return 0;
      } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        usage(stdout);
        return 0;
      } else {
        fprintf(stderr, "mt_bench: unknown or incomplete argument '%s'\n", a);
        usage(stderr);
        return 2;
      }
    }
    i += takes;
  }
  for (int i = 0; i < workloads.n; i++)
    if (strcmp(workloads.item[i], "churn") && strcmp(workloads.item[i], "prodcons")) {
      fprintf(stderr, "mt_bench: unknown workload '%s' (churn, prodcons)\n", workloads.item[i]);
      return 2;
    }
  for (int i = 0; i < dists.n; i++)
    if (strcmp(dists.item[i], "64") && strcmp(dists.item[i], "mixed")) {
      fprintf(stderr, "mt_bench: unknown size distribution '%s' (64, mixed)\n", dists.item[i]);
      return 2;
    }
  int nthreads[MAX_LIST];
  for (int i = 0; i < threads.n; i++) nthreads[i] = (int)parse_long("--threads", threads.item[i], 1);
  if (!bindir) bindir = find_bindir(argv[0]);

  /* Relative --csv paths are relative to where `bazel run` was started. */
  char *csv_full = NULL;
  FILE *csv = NULL;
  if (csv_path) {
    const char *wd = getenv("BUILD_WORKING_DIRECTORY");
    if (csv_path[0] != '/' && wd && *wd) {
      if (asprintf(&csv_full, "%s/%s", wd, csv_path) < 0) return 1;
    } else {
      csv_full = strdup(csv_path);
    }
    csv = fopen(csv_full, "w");
    if (!csv) {
      fprintf(stderr, "mt_bench: cannot write %s: %s\n", csv_full, strerror(errno));
      return 1;
    }
    fprintf(csv, "workload,sizes,threads,pinned,allocator,repeat,ops,ns,ops_per_s\n");
  }

  const int na = allocs.n;
  int je = -1;
  char *path[MAX_LIST];
  int cells_ok[MAX_LIST] = {0}, runs[MAX_LIST] = {0}, runs_failed[MAX_LIST] = {0};
  int info_failed[MAX_LIST] = {0};
  for (int a = 0; a < na; a++) {
    path[a] = worker_path(bindir, allocs.item[a]);
    if (!strcmp(allocs.item[a], "jemalloc")) je = a;
    if (access(path[a], X_OK) != 0) {
      fprintf(stderr,
              "mt_bench: no worker binary for allocator '%s' (%s: %s); built ones by default: %s\n",
              allocs.item[a], path[a], strerror(errno), MTB_DEFAULT_ALLOCATORS);
      return 2;
    }
  }

  cpu_set_t set;
  int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;

  printf("mt_bench: multi-threaded throughput, alloc+free pairs per second\n");
  print_machine();
  printf("# run:     median of %ld repeat(s) of %ld ms after %ld ms warm-up, one process per run,\n"
         "#          allocators interleaved (order rotated each repeat)\n",
         repeats, duration_ms, warmup_ms);
  printf("# churn:    each thread replaces a random one of its %ld live blocks per op\n", slots);
  printf("# prodcons: threads/2 producer->consumer pairs, lock-free SPSC ring of %ld (published "
         "every %ld);\n#           consumers free; ops = blocks freed; odd thread counts (1) are "
         "not run\n",
         ring, batch > ring ? ring : batch);
  printf("# threads: %s\n", pin ? "pinned: churn round robin over the usable CPUs; prodcons "
                                  "producer i on CPU 2i, consumer i on CPU 2i+1 (mod CPUs)"
                                : "placed by the scheduler (--no-pin)");
  printf("# sizes:   64 = 64 B; mixed = log-uniform 16 B..32 KiB, fixed seed per thread\n");
  printf("# allocators (worker binaries in %s):\n", bindir);
  for (int a = 0; a < na; a++) {
    char *args[] = {path[a], "--info", NULL};
    int st;
    char *out = run_capture(args, &st);
    out[strcspn(out, "\n")] = '\0';
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      char why[96];
      describe_status(st, why, sizeof why);
      printf("#   %-12s FAILED (%s) %s\n", allocs.item[a], why, out);
      info_failed[a] = 1;
    } else {
      printf("#   %-12s %s\n", allocs.item[a], out);
    }
    free(out);
  }
  if (je < 0) printf("# (jemalloc not in the list: no ratio columns)\n");

  /* Header. */
  int w = 10;
  for (int a = 0; a < na; a++) {
    int l = (int)strlen(allocs.item[a]) + (je >= 0 ? 3 : 0);
    if (l + 1 > w) w = l + 1;
  }
  printf("\nMops/s = million alloc+free pairs per second (median); x/je = that allocator's "
         "ops/s / jemalloc's (above 1: faster than jemalloc)%s\n\n",
         usable ? "; * = more threads than usable CPUs" : "");
  printf("%-9s %-6s %4s", "workload", "sizes", "thr");
  for (int a = 0; a < na; a++) printf(" %*s", w, allocs.item[a]);
  if (je >= 0)
    for (int a = 0; a < na; a++)
      if (a != je) {
        char h[64];
        snprintf(h, sizeof h, "%s/je", allocs.item[a]);
        printf(" %*s", w, h);
      }
  printf("\n");
  fflush(stdout);

  /* Cells. */
  int total_cells = 0;
  for (int wl = 0; wl < workloads.n; wl++)
    for (int d = 0; d < dists.n; d++)
      for (int t = 0; t < threads.n; t++)
        if (strcmp(workloads.item[wl], "prodcons") || (nthreads[t] >= 2 && nthreads[t] % 2 == 0))
          total_cells++;

  typedef struct {
    char label[64];
    double lo[MAX_LIST], hi[MAX_LIST];
    int ok[MAX_LIST];
  } spread;
  spread *spreads = calloc((size_t)total_cells + 1, sizeof *spreads);
  double *samples = calloc((size_t)repeats * MAX_LIST, sizeof(double));
  int *sample_ok = calloc((size_t)repeats * MAX_LIST, sizeof(int));
  int cell = 0;
  char dur_s[32], warm_s[32], slots_s[32], ring_s[32], batch_s[32], thr_s[32], seed_s[32];
  snprintf(batch_s, sizeof batch_s, "%ld", batch);
  snprintf(dur_s, sizeof dur_s, "%ld", duration_ms);
  snprintf(warm_s, sizeof warm_s, "%ld", warmup_ms);
  snprintf(slots_s, sizeof slots_s, "%ld", slots);
  snprintf(ring_s, sizeof ring_s, "%ld", ring);

  for (int wl = 0; wl < workloads.n; wl++)
    for (int d = 0; d < dists.n; d++)
      for (int t = 0; t < threads.n; t++) {
        const char *wname = workloads.item[wl], *dname = dists.item[d];
        int nt = nthreads[t];
        if (!strcmp(wname, "prodcons") && (nt < 2 || nt % 2)) continue; /* no pairs */
        fprintf(stderr, "mt_bench: [%d/%d] %s %s %d thread(s)\n", cell + 1, total_cells, wname,
                dname, nt);
        snprintf(thr_s, sizeof thr_s, "%d", nt);
        for (long r = 0; r < repeats; r++)
          for (int k = 0; k < na; k++) {
            int a = (int)((k + r) % na);
            snprintf(seed_s, sizeof seed_s, "%ld", 1 + r);
            char *args[] = {path[a],        "--workload",  (char *)wname, "--dist",
                            (char *)dname,  "--threads",   thr_s,         "--duration-ms",
                            dur_s,          "--warmup-ms", warm_s,        "--slots",
                            slots_s,        "--ring",      ring_s,        "--batch",
                            batch_s,        "--seed",      seed_s,        pin ? "--pin" : NULL,
                            NULL};
            int st;
            char *out = run_capture(args, &st);
            unsigned long long ops = 0, ns = 0;
            const char *res = strstr(out, "result ops=");
            int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && res &&
                     sscanf(res, "result ops=%llu ns=%llu", &ops, &ns) == 2 && ns > 0 && ops > 0;
            runs[a]++;
            if (!ok) {
              char why[96];
              describe_status(st, why, sizeof why);
              fprintf(stderr, "mt_bench: %s %s %s %d threads repeat %ld FAILED (%s)%s%s\n",
                      allocs.item[a], wname, dname, nt, r + 1, why,
                      res || !*out ? "" : "; output: ", res ? "" : out);
              runs_failed[a]++;
            }
            double ops_s = ok ? (double)ops * 1e9 / (double)ns : 0.0;
            samples[r * MAX_LIST + a] = ops_s;
            sample_ok[r * MAX_LIST + a] = ok;
            if (csv)
              fprintf(csv, "%s,%s,%d,%d,%s,%ld,%llu,%llu,%.0f\n", wname, dname, nt, pin,
                      allocs.item[a], r + 1, ops, ns, ops_s);
            free(out);
          }

        double med[MAX_LIST];
        int have[MAX_LIST];
        spread *sp = &spreads[cell];
        snprintf(sp->label, sizeof sp->label, "%s %s %d", wname, dname, nt);
        for (int a = 0; a < na; a++) {
          double v[256];
          int n = 0;
          for (long r = 0; r < repeats && n < 256; r++)
            if (sample_ok[r * MAX_LIST + a]) v[n++] = samples[r * MAX_LIST + a];
          /* A cell counts only when every repeat succeeded. */
          have[a] = n == repeats;
          if (have[a]) {
            qsort(v, (size_t)n, sizeof *v, cmp_double);
            med[a] = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
            sp->lo[a] = v[0];
            sp->hi[a] = v[n - 1];
            sp->ok[a] = 1;
            cells_ok[a]++;
          }
        }
        printf("%-9s %-6s %3d%s", wname, dname, nt, usable && nt > usable ? "*" : " ");
        for (int a = 0; a < na; a++) {
          if (have[a]) printf(" %*.2f", w, med[a] / 1e6);
          else printf(" %*s", w, "FAIL");
        }
        if (je >= 0)
          for (int a = 0; a < na; a++)
            if (a != je) {
              if (have[a] && have[je]) printf(" %*.2f", w, med[a] / med[je]);
              else printf(" %*s", w, "-");
            }
        printf("\n");
        fflush(stdout);
        cell++;
      }

  printf("\n# spread over repeats, min..max Mops/s\n");
  for (int c = 0; c < cell; c++) {
    printf("# %-20s", spreads[c].label);
    for (int a = 0; a < na; a++) {
      if (spreads[c].ok[a])
        printf("  %s %.2f..%.2f", allocs.item[a], spreads[c].lo[a] / 1e6, spreads[c].hi[a] / 1e6);
      else printf("  %s FAIL", allocs.item[a]);
    }
    printf("\n");
  }

  int any_failed = 0;
  printf("\n");
  for (int a = 0; a < na; a++) {
    printf("allocator %s: %d cells, %d runs, %d failed%s\n", allocs.item[a], cells_ok[a], runs[a],
           runs_failed[a], info_failed[a] ? " (and its --info failed)" : "");
    if (runs_failed[a] || info_failed[a]) any_failed = 1;
  }
  if (csv) {
    fclose(csv);
    printf("# every run written to %s\n", csv_full);
  }
  fflush(stdout);
  free(spreads);
  free(samples);
  free(sample_ok);
  free(csv_full);
  for (int a = 0; a < na; a++) free(path[a]);
  free(workloads.buf);
  free(dists.buf);
  free(threads.buf);
  free(allocs.buf);
  return any_failed ? 1 : 0;
}
