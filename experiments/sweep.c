/*
 * sweep: the experiment runner. Runs every workload x size distribution x
 * allocator x thread count, with repeats, one worker process per measurement
 * (workload_worker.c linked once per allocator), writes one CSV row per
 * measurement and regenerates the figures from the CSV.
 *
 *   bazel run -c opt //experiments:sweep [-- options]     (-- --help)
 *
 * Default run: workloads churn, prodcons, larson, pipeline, xmalloc (fixed64
 * only: producers' 64 B blocks freed by every consumer), burst (fixed64,
 * small and invsq: bursts of 25-1600 blocks of one size), shortlived (small,
 * net and invsq: threads that allocate and free 2 x --slots blocks and exit,
 * one after another); distributions
 * fixed64, small, net, mixed, large (churn only: blocks of 1-32 MiB, 4 live
 * per thread), invsq (4 B-32 KiB, inverse-square); the three npool strategies, glibc, jemalloc,
 * mimalloc, tcmalloc; threads 1, 2, 4, ... up to 2 x the usable CPUs (the
 * paired workloads, prodcons, pipeline and xmalloc, only even counts); 3 repeats of
 * 200 ms after 50 ms warm-up: about 5 minutes on 2 CPUs. --full runs longer
 * (5 repeats of 1 s: about 52 minutes on 2 CPUs; the paper's reference run,
 * results/intel-r-xeon-r-processor-2cpu/full, is one). Filters choose allocators, workloads, distributions
 * and thread counts.
 *
 * Output: <out>/sweep.csv (result_csv.h), <out>/machine.txt (the machine,
 * the build, the commit of the workspace and the tracked files that differ
 * from it, the options, what each allocator binary measures),
 * <out>/rss/<workload>_<dist>_<threads>_<allocator>.tsv (the resident set
 * every millisecond of the first repeat of churn and prodcons with net
 * sizes: "<ms> <rss bytes> <live bytes>" a line) and <out>/figures/
 * (experiments/plot.sh, which draws those too), then <out>/index.html
 * (experiments/run_page.py: the run on one page). <out> defaults to a new folder
 * results/<machine>/<kind>-<date>T<time> in the workspace (run_dir.h), kind
 * being "default", "full" or "custom" (any filter or length option): a run
 * never overwrites another, the reference runs committed under results/
 * among them, unless --out names it. Progress (what runs, how far, time
 * left) goes to stderr, and so does plot.sh's list of figures; stdout gets a
 * table of medians, then the summary (per cell, the best npool strategy and
 * its ratio to the best peer: sweep_summary.h) and, last, where the results
 * are.
 *
 * Allocators run interleaved repeat by repeat, the order rotated each repeat,
 * so slow drifts of a shared machine spread over all of them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "experiments/result_csv.h"
#include "experiments/runfiles.h"
#include "experiments/run_dir.h"
#include "experiments/size_dist.h"
#include "experiments/sweep_allocators.h" /* SWEEP_DEFAULT_ALLOCATORS */
#include "experiments/sweep_summary.h"

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

static const char *const WORKLOADS = "churn,prodcons,larson,pipeline,xmalloc,burst,shortlived";

typedef struct list {
  int n;
  char *buf; /* the items point into it */
  char *item[MAX_LIST];
} list;

static void usage(FILE *f) {
  fprintf(f,
          "usage: sweep [options]\n"
          "  --workloads LIST     %s (default: all)\n"
          "  --dists LIST         %s (default: all)\n"
          "  --allocators LIST    default: %s\n"
          "  --threads LIST       default: 1, 2, 4, ... up to 2 x usable CPUs; prodcons,\n"
          "                       pipeline and xmalloc run only the even counts (half of\n"
          "                       each side); xmalloc runs with fixed64 only; burst with\n"
          "                       fixed64, small and invsq; shortlived with small, net\n"
          "                       and invsq\n"
          "  --repeats N          runs per allocator and cell (default 3, --full 5)\n"
          "  --duration-ms N      timed window per run (default 200, --full 1000)\n"
          "  --warmup-ms N        untimed warm-up before it (default 50, --full 200)\n"
          "  --full               longer runs, more repeats (5 x 1 s)\n"
          "  --quick              a smoke run: 1 repeat of 20 ms after 5 ms\n"
          "  --out DIR            where sweep.csv, machine.txt and figures/ go, replacing\n"
          "                       what a run there wrote (default: a new folder\n"
          "                       results/<machine>/<default|full|custom>-<date>T<time> in\n"
          "                       the workspace, e.g. default-2026-12-02T154410)\n"
          "  --machine NAME       the machine's name in the CSV and the path (default: CPU\n"
          "                       model and count, e.g. amd-epyc-2cpu)\n"
          "  --no-figures         do not run experiments/plot.sh\n"
          "  --slots N            churn: live blocks per thread; larson: 2 arrays of N/2;\n"
          "                       shortlived: 2N blocks per short-lived thread (default 1000)\n"
          "  --ring N             prodcons, pipeline, xmalloc: SPSC ring entries, a power of two\n"
          "                       (default 1024)\n"
          "  --batch N            prodcons, pipeline, xmalloc: producer publishes every N\n"
          "                       (default 32; xmalloc: then turns to the next consumer)\n"
          "  --handoff N          larson: ops between array swaps (default 1024)\n"
          "  --no-pin             let the scheduler place threads (default: pinned, churn and\n"
          "                       larson round robin, pair i on CPUs 2i and 2i+1 mod CPUs)\n"
          "  --bindir DIR         where the workload_<allocator> binaries are\n"
          "  --build-info         print \"optimised=0|1 sanitizer=none|address|thread|other\"\n"
          "LISTs are comma-separated. Exits non-zero if any run failed.\n",
          WORKLOADS, size_dist_all(), SWEEP_DEFAULT_ALLOCATORS);
}

static void split(list *l, const char *s, const char *what) {
  char *copy = strdup(s), *save = NULL;
  free(l->buf);
  l->buf = copy;
  l->n = 0;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (l->n == MAX_LIST) {
      fprintf(stderr, "sweep: too many %s (at most %d)\n", what, MAX_LIST);
      exit(2);
    }
    l->item[l->n++] = tok;
  }
  if (l->n == 0) {
    fprintf(stderr, "sweep: empty list of %s\n", what);
    exit(2);
  }
}

/* Exits 2 naming the first item of l not in the comma-separated allowed. */
static void check_items(const list *l, const char *allowed, const char *what) {
  for (int i = 0; i < l->n; i++) {
    size_t n = strlen(l->item[i]);
    const char *p = allowed;
    int found = 0;
    while (!found && (p = strstr(p, l->item[i])) != NULL) {
      found = (p == allowed || p[-1] == ',') && (p[n] == ',' || p[n] == '\0');
      p++;
    }
    if (!found) {
      fprintf(stderr, "sweep: unknown %s '%s' (known: %s)\n", what, l->item[i], allowed);
      exit(2);
    }
  }
}

static long parse_long(const char *opt, const char *s, long min) {
  char *end;
  errno = 0;
  long v = strtol(s ? s : "", &end, 10);
  if (!s || !*s || errno || *end || v < min) {
    fprintf(stderr, "sweep: %s needs an integer >= %ld, got '%s'\n", opt, min, s ? s : "");
    exit(2);
  }
  return v;
}

/* The runfiles copy of this package, where the worker binaries are. */
static char *find_bindir(const char *argv0) {
  static char buf[4096];
  const char *runfiles = np_runfiles_dir(argv0, "experiments");
  if (runfiles) return (char *)runfiles;
  /* Beside this program (bazel-bin/experiments, or a runfiles tree). */
  snprintf(buf, sizeof buf, "%s", argv0);
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
  else snprintf(buf, sizeof buf, ".");
  return buf;
}

static char *worker_path(const char *bindir, const char *alloc) {
  char *p;
  if (asprintf(&p, "%s/workload_%s", bindir, alloc) < 0) exit(1);
  for (char *c = p + strlen(bindir) + 1; *c; c++)
    if (*c == '-') *c = '_';
  return p;
}

/* Runs argv with its stdout sent to stderr (the sweep's stdout is its
 * tables); 0 if it exited 0. */
static int run_to_stderr(char *const argv[]) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execv(argv[0], argv);
    _exit(127);
  }
  int st = 0;
  while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Runs argv, returns its stdout (malloc'd) and its wait status. stderr is
 * passed through. */
static char *run_capture(char *const argv[], int *status) {
  int fd[2];
  if (pipe(fd) != 0) {
    perror("sweep: pipe");
    exit(1);
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("sweep: fork");
    exit(1);
  }
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], STDOUT_FILENO);
    close(fd[1]);
    execv(argv[0], argv);
    fprintf(stderr, "sweep: cannot run %s: %s\n", argv[0], strerror(errno));
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
  else if (WIFSIGNALED(status))
    snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(buf, len, "status %d", status);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void print_machine(FILE *out) {
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
  fprintf(out, "# machine: %s, %ld online CPUs (%d usable by this process), %.1f GiB RAM, %s\n", model,
         sysconf(_SC_NPROCESSORS_ONLN), usable, (double)mem_kb / (1024.0 * 1024.0), u.machine);
  fprintf(out, "# system:  %s %s, glibc %s; load average at start %s\n", u.sysname, u.release,
         gnu_get_libc_version(), load);
#ifdef NDEBUG
  fprintf(out, "# build:   optimised (NDEBUG), gcc %s%s\n", __VERSION__, SANITIZER_NOTE);
#else
  fprintf(out, "# build:   NOT optimised (no -c opt): the numbers below are not meaningful, gcc %s%s\n",
         __VERSION__, SANITIZER_NOTE);
#endif
}

/* The commit the workspace (bazel run's) is at, which the binaries were built
 * from, and the tracked files that differ from it: "# commit:" in machine.txt. */
static void print_commit(FILE *out, const char *ws) {
  if (!ws || !*ws || access("/usr/bin/git", X_OK) != 0) {
    fprintf(out, "# commit:  unknown (not started by bazel run in a git checkout)\n");
    return;
  }
  char *head_args[] = {"/usr/bin/git", "-C", (char *)ws, "rev-parse", "HEAD", NULL};
  int st;
  char *head = run_capture(head_args, &st);
  head[strcspn(head, "\n")] = '\0';
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !*head) {
    fprintf(out, "# commit:  unknown (%s is not a git checkout)\n", ws);
    free(head);
    return;
  }
  char *status_args[] = {"/usr/bin/git", "-C", (char *)ws, "status", "--porcelain", "--untracked-files=no", NULL};
  char *changed = run_capture(status_args, &st);
  int n = 0;
  for (char *c = changed; *c; c++) n += *c == '\n';
  if (n == 0) fprintf(out, "# commit:  %s\n", head);
  else {
    changed[strcspn(changed, "\n")] = '\0';
    fprintf(out, "# commit:  %s, with uncommitted changes to %d tracked file(s) (the first: %s)\n", head, n,
            changed + (strlen(changed) > 3 ? 3 : 0));
  }
  free(changed);
  free(head);
}

/* "AMD EPYC" with 2 CPUs -> "amd-epyc-2cpu". */
static void machine_slug(char *buf, size_t len, int cpus) {
  char model[256] = "unknown-cpu";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
        snprintf(model, sizeof model, "%s", strchr(line, ':') + 1);
        break;
      }
    fclose(f);
  }
  size_t o = 0;
  int dash = 1;
  for (const char *c = model; *c && o + 16 < len; c++) {
    char ch = *c;
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
      buf[o++] = ch;
      dash = 0;
    } else if (!dash) {
      buf[o++] = '-';
      dash = 1;
    }
  }
  if (o && buf[o - 1] == '-') o--;
  snprintf(buf + o, len - o, "%s%dcpu", o ? "-" : "", cpus);
}

static void fmt_duration(char *buf, size_t len, double s) {
  if (s < 0) s = 0;
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, len, "%lds", t);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int paired(const char *workload) {
  return !strcmp(workload, "prodcons") || !strcmp(workload, "pipeline") || !strcmp(workload, "xmalloc");
}

/* Whether a cell is measured: the paired workloads need an even thread count
 * of at least 2; the large distribution (a few live blocks per thread) is
 * churn's only; xmalloc is a 64-byte benchmark (fixed64 only); burst is one
 * of small blocks (fixed64, small, invsq); shortlived one of mixed sizes
 * (small, net, invsq). */
static int cell_runs(const char *workload, const char *dist, int nt) {
  if (paired(workload) && (nt < 2 || nt % 2)) return 0;
  if (!strcmp(workload, "xmalloc")) return !strcmp(dist, "fixed64");
  if (!strcmp(workload, "burst"))
    return !strcmp(dist, "fixed64") || !strcmp(dist, "small") || !strcmp(dist, "invsq");
  if (!strcmp(workload, "shortlived"))
    return !strcmp(dist, "small") || !strcmp(dist, "net") || !strcmp(dist, "invsq");
  return strcmp(dist, "large") || !strcmp(workload, "churn");
}

/* The cells whose first repeat records the resident set over time (the
 * worker's --rss-trace, into <out>/rss/): one thread-local and one
 * cross-thread workload with a real live set. */
static int rss_traced(const char *workload, const char *dist) {
  return !strcmp(dist, "net") && (!strcmp(workload, "churn") || !strcmp(workload, "prodcons"));
}

/* Globals, so that what they hold stays reachable on an early return. */
static list workloads, dists, threads, allocs;

int main(int argc, char **argv) {
  cpu_set_t set;
  int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  char default_threads[128] = "1";
  for (int t = 2, o = 1; t <= 2 * usable && o < 100; t *= 2)
    o += snprintf(default_threads + o, sizeof default_threads - (size_t)o, ",%d", t);
  if ((2 * usable & (2 * usable - 1)) != 0) { /* 2 x CPUs itself when not a power of two */
    size_t o = strlen(default_threads);
    snprintf(default_threads + o, sizeof default_threads - o, ",%d", 2 * usable);
  }
  split(&workloads, WORKLOADS, "workloads");
  split(&dists, size_dist_all(), "size distributions");
  split(&threads, default_threads, "thread counts");
  split(&allocs, SWEEP_DEFAULT_ALLOCATORS, "allocators");
  long duration_ms = 200, warmup_ms = 50, repeats = 3, slots = 1000, ring = 1024, batch = 32,
       handoff = 1024;
  int pin = 1, figures = 1, full = 0, custom = 0;
  const char *out_opt = NULL, *bindir = NULL, *machine_opt = NULL;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1;
    if (!strcmp(a, "--workloads") && v) split(&workloads, v, "workloads"), custom = 1;
    else if (!strcmp(a, "--dists") && v) split(&dists, v, "size distributions"), custom = 1;
    else if (!strcmp(a, "--threads") && v) split(&threads, v, "thread counts"), custom = 1;
    else if (!strcmp(a, "--allocators") && v) split(&allocs, v, "allocators"), custom = 1;
    else if (!strcmp(a, "--duration-ms") && v) duration_ms = parse_long(a, v, 1), custom = 1;
    else if (!strcmp(a, "--warmup-ms") && v) warmup_ms = parse_long(a, v, 0), custom = 1;
    else if (!strcmp(a, "--repeats") && v) repeats = parse_long(a, v, 1), custom = 1;
    else if (!strcmp(a, "--slots") && v) slots = parse_long(a, v, 2), custom = 1;
    else if (!strcmp(a, "--ring") && v) ring = parse_long(a, v, 2), custom = 1;
    else if (!strcmp(a, "--batch") && v) batch = parse_long(a, v, 1), custom = 1;
    else if (!strcmp(a, "--handoff") && v) handoff = parse_long(a, v, 1), custom = 1;
    else if (!strcmp(a, "--out") && v) out_opt = v;
    else if (!strcmp(a, "--machine") && v) machine_opt = v;
    else if (!strcmp(a, "--bindir") && v) bindir = v;
    else {
      takes = 0;
      if (!strcmp(a, "--pin")) {
        pin = 1;
      } else if (!strcmp(a, "--no-pin")) {
        pin = 0, custom = 1;
      } else if (!strcmp(a, "--no-figures")) {
        figures = 0;
      } else if (!strcmp(a, "--full")) {
        full = 1;
        repeats = 5, duration_ms = 1000, warmup_ms = 200;
      } else if (!strcmp(a, "--quick")) {
        repeats = 1, duration_ms = 20, warmup_ms = 5, custom = 1;
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
        fprintf(stderr, "sweep: unknown or incomplete argument '%s'\n", a);
        usage(stderr);
        return 2;
      }
    }
    i += takes;
  }
  check_items(&workloads, WORKLOADS, "workload");
  check_items(&dists, size_dist_all(), "size distribution");
  check_items(&allocs, SWEEP_DEFAULT_ALLOCATORS, "allocator");
  int nthreads[MAX_LIST];
  for (int i = 0; i < threads.n; i++) nthreads[i] = (int)parse_long("--threads", threads.item[i], 1);
  if (!bindir) bindir = find_bindir(argv[0]);

  char machine[160];
  if (machine_opt) snprintf(machine, sizeof machine, "%s", machine_opt);
  else machine_slug(machine, sizeof machine, usable);

  const int na = allocs.n;
  int je = -1;
  char *path[MAX_LIST];
  int runs[MAX_LIST] = {0}, runs_failed[MAX_LIST] = {0}, info_failed[MAX_LIST] = {0};
  for (int a = 0; a < na; a++) {
    path[a] = worker_path(bindir, allocs.item[a]);
    if (!strcmp(allocs.item[a], "jemalloc")) je = a;
    if (access(path[a], X_OK) != 0) {
      fprintf(stderr, "sweep: no worker binary for allocator '%s' (%s: %s)\n", allocs.item[a],
              path[a], strerror(errno));
      return 2;
    }
  }

  /* Relative --out paths are relative to where `bazel run` was started, and
   * --out may name an earlier run (it is rewritten). The default is a new
   * folder under results/<machine>/ in the workspace (bazel run) or the
   * current directory. */
  char out[4096];
  const char *wd = getenv("BUILD_WORKING_DIRECTORY"), *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
  const char *kind = custom ? "custom" : full ? "full" : "default";
  int made;
  if (out_opt) {
    if (out_opt[0] != '/' && wd && *wd) snprintf(out, sizeof out, "%s/%s", wd, out_opt);
    else snprintf(out, sizeof out, "%s", out_opt);
    made = run_dir_mkdirs(out);
  } else {
    char parent[4096];
    snprintf(parent, sizeof parent, "%s%sresults/%s", ws && *ws ? ws : "", ws && *ws ? "/" : "",
             machine);
    made = run_dir_create_new(parent, kind, time(NULL), out, sizeof out);
  }
  if (made != 0) {
    fprintf(stderr, "sweep: cannot create %s: %s\n", out_opt ? out : "a new run folder", strerror(errno));
    return 1;
  }
  char csv_path[4200], info_path[4200], fig_dir[4200], rss_dir[4200];
  snprintf(csv_path, sizeof csv_path, "%s/sweep.csv", out);
  snprintf(rss_dir, sizeof rss_dir, "%s/rss", out);
  snprintf(info_path, sizeof info_path, "%s/machine.txt", out);
  snprintf(fig_dir, sizeof fig_dir, "%s/figures", out);

  /* machine.txt: where the numbers come from. */
  FILE *info = fopen(info_path, "w");
  if (!info) {
    fprintf(stderr, "sweep: cannot write %s: %s\n", info_path, strerror(errno));
    return 1;
  }
  fprintf(info, "# sweep of %s\n", machine);
  print_machine(info);
  print_commit(info, ws);
  fprintf(info, "# run: %ld repeat(s) of %ld ms after %ld ms warm-up, one process per run, "
                "threads %s; slots %ld, ring %ld, batch %ld, handoff %ld\n",
          repeats, duration_ms, warmup_ms, pin ? "pinned" : "unpinned", slots, ring, batch,
          handoff);
  fprintf(info, "# command:");
  for (int i = 1; i < argc; i++) fprintf(info, " %s", argv[i]);
  fprintf(info, "\n# allocators:\n");
  for (int a = 0; a < na; a++) {
    char *args[] = {path[a], "--info", NULL};
    int st;
    char *o = run_capture(args, &st);
    o[strcspn(o, "\n")] = '\0';
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    fprintf(info, "#   %-12s %s%s\n", allocs.item[a], ok ? "" : "FAILED: ", o);
    if (!ok) {
      fprintf(stderr, "sweep: %s --info failed: %s\n", allocs.item[a], o);
      info_failed[a] = 1;
    }
    free(o);
  }
  fclose(info);

  FILE *csv = fopen(csv_path, "w");
  if (!csv || result_csv_write_header(csv) != 0) {
    fprintf(stderr, "sweep: cannot write %s: %s\n", csv_path, strerror(errno));
    return 1;
  }

  /* Cells: workload x distribution x thread count (paired ones: even >= 2). */
  int total_runs = 0;
  for (int wl = 0; wl < workloads.n; wl++)
    for (int d = 0; d < dists.n; d++)
      for (int t = 0; t < threads.n; t++)
        if (cell_runs(workloads.item[wl], dists.item[d], nthreads[t])) total_runs += na * (int)repeats;
  fprintf(stderr, "sweep: %d runs (%d workload(s) x %d distribution(s) x %d allocator(s) x "
                  "thread counts %s x %ld repeat(s)) into %s\n",
          total_runs, workloads.n, dists.n, na, threads.buf, repeats, out);

  printf("sweep %s: median alloc+free pairs per second (Mops/s) per allocator; x/je = ratio "
         "to jemalloc\n",
         machine);
  printf("%-9s %-8s %4s", "workload", "dist", "thr");
  for (int a = 0; a < na; a++) printf(" %12s", allocs.item[a]);
  printf("\n");
  fflush(stdout);

  /* Per cell (workload x distribution x thread count): the best npool
   * strategy against the best peer, for the summary. */
  const size_t ncells = (size_t)workloads.n * (size_t)dists.n * (size_t)threads.n;
  sweep_best *best = calloc(ncells, sizeof *best);
  int *best_ran = calloc(ncells, sizeof *best_ran);
#define CELL(wl, d, t) (((size_t)(wl) * (size_t)dists.n + (size_t)(d)) * (size_t)threads.n + (size_t)(t))
  double *samples = calloc((size_t)repeats * MAX_LIST, sizeof(double));
  int *sample_ok = calloc((size_t)repeats * MAX_LIST, sizeof(int));
  char dur_s[32], warm_s[32], slots_s[32], ring_s[32], batch_s[32], handoff_s[32], thr_s[32],
      seed_s[32];
  snprintf(dur_s, sizeof dur_s, "%ld", duration_ms);
  snprintf(warm_s, sizeof warm_s, "%ld", warmup_ms);
  snprintf(slots_s, sizeof slots_s, "%ld", slots);
  snprintf(ring_s, sizeof ring_s, "%ld", ring);
  snprintf(batch_s, sizeof batch_s, "%ld", batch);
  snprintf(handoff_s, sizeof handoff_s, "%ld", handoff);
  int done = 0, csv_failed = 0;
  double start = mono_s();

  for (int wl = 0; wl < workloads.n; wl++)
    for (int d = 0; d < dists.n; d++)
      for (int t = 0; t < threads.n; t++) {
        const char *wname = workloads.item[wl], *dname = dists.item[d];
        int nt = nthreads[t];
        if (!cell_runs(wname, dname, nt)) continue;
        snprintf(thr_s, sizeof thr_s, "%d", nt);
        for (long r = 0; r < repeats; r++)
          for (int k = 0; k < na; k++) {
            int a = (int)((k + r) % na);
            double el = mono_s() - start;
            char el_s[32], left_s[32];
            fmt_duration(el_s, sizeof el_s, el);
            fmt_duration(left_s, sizeof left_s, done ? el / done * (total_runs - done) : 0);
            fprintf(stderr, "sweep: [%d/%d %3.0f%%] %s %s %d thread(s) %s repeat %ld; %s elapsed, "
                            "%s%s left\n",
                    done + 1, total_runs, 100.0 * done / total_runs, wname, dname, nt,
                    allocs.item[a], r + 1, el_s, done ? "~" : "?", done ? left_s : "");
            snprintf(seed_s, sizeof seed_s, "%ld", 1 + r);
            /* The first repeat of the RSS-over-time cells leaves its samples in rss/. */
            char trace_path[4400];
            int traced = r == 0 && rss_traced(wname, dname);
            if (traced) {
              snprintf(trace_path, sizeof trace_path, "%s/rss/%s_%s_%d_%s.tsv", out, wname, dname, nt,
                       allocs.item[a]);
              run_dir_mkdirs(rss_dir);
            }
            char *args[] = {path[a],       "--workload", (char *)wname, "--dist",     (char *)dname,
                            "--threads",   thr_s,        "--duration-ms", dur_s,      "--warmup-ms",
                            warm_s,        "--slots",    slots_s,       "--ring",     ring_s,
                            "--batch",     batch_s,      "--handoff",   handoff_s,    "--seed",
                            seed_s,        traced ? "--rss-trace" : (pin ? "--pin" : NULL),
                            traced ? trace_path : NULL, traced && pin ? "--pin" : NULL, NULL};
            int st;
            char *o = run_capture(args, &st);
            unsigned long long ops = 0, ns = 0, rss = 0;
            long long live = 0;
            double p50 = 0, p99 = 0, p999 = 0;
            const char *res = strstr(o, "result ops=");
            int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && res &&
                     sscanf(res,
                            "result ops=%llu ns=%llu threads=%*d lat_p50=%lf lat_p99=%lf "
                            "lat_p999=%lf peak_rss=%llu live=%lld",
                            &ops, &ns, &p50, &p99, &p999, &rss, &live) == 7 &&
                     ns > 0 && ops > 0;
            runs[a]++;
            done++;
            if (!ok) {
              char why[96];
              describe_status(st, why, sizeof why);
              fprintf(stderr, "sweep: %s %s %s %d threads repeat %ld FAILED (%s)%s%s\n",
                      allocs.item[a], wname, dname, nt, r + 1, why,
                      res || !*o ? "" : "; output: ", res ? "" : o);
              runs_failed[a]++;
            }
            double ops_s = ok ? (double)ops * 1e9 / (double)ns : 0.0;
            samples[r * MAX_LIST + a] = ops_s;
            sample_ok[r * MAX_LIST + a] = ok;
            const char *alloc = allocs.item[a];
            result_row row = {machine, alloc, strncmp(alloc, "npool-", 6) ? "-" : alloc + 6,
                              wname, dname, nt, (int)r + 1, ok, ops_s,
                              (uint64_t)p50, (uint64_t)p99, (uint64_t)p999, rss,
                              live > 0 ? (uint64_t)live : 0, 0, {0}};
            const char *wh = res ? strstr(res, " where=") : NULL;
            if (ok && wh) {
              uint64_t *v = row.where;
#define U ":%" SCNu64
              row.has_where = sscanf(wh, " where=%" SCNu64 U U U U U U U U U U U,
                                     &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                                     &v[10], &v[11]) == RESULT_CSV_WHERE_COLUMNS;
#undef U
            }
            if (result_csv_write_row(csv, &row) != 0 || fflush(csv) != 0) csv_failed = 1;
            free(o);
          }

        printf("%-9s %-8s %3d%s", wname, dname, nt, nt > usable ? "*" : " ");
        double med[MAX_LIST];
        int have[MAX_LIST];
        for (int a = 0; a < na; a++) {
          double v[256];
          int n = 0;
          for (long r = 0; r < repeats && n < 256; r++)
            if (sample_ok[r * MAX_LIST + a]) v[n++] = samples[r * MAX_LIST + a];
          have[a] = n == repeats; /* a cell counts only when every repeat succeeded */
          if (have[a]) {
            qsort(v, (size_t)n, sizeof *v, cmp_double);
            med[a] = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
          }
        }
        for (int a = 0; a < na; a++) {
          char cellbuf[32];
          if (!have[a]) snprintf(cellbuf, sizeof cellbuf, "FAIL");
          else if (je >= 0 && a != je && have[je])
            snprintf(cellbuf, sizeof cellbuf, "%.2f x%.2f", med[a] / 1e6, med[a] / med[je]);
          else snprintf(cellbuf, sizeof cellbuf, "%.2f", med[a] / 1e6);
          printf(" %12s", cellbuf);
        }
        printf("\n");
        fflush(stdout);
        best[CELL(wl, d, t)] = sweep_best_of(na, (const char *const *)allocs.item, med, have);
        best_ran[CELL(wl, d, t)] = 1;
      }
  if (fclose(csv) != 0) csv_failed = 1;
  char el_s[32];
  fmt_duration(el_s, sizeof el_s, mono_s() - start);
  fprintf(stderr, "sweep: %d runs done in %s; CSV: %s%s\n", done, el_s, csv_path,
          csv_failed ? " (WRITE FAILED)" : "");

  int any_failed = csv_failed;
  printf("\n(* = more threads than usable CPUs)\n");
  for (int a = 0; a < na; a++) {
    printf("allocator %s: %d runs, %d failed%s\n", allocs.item[a], runs[a], runs_failed[a],
           info_failed[a] ? " (and its --info failed)" : "");
    if (runs_failed[a] || info_failed[a]) any_failed = 1;
  }

  /* The figures; plot.sh's list of the files it wrote goes to stderr. */
  int figures_ok = 0;
  if (figures) {
    char plot[4200];
    snprintf(plot, sizeof plot, "%s/plot.sh", bindir);
    char *args[] = {"/bin/bash", plot, csv_path, fig_dir, NULL};
    if (run_to_stderr(args) != 0) {
      fprintf(stderr, "sweep: making the figures failed (%s %s %s)\n", plot, csv_path, fig_dir);
      any_failed = 1;
    } else {
      figures_ok = 1;
    }
  }
  /* The run's page, index.html: machine, command, commit, summary, figures. */
  char page_py[4200], page_path[4200];
  snprintf(page_py, sizeof page_py, "%s/run_page.py", bindir);
  snprintf(page_path, sizeof page_path, "%s/index.html", out);
  char *page_args[] = {"/usr/bin/env", "python3", page_py, out, NULL};
  int page_ok = run_to_stderr(page_args) == 0;
  if (!page_ok) {
    fprintf(stderr, "sweep: writing the run's page failed (python3 %s %s)\n", page_py, out);
    any_failed = 1;
  }

  /* The summary: one row per workload x distribution, one column per
   * thread count. */
  printf("\nsummary: per cell, the best npool strategy, its median throughput / the best "
         "peer's (x1.00 = as fast) and that peer (of");
  int peers = 0;
  for (int a = 0; a < na; a++)
    if (strncmp(allocs.item[a], "npool-", 6)) printf("%s %s", peers++ ? "," : "", allocs.item[a]);
  printf("%s)\n", peers ? "" : " none: no peer in this run");
  printf("%-9s %-8s", "workload", "dist");
  for (int t = 0; t < threads.n; t++) {
    char head[32];
    snprintf(head, sizeof head, "%d thr%s", nthreads[t], nthreads[t] > usable ? "*" : "");
    printf(" %22s", head);
  }
  printf("\n");
  int cells = 0, at_par = 0;
  for (int wl = 0; wl < workloads.n; wl++)
    for (int d = 0; d < dists.n; d++) {
      printf("%-9s %-8s", workloads.item[wl], dists.item[d]);
      for (int t = 0; t < threads.n; t++) {
        const sweep_best *b = &best[CELL(wl, d, t)];
        char cellbuf[64];
        if (best_ran[CELL(wl, d, t)])
          sweep_best_format(cellbuf, sizeof cellbuf, b, (const char *const *)allocs.item);
        else
          snprintf(cellbuf, sizeof cellbuf, "-");
        printf(" %22s", cellbuf);
        if (best_ran[CELL(wl, d, t)] && b->ratio > 0) {
          cells++;
          at_par += b->ratio >= 1.0;
        }
      }
      printf("\n");
    }
  printf("npool's best strategy is at least as fast as the best peer in %d of %d cells\n", at_par,
         cells);

  /* Last: where everything is. */
  printf("\nresults: %s\nmachine: %s\n", csv_path, info_path);
  if (figures_ok) printf("figures: %s\n", fig_dir);
  if (page_ok) printf("page:    %s\n", page_path);
  printf("sweep: results in %s%s\n", out, out_opt ? "" : " (a new run)");
#undef CELL
  fflush(stdout);
  free(samples);
  free(sample_ok);
  free(best);
  free(best_ran);
  for (int a = 0; a < na; a++) free(path[a]);
  free(workloads.buf);
  free(dists.buf);
  free(threads.buf);
  free(allocs.buf);
  return any_failed ? 1 : 0;
}
