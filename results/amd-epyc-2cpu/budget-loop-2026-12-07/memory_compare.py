#!/usr/bin/env python3
"""Memory A/B of two builds' sweeps (alternating rounds): per cell, peak RSS / peak
live bytes and throughput, medians over rounds, before -> after, and the lowest
peer's RSS/live in the same runs; npool's breakdown (MiB) at the peak, after.
usage: compare.py BEFORE_GLOB AFTER_GLOB  (each a glob of sweep.csv files)"""
import csv, glob, statistics, sys
def load(pattern):
    rows = {}
    for f in sorted(glob.glob(pattern)):
        for r in csv.DictReader(open(f)):
            if not r["ops_per_s"] or float(r["ops_per_s"]) <= 0: continue
            k = (r["workload"], r["distribution"], int(r["threads"]), r["allocator"])
            rows.setdefault(k, []).append(r)
    return rows
before, after = load(sys.argv[1]), load(sys.argv[2])
med = statistics.median
def rol(rs): return med(int(r["peak_rss_bytes"]) / max(1, int(r["live_bytes"])) for r in rs)
def ops(rs): return med(float(r["ops_per_s"]) for r in rs)
cells = sorted({k[:3] for k in after})
peers = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]
print("cell                          live MiB | RSS/live before -> after (mutex ck rseq) | lowest peer | peak RSS MiB before -> after (mutex ck rseq) | ops after/before (mutex ck rseq)")
for c in cells:
    live = med(int(r["live_bytes"]) for a in ("npool-mutex",) for r in after.get(c + (a,), [])) / 2**20 if c + ("npool-mutex",) in after else 0
    parts, sp, rp = [], [], []
    for a in ("npool-mutex", "npool-ck", "npool-rseq"):
        b, n = before.get(c + (a,)), after.get(c + (a,))
        if b and n:
            parts.append(f"{rol(b):.2f}->{rol(n):.2f}")
            sp.append(f"{ops(n) / ops(b):.2f}")
            rp.append(f"{med(int(r['peak_rss_bytes']) for r in b) / 2**20:.0f}->{med(int(r['peak_rss_bytes']) for r in n) / 2**20:.0f}")
    lp = [(rol(after[c + (p,)] + before.get(c + (p,), [])), p) for p in peers if c + (p,) in after]
    low = min(lp) if lp else (0, "-")
    print(f"{c[0]:10s} {c[1]:6s} {c[2]} thr  {live:7.1f} | {' '.join(parts):40s} | {low[1]:8s} {low[0]:.2f} | {' '.join(rp):24s} | {' '.join(sp)}")
print()
print("breakdown at the peak, after (MiB, mean over rounds): active, thread caches, remote, CPU caches, transfer, subpage free, free pages resident, retained, metadata; RSS")
cols = ["np_active_bytes", "np_thread_cache_bytes", "np_remote_bytes", "np_cpu_cache_bytes", "np_transfer_bytes",
        "np_subpage_free_bytes", "np_pages_resident_bytes", "np_retained_bytes", "np_metadata_bytes", "peak_rss_bytes"]
for c in cells:
    for a in ("npool-mutex", "npool-ck", "npool-rseq"):
        rs = after.get(c + (a,))
        if not rs or not rs[0].get("np_active_bytes"): continue
        v = [statistics.mean(int(r[k]) for r in rs) / 2**20 for k in cols]
        print(f"{c[0]:10s} {c[1]:6s} {c[2]} {a:12s} " + " ".join(f"{x:6.1f}" for x in v))
