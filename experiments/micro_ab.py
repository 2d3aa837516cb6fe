#!/usr/bin/env python3
"""Compare micro benchmark runs (//experiments:micro outputs), npool's columns.

  experiments/micro_ab.py [--min] 'BEFORE*.txt' 'AFTER*.txt'

Each glob names one or more saved outputs of `micro` (the same sizes and npool
allocators in every file; run the two builds or settings alternately). Per
mode, size and npool allocator: the median over the files of each side, and
after/before; last, the median and geometric mean of all the ratios. --min
takes the least over the files instead of the median: on a shared host whose
neighbours now and then slow every run down by a third, interference only
ever adds time, so the least is the better estimate.
"""
import glob
import math
import re
import statistics
import sys

def parse(path):
    cells = {}
    mode = None
    cols = None
    for line in open(path):
        line = line.rstrip('\n')
        if line in ('immediate', 'batched'):
            mode = line; cols = None; continue
        if mode and line.strip().startswith('size '):
            cols = line.split()[1:]; continue
        if mode and cols and re.match(r'\s+\d+ (B|KiB|MiB)', line):
            parts = line.split()
            size = parts[0] + ' ' + parts[1]
            for c, v in zip(cols, parts[2:]):
                if c.startswith('npool'):
                    cells[(mode, size, c)] = float(v)
        elif mode and cols and not line.strip():
            mode = None
    return cells
args = sys.argv[1:]
pick = statistics.median
if args and args[0] == '--min':
    pick = min
    args = args[1:]
before = [parse(p) for p in sorted(glob.glob(args[0]))]
after = [parse(p) for p in sorted(glob.glob(args[1]))]
keys = list(before[0].keys())
ratios = []
out = []
for mode in ('immediate', 'batched'):
    out.append('\n' + mode)
    cols = sorted({k[2] for k in keys}, key=lambda c: ['npool-mutex','npool-ck','npool-rseq','npool-mutex-malloc','npool-ck-malloc','npool-rseq-malloc'].index(c))
    out.append('size      ' + ''.join('%22s' % c for c in cols))
    sizes = []
    for k in keys:
        if k[0] == mode and k[1] not in sizes: sizes.append(k[1])
    for s in sizes:
        row = '%-10s' % s
        for c in cols:
            b = pick(r[(mode, s, c)] for r in before)
            a = pick(r[(mode, s, c)] for r in after)
            ratios.append(a / b)
            row += '%22s' % ('%.1f/%.1f=%.2f' % (a, b, a / b))
        out.append(row)
gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
out.append('\nafter/before over all %d cells: median %.3f, geometric mean %.3f, min %.2f, max %.2f' % (len(ratios), statistics.median(ratios), gm, min(ratios), max(ratios)))
print('\n'.join(out))
