#!/usr/bin/env python3
"""Writes the paper's tables from a sweep run's CSV, so that no number in them
is typed by hand.

    python3 paper/tables.py RUN_DIR DOC.md...            rewrite the tables
    python3 paper/tables.py --check RUN_DIR DOC.md...    exit 1 if any differs

(paper/make_figures.sh runs it on paper.md and README.md.) Each table lives in
a document between two marker comments:

    <!-- table: throughput_ratio threads=2 -->
    ... (generated; edits are overwritten) ...
    <!-- end table -->

The first marker names the table and its arguments; everything up to the end
marker is replaced by the table computed from RUN_DIR/sweep.csv; nothing is
written unless every document's markers are well formed. Numbers are
medians over a cell's repeats that ran (empty ops_per_s: failed, skipped).

Tables (arguments: threads=N, the thread count of the cells; min_live_mib=X,
only cells whose median live set is at least X MiB; run=DIR, another run's
folder, relative to the current directory like RUN_DIR, instead of RUN_DIR):
  throughput         median Mops/s per workload, distribution and allocator
  throughput_ratio   median ops/s / jemalloc's in the same cell
  best               per cell, the best npool strategy / the best peer, that
                     peer, and whether the two runs' ranges (min..max over the
                     repeats) overlap: 'within spread' when they do
  rss_over_live      peak RSS / peak live bytes, medians, per allocator, and
                     the best npool strategy / the lowest peer
  spread             per allocator, (max - min) / median of ops/s over the
                     repeats that ran, in percent ('-': fewer than 2 ran)
  strategies         per cell, the three npool strategies' Mops/s, ck / mutex
                     and rseq / mutex, the fastest, and whether it is ahead of
                     the second beyond the repeats' spread
  preload_time       (a preload benchmark's run: run=DIR with DIR/preload.csv,
                     no threads=) per program, each allocator's median wall
                     time in seconds and, in brackets, its ratio to jemalloc's
  preload_rss        the same run's median peak RSS per program, MiB

A number in the prose is written the same way, inline, between
`<!-- value: NAME ARGS -->` and `<!-- /value -->` (several on a line are fine),
ARGS naming the cell (w=WORKLOAD d=DIST t=THREADS) and, where needed, the
allocator (a=ALLOC) and run=DIR:
  mops a=A                 median Mops/s of A in the cell
  ratio a=A b=B            median ops/s of A / of B in the cell
  rss_over_live a=A        median peak RSS / median peak live bytes of A
  rss_mib a=A              median peak RSS of A, MiB
  lat a=A q=Q              median over repeats of A's latency percentile Q (p50,
                           p99 or p999), ns
  best field=F             best npool strategy against best peer in the cell:
                           F = ratio, npool, peer or verdict (as in `best`)
  count what=W t=N         cells at N threads (w= and d= optional filters) where
                           the best npool strategy is W: ahead, behind, within
                           (the spread), at_par (ratio >= 1) or all
(digits=K: decimals of a number, 2 unless given.)
"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments"))
from sweep_cells import (NPOOL, PEERS, Error, best_vs_peer, cell_keys, load, median,  # noqa: E402
                         ok_values, ranges_overlap, read_csv)

START = re.compile(r"^<!-- table: ([a-z_]+)((?: [a-z_]+=[^ ]+)*) -->$")
END = "<!-- end table -->"
VALUE = re.compile(r"<!-- value: ([a-z_]+)((?: [a-z_]+=[^ ]+)*) -->(.*?)<!-- /value -->")


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def table(header, lines):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(l) + " |" for l in lines]
    return out


def t_throughput(cells, order, threads, ratio):
    allocs = [a for a in order["a"] if not (ratio and a == "jemalloc")]
    lines = []
    for w, d in cell_keys(cells, order, threads):
        c = cells[(w, d, threads)]
        base = median(c.get("jemalloc", []), "ops_per_s") if ratio else 1e6
        vals = []
        for a in allocs:
            m = median(c.get(a, []), "ops_per_s")
            vals.append(fmt(m / base if m is not None and base else None))
        lines.append([w, d] + vals)
    return table(["workload", "sizes"] + allocs, lines)


def t_best(cells, order, threads):
    lines = []
    for w, d in cell_keys(cells, order, threads):
        b = best_vs_peer(cells[(w, d, threads)])
        if b is None:
            continue
        lines.append([w, d, b.npool, fmt(b.npool_ops / 1e6), b.peer, fmt(b.peer_ops / 1e6),
                      fmt(b.ratio), b.verdict])
    return table(["workload", "sizes", "best npool", "Mops/s", "best peer", "Mops/s",
                  "npool / peer", "beyond the repeats' spread?"], lines)


def t_rss_over_live(cells, order, threads, min_live_mib):
    allocs = order["a"]
    lines = []
    for w, d in cell_keys(cells, order, threads):
        c = cells[(w, d, threads)]
        live = [median(c[a], "live_bytes") for a in allocs if a in c]
        live = [x for x in live if x is not None]
        if not live or statistics.median(live) < min_live_mib * 1048576:
            continue
        ratio = {}
        for a in allocs:
            rss, lv = median(c.get(a, []), "peak_rss_bytes"), median(c.get(a, []), "live_bytes")
            ratio[a] = rss / lv if rss is not None and lv else None
        n = [ratio[a] for a in NPOOL if ratio.get(a) is not None]
        p = [ratio[a] for a in PEERS if ratio.get(a) is not None]
        lines.append([w, d, fmt(statistics.median(live) / 1048576, 0)]
                     + [fmt(ratio[a]) for a in allocs]
                     + [fmt(min(n) / min(p) if n and p else None)])
    return table(["workload", "sizes", "live MiB"] + allocs + ["best npool / lowest peer"],
                 lines)


def t_spread(cells, order, threads):
    allocs = order["a"]
    lines = []
    for w, d in cell_keys(cells, order, threads):
        c = cells[(w, d, threads)]
        vals = []
        for a in allocs:
            v = ok_values(c.get(a, []), "ops_per_s")
            vals.append(f"{100 * (max(v) - min(v)) / statistics.median(v):.0f}%" if len(v) >= 2 else "-")
        lines.append([w, d] + vals)
    return table(["workload", "sizes"] + allocs, lines)


def t_strategies(cells, order, threads):
    lines = []
    for w, d in cell_keys(cells, order, threads):
        c = cells[(w, d, threads)]
        m = {a: median(c.get(a, []), "ops_per_s") for a in NPOOL}
        ran = sorted(((m[a], a) for a in NPOOL if m[a] is not None), reverse=True)
        if not ran:
            continue
        if len(ran) > 1:
            verdict = "within spread" if ranges_overlap(c[ran[0][1]], c[ran[1][1]]) else "ahead"
        else:
            verdict = "-"
        mu = m["npool-mutex"]
        lines.append([w, d] + [fmt(m[a] / 1e6 if m[a] is not None else None) for a in NPOOL]
                     + [fmt(m[a] / mu if m[a] is not None and mu else None) for a in NPOOL[1:]]
                     + [ran[0][1], verdict])
    return table(["workload", "sizes"] + list(NPOOL) + ["ck / mutex", "rseq / mutex", "fastest",
                                                        "ahead of the second beyond the spread?"], lines)


def value(name, args, runs, run_dir):
    """One inline number (or name) of the prose, from the run's cells."""
    digits = int(args.pop("digits", "2"))
    rd = args.pop("run", run_dir).rstrip("/")
    if rd not in runs:
        runs[rd] = load(rd)
    cells, order = runs[rd]
    if name == "count":
        what, t = args.pop("what", None), int(args.pop("t", "0"))
        fw, fd = args.pop("w", None), args.pop("d", None)
        if args:
            raise Error(f"value {name}: unknown argument(s) {', '.join(sorted(args))}")
        if what not in ("ahead", "behind", "within", "at_par", "all"):
            raise Error("value count: what= is ahead, behind, within, at_par or all")
        n = 0
        for (w, d, tt), c in cells.items():
            if tt != t or (fw and w != fw) or (fd and d != fd):
                continue
            b = best_vs_peer(c)
            if b is None:
                continue
            n += (what == "all" or (what == "at_par" and b.ratio >= 1)
                  or b.verdict == {"ahead": "ahead", "behind": "behind", "within": "within spread"}.get(what))
        return str(n)
    try:
        key = (args.pop("w"), args.pop("d"), int(args.pop("t")))
    except KeyError:
        raise Error(f"value {name}: needs w=, d= and t=")
    if key not in cells:
        raise Error(f"value {name}: the run has no cell {key[0]} {key[1]} at {key[2]} thread(s)")
    c = cells[key]
    def rows(a):
        if a not in c:
            raise Error(f"value {name}: no {a} in {key[0]} {key[1]} at {key[2]} thread(s)")
        return c[a]
    def one(x):
        if x is None:
            raise Error(f"value {name}: no run of that cell ran")
        return x
    if name == "mops":
        v = one(median(rows(args.pop("a")), "ops_per_s")) / 1e6
    elif name == "ratio":
        v = one(median(rows(args.pop("a")), "ops_per_s")) / one(median(rows(args.pop("b")), "ops_per_s"))
    elif name == "rss_over_live":
        r = rows(args.pop("a"))
        v = one(median(r, "peak_rss_bytes")) / one(median(r, "live_bytes"))
    elif name == "rss_mib":
        v = one(median(rows(args.pop("a")), "peak_rss_bytes")) / 1048576
    elif name == "lat":
        r, q = rows(args.pop("a")), args.pop("q", None)
        if q not in ("p50", "p99", "p999"):
            raise Error("value lat: q= is p50, p99 or p999")
        v = one(median(r, f"lat_{q}_ns"))
    elif name == "best":
        b = best_vs_peer(c)
        field = args.pop("field", None)
        if b is None:
            raise Error("value best: the cell lacks npool or a peer")
        if field not in ("ratio", "npool", "peer", "verdict"):
            raise Error("value best: field= is ratio, npool, peer or verdict")
        v = b.ratio if field == "ratio" else getattr(b, field)
    else:
        raise Error(f"unknown value '{name}' (mops, ratio, rss_over_live, rss_mib, lat, best, count)")
    if args:
        raise Error(f"value {name}: unknown argument(s) {', '.join(sorted(args))}")
    return v if isinstance(v, str) else fmt(v, digits)


def values(line, runs, run_dir):
    def sub(m):
        args = dict(a.split("=", 1) for a in m.group(2).split())
        try:
            return f"<!-- value: {m.group(1)}{m.group(2)} -->{value(m.group(1), args, runs, run_dir)}<!-- /value -->"
        except KeyError as e:
            raise Error(f"value {m.group(1)}: needs {e.args[0]}=")
        except ValueError:
            raise Error(f"value {m.group(1)}: t= and digits= are numbers")
    out = VALUE.sub(sub, line)
    rest = VALUE.sub("", out)
    if "<!-- value" in rest or "<!-- /value" in rest:
        raise Error(f"malformed or unpaired value marker: {line.strip()}")
    return out


def generate_preload(name, args):
    """The preload benchmark's tables, from DIR/preload.csv (run=DIR)."""
    if name not in ("preload_time", "preload_rss"):
        raise Error(f"unknown table '{name}' (preload_time, preload_rss)")
    rd = args.pop("run", None)
    if rd is None:
        raise Error(f"table {name}: needs run=DIR (a preload benchmark's folder)")
    if args:
        raise Error(f"table {name}: unknown argument(s) {', '.join(sorted(args))}")
    rows = read_csv(os.path.join(rd, "preload.csv"), {"program", "allocator", "wall_s", "peak_rss_kib"},
                    "preload benchmark")
    progs, allocs, by = [], [], {}
    for r in rows:
        progs += [r["program"]] if r["program"] not in progs else []
        allocs += [r["allocator"]] if r["allocator"] not in allocs else []
        by.setdefault((r["program"], r["allocator"]), []).append(r)
    lines = []
    for p in progs:
        je = median(by.get((p, "jemalloc"), []), "wall_s")
        vals = []
        for a in allocs:
            rs = by.get((p, a), [])
            if name == "preload_time":
                t = median(rs, "wall_s")
                vals.append("-" if t is None else f"{t:.3f}" + (f" ({t / je:.2f})" if je else ""))
            else:
                k = median(rs, "peak_rss_kib")
                vals.append(fmt(k / 1024 if k is not None else None, 1))
        lines.append([p] + vals)
    out = table(["program"] + allocs, lines)
    out[1] = "|---" + "|---:" * len(allocs) + "|"
    return out + ["", f"*Generated by `paper/tables.py` from `{rd}/preload.csv`.*"]


def generate(name, args, cells, order, run_dir):
    try:
        threads = int(args.pop("threads"))
        min_live = float(args.pop("min_live_mib", "0"))
    except KeyError:
        raise Error(f"table {name}: needs threads=N")
    except ValueError:
        raise Error(f"table {name}: threads and min_live_mib are numbers")
    if args:
        raise Error(f"table {name}: unknown argument(s) {', '.join(sorted(args))}")
    if not any(k[2] == threads for k in cells):
        raise Error(f"table {name}: the run has no cells at {threads} thread(s)")
    if name == "throughput":
        body = t_throughput(cells, order, threads, ratio=False)
    elif name == "throughput_ratio":
        body = t_throughput(cells, order, threads, ratio=True)
    elif name == "best":
        body = t_best(cells, order, threads)
    elif name == "rss_over_live":
        body = t_rss_over_live(cells, order, threads, min_live)
    elif name == "spread":
        body = t_spread(cells, order, threads)
    elif name == "strategies":
        body = t_strategies(cells, order, threads)
    else:
        raise Error(f"unknown table '{name}' (throughput, throughput_ratio, best, rss_over_live, spread, "
                    "strategies)")
    return body + ["", f"*Generated by `paper/tables.py` from `{run_dir}/sweep.csv`.*"]


def rewrite(text, run_dir, cells, order, runs=None):
    """runs: the loaded runs by folder (run=DIR loads into it)."""
    runs = {} if runs is None else runs
    runs.setdefault(run_dir, (cells, order))
    out, lines, i, n, nv = [], text.split("\n"), 0, 0, 0
    while i < len(lines):
        m = START.match(lines[i])
        if not m:
            if lines[i].startswith("<!-- table") or lines[i] == END:
                raise Error(f"line {i + 1}: malformed or unpaired table marker: {lines[i]}")
            try:
                out.append(values(lines[i], runs, run_dir))
                nv += len(VALUE.findall(lines[i]))
            except Error as e:
                raise Error(f"line {i + 1}: {e}")
            i += 1
            continue
        out.append(lines[i])
        j = i + 1
        while j < len(lines) and lines[j] != END:
            if START.match(lines[j]) or lines[j].startswith("<!-- table"):
                raise Error(f"line {i + 1}: table marker without '{END}' before line {j + 1}")
            j += 1
        if j == len(lines):
            raise Error(f"line {i + 1}: table marker without '{END}'")
        args = dict(a.split("=", 1) for a in m.group(2).split())
        try:
            if m.group(1).startswith("preload_"):
                out += generate_preload(m.group(1), args)
            else:
                rd = args.pop("run", run_dir).rstrip("/")
                if rd not in runs:
                    runs[rd] = load(rd)
                out += generate(m.group(1), args, *runs[rd], rd)
        except Error as e:
            raise Error(f"line {i + 1}: {e}")
        out.append(END)
        n += 1
        i = j + 1
    return "\n".join(out), (n, nv)


def main(argv):
    check = argv[:1] == ["--check"]
    if check:
        argv = argv[1:]
    if len(argv) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    run_dir, docs = argv[0].rstrip("/"), argv[1:]
    try:
        cells, order = load(run_dir)
        runs = {}
        done = []
        for doc in docs:
            try:
                with open(doc) as f:
                    text = f.read()
            except OSError as e:
                raise Error(f"cannot read {doc}: {e.strerror}")
            try:
                new, n = rewrite(text, run_dir, cells, order, runs)
            except Error as e:
                raise Error(f"{doc}: {e}")
            done.append((doc, text, new, n))
    except Error as e:
        print(f"tables: error: {e}", file=sys.stderr)
        return 1
    rc = 0
    for doc, text, new, n in done:
        if check:
            if new != text:
                import difflib
                sys.stdout.writelines(difflib.unified_diff(
                    text.splitlines(True), new.splitlines(True), doc, doc + " (regenerated)"))
                print(f"tables: {doc} differs from what {run_dir}/sweep.csv gives; "
                      "run: bash paper/make_figures.sh", file=sys.stderr)
                rc = 1
            else:
                print(f"tables: {n[0]} table(s) and {n[1]} value(s) in {doc} match {run_dir}/sweep.csv")
        else:
            if new != text:
                with open(doc, "w") as f:
                    f.write(new)
            print(f"tables: {n[0]} table(s) and {n[1]} value(s) written into {doc} from {run_dir}/sweep.csv")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
