#!/usr/bin/env python3
"""Compare sweep runs: memory and throughput, cell by cell.

  experiments/sweep_compare.py memory RUN/sweep.csv
      per cell: every allocator's memory overhead (median over repeats of
      peak RSS / live bytes of the same run) and the best npool strategy's
      overhead and peak RSS against the lowest peer's (glibc, jemalloc,
      mimalloc, tcmalloc), for the cells whose live set reaches --min-live-mib
      (default 10).
  experiments/sweep_compare.py speed RUN/sweep.csv
      per cell: the best npool strategy's throughput against the best peer's,
      and every strategy's against jemalloc's (medians over repeats): the
      targets of the small-blocks issue.
  experiments/sweep_compare.py settings A/sweep.csv B/sweep.csv
      per allocator and cell present in both: peak RSS and throughput of A
      against B (medians over repeats), e.g. one npool setting against
      another (the sweep's workers read NPOOL_CONF; machine.txt names it).

Overhead, not peak RSS alone, is what compares allocators fairly: the live
set of a run depends on its speed (a faster producer fills the ring sooner,
a faster churn reaches more huge blocks), so peak RSS is shown beside it.
"""
import argparse
import collections
import csv
import statistics
import sys

PEERS = ("glibc", "jemalloc", "mimalloc", "tcmalloc")


def load(path):
    runs = collections.defaultdict(list)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            key = (r["allocator"], r["workload"], r["distribution"], int(r["threads"]))
            runs[key].append((float(r["ops_per_s"]), int(r["peak_rss_bytes"]), int(r["live_bytes"])))
    if not runs:
        sys.exit(f"{path}: no measurements")
    return runs


def median(values):
    return statistics.median(values)


def memory(args):
    runs = load(args.csv)
    cells = collections.defaultdict(dict)
    for (alloc, wl, dist, thr), rs in runs.items():
        cells[(wl, dist, thr)][alloc] = rs
    print("cell                     live MiB  overhead = peak RSS / live (median)          best npool vs lowest peer")
    met = total = 0
    for cell in sorted(cells):
        allocs = cells[cell]
        live = max(r[2] for rs in allocs.values() for r in rs)
        if live < args.min_live_mib * 2**20:
            continue
        over = {a: median([r[1] / max(1, r[2]) for r in rs]) for a, rs in allocs.items()}
        rss = {a: median([r[1] for r in rs]) for a, rs in allocs.items()}
        npool = [a for a in over if a.startswith("npool")]
        peers = [a for a in over if a in PEERS]
        if not npool or not peers:
            continue
        best = min(npool, key=lambda a: over[a])
        low = min(peers, key=lambda a: over[a])
        low_rss = min(peers, key=lambda a: rss[a])
        ratio = over[best] / over[low]
        total += 1
        met += ratio <= args.bar
        shown = " ".join(f"{a.replace('npool-', '')}={over[a]:.2f}" for a in sorted(over))
        print(f"{cell[0]:9} {cell[1]:7} {cell[2]:2}  {live / 2**20:8.1f}  {shown}  "
              f"{best.replace('npool-', '')}/{low} x{ratio:.2f} (peak RSS {rss[best] / 2**20:.0f} MiB, "
              f"lowest {low_rss} {rss[low_rss] / 2**20:.0f} MiB: x{rss[best] / rss[low_rss]:.2f})")
    print(f"best npool strategy's overhead within x{args.bar:.2f} of the lowest peer's in {met} of {total} cells")


def speed(args):
    runs = load(args.csv)
    cells = collections.defaultdict(dict)
    for (alloc, wl, dist, thr), rs in runs.items():
        cells[(wl, dist, thr)][alloc] = median([r[0] for r in rs])
    print("cell                  best npool / best peer        each npool strategy / jemalloc")
    at_par = all_above = total = 0
    for cell in sorted(cells):
        ops = cells[cell]
        npool = sorted(a for a in ops if a.startswith("npool"))
        peers = [a for a in ops if a in PEERS]
        if not npool or not peers:
            continue
        best = max(npool, key=lambda a: ops[a])
        top = max(peers, key=lambda a: ops[a])
        ratio = ops[best] / ops[top]
        total += 1
        at_par += ratio >= 1
        line = f"{cell[0]:9} {cell[1]:7} {cell[2]:2}  {best.replace('npool-', ''):5} x{ratio:.2f} {top:9}"
        if "jemalloc" in ops:
            je = {a: ops[a] / ops["jemalloc"] for a in npool}
            all_above += min(je.values()) >= 1
            line += "   " + " ".join(f"{a.replace('npool-', '')} x{je[a]:.2f}" for a in npool)
        print(line)
    print(f"best npool strategy at least the best peer in {at_par} of {total} cells; "
          f"every strategy at least jemalloc in {all_above}")


def settings(args):
    a, b = load(args.a), load(args.b)
    print("allocator    cell                 peak RSS MiB A / B (A/B)     throughput Mops/s A / B (A/B)")
    for key in sorted(set(a) & set(b)):
        ra, rb = median([r[1] for r in a[key]]), median([r[1] for r in b[key]])
        oa, ob = median([r[0] for r in a[key]]), median([r[0] for r in b[key]])
        alloc, wl, dist, thr = key
        print(f"{alloc:12} {wl:9} {dist:7} {thr:2}  {ra / 2**20:6.0f} / {rb / 2**20:6.0f} ({ra / rb:.2f})"
              f"   {oa / 1e6:7.2f} / {ob / 1e6:7.2f} ({oa / ob:.2f})")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("memory")
    m.add_argument("csv")
    m.add_argument("--min-live-mib", type=float, default=10)
    m.add_argument("--bar", type=float, default=1.1)
    v = sub.add_parser("speed")
    v.add_argument("csv")
    s = sub.add_parser("settings")
    s.add_argument("a")
    s.add_argument("b")
    args = p.parse_args()
    {"memory": memory, "speed": speed, "settings": settings}[args.cmd](args)


if __name__ == "__main__":
    main()
