#!/usr/bin/env python3
"""Real programs from Debian's archive under each allocator's LD_PRELOAD.

Runs each program (python3, sort, gcc, perl: allocation-heavy, each with a fixed
input; prodcons: a C program compiled here whose 64 B blocks are all freed by
another thread) under glibc's malloc (no preload), npool's libnpool_malloc_<strategy>.so,
jemalloc's, mimalloc's and tcmalloc's, repeats interleaved and their order
rotated, and reports the median wall time (with its ratio to jemalloc's, from
the same run) and peak RSS (ru_maxrss of the program and the children it
waited for). Every run's output is checked against glibc's, and each
preloaded library is checked to be mapped into the process.

Writes <out>/preload.csv (one row per run) and <out>/machine.txt;
<out> defaults to a new folder results/<machine>/preload-<date>T<time> in
the workspace, so that no run replaces another (the reference runs committed
under results/ among them); --out names one (and replaces its files).
"""
import argparse
import csv
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ARCH_LIB = "/usr/lib/x86_64-linux-gnu"
BASELINES = {
    "jemalloc": ARCH_LIB + "/libjemalloc.so.2",
    "mimalloc": ARCH_LIB + "/libmimalloc.so.2",
    "tcmalloc": ARCH_LIB + "/libtcmalloc.so.4",
}

PYTHON_WORK = r'''
import json, threading
def work(k, out):
    d = {}
    for i in range(SCALE):
        d[str(i * k)] = [i] * (i % 9) + [str(i) * (i % 17)] + [bytes(i % 700)]
        if i % 3 == 0:
            d.pop(str((i // 2) * k), None)
    out[k] = len(json.dumps(sorted((k2, len(v)) for k2, v in d.items())))
out = {}
ts = [threading.Thread(target=work, args=(k, out)) for k in range(1, 5)]
for t in ts: t.start()
for t in ts: t.join()
print(sorted(out.items()))
'''

# Big buffers: blocks of 5-25 MiB, up to 20 live (zeroed by calloc, every
# page of a few written), the shape that made npool 12x the best allocator
# when every huge block was a fresh mapping (the large-block issue).
BIGBUF_WORK = r'''
import random
r = random.Random(1)
live, total = [], 0
for i in range(SCALE):
    b = bytearray(r.randint(5 << 20, 25 << 20))
    if i % 4 == 0:
        b[::4096] = b"x" * len(range(0, len(b), 4096))
    total += b.count(b"x", 0, 1 << 16)
    live.append(b)
    if len(live) > 20:
        live.pop(r.randrange(len(live)))
print(total, len(live))
'''

PERL_WORK = r'''
my %h; my @keep;
for my $i (1 .. SCALE) {
  my $k = "key" . ($i * 7919 % 200003);
  $h{$k} = [ map { "v$_" x ($i % 5) } 1 .. ($i % 11) ];
  push @keep, join(",", @{ $h{$k} }) if $i % 10 == 0;
  delete $h{"key" . (($i - 50000) * 7919 % 200003)} if $i > 50000;
}
print scalar(keys %h), " ", length(join("", @keep)), "\n";
'''

# Producer-consumer: producers malloc 64 B blocks, write them and pass them
# through a lock-free ring each to its consumer, which reads and frees them:
# every free is of a block another thread allocated (issue 31's program
# shape). Compiled here with the system's cc, without any allocator; prints
# the sum of what the consumers read.
PRODCONS_C = r"""
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define RING 1024
#define SIZE 64
struct ring {
  _Alignas(64) atomic_size_t head;
  _Alignas(64) atomic_size_t tail;
  _Alignas(64) void *slot[RING];
};
static long blocks;
static void *produce(void *arg) {
  struct ring *r = arg;
  for (long i = 0; i < blocks; i++) {
    uint64_t *p = malloc(SIZE);
    if (!p) abort();
    memset(p, (int)i, SIZE);
    p[0] = (uint64_t)i;
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    while (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING) sched_yield();
    r->slot[h % RING] = p;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
  }
  return NULL;
}
static void *consume(void *arg) {
  struct ring *r = arg;
  uint64_t sum = 0;
  for (long i = 0; i < blocks; i++) {
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    while (atomic_load_explicit(&r->head, memory_order_acquire) == t) sched_yield();
    uint64_t *p = r->slot[t % RING];
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    sum += p[0] + ((unsigned char *)p)[SIZE - 1];
    free(p);
  }
  return (void *)(uintptr_t)sum;
}
int main(int argc, char **argv) {
  int pairs = argc > 1 ? atoi(argv[1]) : 1;
  blocks = argc > 2 ? atol(argv[2]) : 1000000;
  struct ring *rings = aligned_alloc(64, sizeof(struct ring) * pairs);
  memset(rings, 0, sizeof(struct ring) * pairs);
  pthread_t *t = malloc(sizeof(pthread_t) * 2 * pairs);
  for (int k = 0; k < pairs; k++) {
    pthread_create(&t[2 * k], NULL, produce, &rings[k]);
    pthread_create(&t[2 * k + 1], NULL, consume, &rings[k]);
  }
  uint64_t total = 0;
  for (int k = 0; k < pairs; k++) {
    void *sum;
    pthread_join(t[2 * k], NULL);
    pthread_join(t[2 * k + 1], &sum);
    total += (uint64_t)(uintptr_t)sum;
  }
  printf("%llu\n", (unsigned long long)total);
  return 0;
}
"""


# Runs a program as the child of this small process and writes the child's
# peak RSS (KiB) into a file; exits as the child did. A program forked straight
# from this Python would count Python's pages in its ru_maxrss (the maximum
# survives exec); forked from here it starts from this program's few.
SPAWN_C = r"""
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3) return 126;
  pid_t pid = fork();
  if (pid < 0) return 126;
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  int st;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) < 0) return 126;
  FILE *f = fopen(argv[1], "w");
  if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) return 126;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
"""


def build_spawn(work):
    """The compiled SPAWN_C."""
    with open(os.path.join(work, "spawn.c"), "w") as f:
        f.write(SPAWN_C)
    spawn = os.path.join(work, "spawn")
    subprocess.run(["cc", "-O2", "-o", spawn, os.path.join(work, "spawn.c")], check=True)
    return spawn


def make_inputs(work, scale):
    with open(os.path.join(work, "work.py"), "w") as f:
        f.write(PYTHON_WORK.replace("SCALE", str(60000 * scale)))
    with open(os.path.join(work, "bigbuf.py"), "w") as f:
        f.write(BIGBUF_WORK.replace("SCALE", str(400 * scale)))
    with open(os.path.join(work, "work.pl"), "w") as f:
        f.write(PERL_WORK.replace("SCALE", str(200000 * scale)))
    s = 12345
    with open(os.path.join(work, "lines.txt"), "w") as f:
        for i in range(400000 * scale):
            s = (s * 1103515245 + 12345) % 2147483648
            f.write("%d %s\n" % (s, "x" * (s % 200)))
    with open(os.path.join(work, "big.c"), "w") as f:
        for i in range(300 * scale):
            f.write("struct s%d { int a[%d]; double d; };\n" % (i, 1 + i % 9))
            f.write("int f%d(struct s%d *p, int n) { int t = 0; for (int i = 0; i < n; i++)"
                    " t += p->a[i %% %d] * (i ^ %d); return t + (int)p->d; }\n" % (i, i, 1 + i % 9, i))
    with open(os.path.join(work, "prodcons.c"), "w") as f:
        f.write(PRODCONS_C)
    subprocess.run(["cc", "-O2", "-pthread", "-o", os.path.join(work, "prodcons"),
                    os.path.join(work, "prodcons.c")], check=True)
    return {
        "prodcons": [os.path.join(work, "prodcons"), "1", str(4000000 * scale)],
        "python3": ["/usr/bin/python3", os.path.join(work, "work.py")],
        "sort": ["sort", "--parallel=2", "-S", "64M", "-T", work, os.path.join(work, "lines.txt")],
        "gcc": ["gcc", "-O2", "-c", os.path.join(work, "big.c"), "-o", os.path.join(work, "big.o")],
        "perl": ["perl", os.path.join(work, "work.pl")],
        "bigbuf": ["/usr/bin/python3", os.path.join(work, "bigbuf.py")],
    }


def run_measured(spawn, argv, preload):
    """Wall seconds, peak RSS (KiB), stdout digest, exit status."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    out_fd, out_path = tempfile.mkstemp()
    rss_fd, rss_path = tempfile.mkstemp()
    os.close(rss_fd)
    argv = [spawn, rss_path] + list(argv)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(out_fd, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    _, status, _ = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    os.close(out_fd)
    with open(out_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    os.unlink(out_path)
    with open(rss_path) as f:
        text = f.read().strip()
    os.unlink(rss_path)
    code = os.waitstatus_to_exitcode(status)
    return wall, int(text) if text.isdigit() else 0, digest, code


def check_loaded(name, preload):
    """The library is mapped into a process started with it preloaded."""
    if not preload:
        return True
    env = dict(os.environ, LD_PRELOAD=preload)
    maps = subprocess.run(["cat", "/proc/self/maps"], env=env, capture_output=True, text=True).stdout
    return os.path.basename(preload) in maps


def commit_line(ws):
    """machine.txt's "# commit:" line: the workspace's commit (the libraries'
    source) and whether tracked files differ from it, as the sweep writes it."""
    def git(*args):
        r = subprocess.run(["git", "-C", ws] + list(args), capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None
    head = git("rev-parse", "HEAD") if os.path.exists("/usr/bin/git") else None
    if not head:
        return "# commit:  unknown (%s is not a git checkout)" % ws
    changed = (git("status", "--porcelain", "--untracked-files=no") or "").splitlines()
    if not changed:
        return "# commit:  %s" % head.strip()
    return "# commit:  %s, with uncommitted changes to %d tracked file(s) (the first: %s)" % (
        head.strip(), len(changed), changed[0][3:])


def machine_slug():
    model = "unknown-cpu"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1]
                break
    slug = "".join(c if c.isalnum() else "-" for c in model.lower())
    slug = "-".join(p for p in slug.split("-") if p)
    return "%s-%dcpu" % (slug, len(os.sched_getaffinity(0)))


def new_run_dir(parent, kind):
    """A new folder parent/<kind>-<date>T<time>[-N], as the sweep makes
    (experiments/run_dir.h): a run never replaces another, the reference
    runs committed under results/ among them."""
    os.makedirs(parent, exist_ok=True)
    name = "%s-%s" % (kind, time.strftime("%Y-%m-%dT%H%M%S"))
    for n in range(1, 10000):
        path = os.path.join(parent, name if n == 1 else "%s-%d" % (name, n))
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    sys.exit("preload_bench: no free run folder in %s" % parent)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npool", action="append", default=[], metavar="STRATEGY=LIB",
                    help="an npool preload library, e.g. mutex=core/libnpool_malloc_mutex.so")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scale", type=int, default=1, help="input size multiplier")
    ap.add_argument("--programs", default="python3,sort,gcc,perl,prodcons")
    ap.add_argument("--out", help="output folder, replacing what a run there wrote (default: a new "
                    "folder results/<machine>/preload-<date>T<time> in the workspace)")
    ap.add_argument("--quick", action="store_true", help="1 repeat (a smoke run)")
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats

    allocators = [("glibc", None)]
    for spec in args.npool:
        strategy, lib = spec.split("=", 1)
        allocators.append(("npool-" + strategy, os.path.abspath(lib)))
    for name, lib in BASELINES.items():
        if os.path.exists(lib):
            allocators.append((name, lib))
        else:
            print("preload_bench: %s not installed (%s): skipped" % (name, lib), file=sys.stderr)
    for name, lib in allocators:
        if not check_loaded(name, lib):
            sys.exit("preload_bench: %s (%s) is not mapped into a preloaded process" % (name, lib))

    machine = machine_slug()
    ws = os.environ.get("BUILD_WORKSPACE_DIRECTORY", os.getcwd())
    work = tempfile.mkdtemp(prefix="npool-preload-")
    programs = make_inputs(work, args.scale)
    spawn = build_spawn(work)
    chosen = [p for p in args.programs.split(",") if p]

    rows, wall, rss = [], {}, {}
    total = repeats * len(chosen) * len(allocators)
    done = 0
    t0 = time.time()
    for rep in range(repeats):
        for prog in chosen:
            argv = programs[prog]
            order = allocators[rep % len(allocators):] + allocators[:rep % len(allocators)]
            reference = None
            for name, lib in order:
                w, r, digest, code = run_measured(spawn, argv, lib)
                done += 1
                left = (time.time() - t0) / done * (total - done)
                print("[%3d/%d] %-8s %-12s %7.3f s %7.1f MiB  (about %.0f s left)" %
                      (done, total, prog, name, w, r / 1024, left), file=sys.stderr)
                if code != 0:
                    sys.exit("preload_bench: %s under %s exited %d" % (prog, name, code))
                if reference is None:
                    reference = digest
                if digest != reference:
                    sys.exit("preload_bench: %s under %s printed something else than under %s" %
                             (prog, name, order[0][0]))
                rows.append((machine, prog, name, rep, "%.4f" % w, r))
                wall.setdefault((prog, name), []).append(w)
                rss.setdefault((prog, name), []).append(r)

    if args.out:
        # (relative to where `bazel run` was started, as the sweep's --out)
        out_dir = os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()), args.out)
        os.makedirs(out_dir, exist_ok=True)
    else:
        out_dir = new_run_dir(os.path.join(ws, "results", machine), "preload")
    with open(os.path.join(out_dir, "preload.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["machine", "program", "allocator", "repeat", "wall_s", "peak_rss_kib"])
        wr.writerows(rows)
    with open(os.path.join(out_dir, "machine.txt"), "w") as f:
        f.write("# preload benchmark on %s\n" % machine)
        f.write("# %s, %d usable CPUs, kernel %s, %s\n" % (platform.processor() or platform.machine(),
                len(os.sched_getaffinity(0)), platform.release(), " ".join(platform.libc_ver())))
        f.write(commit_line(ws) + "\n")
        f.write("# command: bazel run //experiments:preload_bench -- %s\n" % " ".join(sys.argv[1:]))
        for name, lib in allocators:
            f.write("# %s: %s\n" % (name, lib or "(no preload: glibc's malloc)"))
        for prog in chosen:
            f.write("# %s: %s\n" % (prog, " ".join(os.path.basename(a) for a in programs[prog])))

    names = [n for n, _ in allocators]
    print("median wall time in seconds (ratio to jemalloc's, same run), %d repeats; %s" % (repeats, machine))
    print("| program | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for prog in chosen:
        base = statistics.median(wall[(prog, "jemalloc")]) if (prog, "jemalloc") in wall else None
        cells = []
        for n in names:
            m = statistics.median(wall[(prog, n)])
            cells.append("%.3f (%.2f)" % (m, m / base) if base else "%.3f" % m)
        print("| %s | %s |" % (prog, " | ".join(cells)))
    print()
    print("median peak RSS in MiB")
    print("| program | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for prog in chosen:
        print("| %s | %s |" % (prog, " | ".join("%.1f" % (statistics.median(rss[(prog, n)]) / 1024) for n in names)))
    print("\nwrote %s/preload.csv and machine.txt" % out_dir)


if __name__ == "__main__":
    main()
