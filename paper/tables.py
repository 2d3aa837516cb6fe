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
"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments"))
from sweep_cells import NPOOL, PEERS, Error, best_vs_peer, cell_keys, load, median, ok_values  # noqa: E402

START = re.compile(r"^<!-- table: ([a-z_]+)((?: [a-z_]+=[^ ]+)*) -->$")
END = "<!-- end table -->"


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
    else:
        raise Error(f"unknown table '{name}' (throughput, throughput_ratio, best, rss_over_live, spread)")
    return body + ["", f"*Generated by `paper/tables.py` from `{run_dir}/sweep.csv`.*"]


def rewrite(text, run_dir, cells, order, runs=None):
    """runs: the loaded runs by folder (run=DIR loads into it)."""
    runs = {} if runs is None else runs
    runs.setdefault(run_dir, (cells, order))
    out, lines, i, n = [], text.split("\n"), 0, 0
    while i < len(lines):
        out.append(lines[i])
        m = START.match(lines[i])
        if not m:
            if lines[i].startswith("<!-- table") or lines[i] == END:
                raise Error(f"line {i + 1}: malformed or unpaired table marker: {lines[i]}")
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j] != END:
            if START.match(lines[j]) or lines[j].startswith("<!-- table"):
                raise Error(f"line {i + 1}: table marker without '{END}' before line {j + 1}")
            j += 1
        if j == len(lines):
            raise Error(f"line {i + 1}: table marker without '{END}'")
        args = dict(a.split("=", 1) for a in m.group(2).split())
        try:
            rd = args.pop("run", run_dir).rstrip("/")
            if rd not in runs:
                runs[rd] = load(rd)
            out += generate(m.group(1), args, *runs[rd], rd)
        except Error as e:
            raise Error(f"line {i + 1}: {e}")
        out.append(END)
        n += 1
        i = j + 1
    return "\n".join(out), n


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
                print(f"tables: {n} table(s) in {doc} match {run_dir}/sweep.csv")
        else:
            if new != text:
                with open(doc, "w") as f:
                    f.write(new)
            print(f"tables: {n} table(s) written into {doc} from {run_dir}/sweep.csv")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
