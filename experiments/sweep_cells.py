"""A sweep run's CSV as cells, and the comparisons that both the paper's tables
(paper/tables.py) and a run's page (experiments/run_page.py) make of them.

    cells, order = load(RUN_DIR)     cells[(workload, dist, threads)][allocator]
                                     = that cell's rows (dicts), order = the
                                     workloads, distributions and allocators in
                                     their order of first appearance
    best_vs_peer(cells[key])         the best npool strategy against the best
                                     peer in one cell (None: one side missing)

Numbers are medians over the repeats that ran (empty or 0 ops_per_s: failed).
"""
import csv
import os
import statistics

NPOOL = ("npool-mutex", "npool-ck", "npool-rseq")
PEERS = ("glibc", "jemalloc", "mimalloc", "tcmalloc")


class Error(Exception):
    pass


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def read_csv(path, need, what):
    """The rows of a CSV that has at least the columns need (Error if not)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise Error(f"cannot read {path}: {e.strerror}")
    if not rows or not need <= set(rows[0]):
        raise Error(f"{path}: not a {what} CSV (needs columns {', '.join(sorted(need))})")
    return rows


def load(run_dir):
    rows = read_csv(os.path.join(run_dir, "sweep.csv"),
                    {"allocator", "workload", "distribution", "threads", "ops_per_s",
                     "peak_rss_bytes", "live_bytes"}, "sweep")
    cells, order = {}, {"w": [], "d": [], "a": []}
    for r in rows:
        for k, col in (("w", "workload"), ("d", "distribution"), ("a", "allocator")):
            if r[col] not in order[k]:
                order[k].append(r[col])
        key = (r["workload"], r["distribution"], int(r["threads"]))
        cells.setdefault(key, {}).setdefault(r["allocator"], []).append(r)
    return cells, order


def ok_values(rows, col):
    return [v for v in (num(r[col]) for r in rows) if v is not None and v > 0]


def median(rows, col):
    v = ok_values(rows, col)
    return statistics.median(v) if v else None


def cell_keys(cells, order, threads):
    for w in order["w"]:
        for d in order["d"]:
            if (w, d, threads) in cells:
                yield w, d


def ranges_overlap(a_rows, b_rows):
    """Whether two allocators' ops/s ranges (min..max over the repeats that
    ran) overlap: a difference within the repeats' spread."""
    va, vb = ok_values(a_rows, "ops_per_s"), ok_values(b_rows, "ops_per_s")
    return min(va) <= max(vb) and min(vb) <= max(va)


class Best:
    """npool's best strategy and the best peer in one cell: medians of ops/s,
    their ratio, and the verdict: 'within spread' when the two repeats' ranges
    (min..max) overlap, else 'ahead' or 'behind'."""

    def __init__(self, npool, npool_ops, peer, peer_ops, verdict):
        self.npool, self.npool_ops, self.peer, self.peer_ops = npool, npool_ops, peer, peer_ops
        self.ratio = npool_ops / peer_ops
        self.verdict = verdict


def best_vs_peer(cell):
    def best(names):
        m = [(median(cell[a], "ops_per_s"), a) for a in names if a in cell]
        m = [x for x in m if x[0] is not None]
        return max(m) if m else (None, None)
    mn, an = best(NPOOL)
    mp, ap = best(PEERS)
    if mn is None or mp is None:
        return None
    return Best(an, mn, ap, mp,
                "within spread" if ranges_overlap(cell[an], cell[ap]) else ("ahead" if mn > mp else "behind"))
