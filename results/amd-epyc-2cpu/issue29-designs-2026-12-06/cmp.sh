#!/bin/bash
# usage: cmp.sh DIR A B : pools each side's rounds, prints B/A per npool cell and the medians
d=$1; a=$2; b=$3
for v in $a $b; do head -1 $(ls $d/$v-*/sweep.csv | head -1) > $d/$v-pooled.csv; for f in $d/$v-*/sweep.csv; do tail -n +2 $f >> $d/$v-pooled.csv; done; done
python3 /work/main/experiments/sweep_compare.py settings $d/$b-pooled.csv $d/$a-pooled.csv > $d/$b-vs-$a.txt
python3 - $d/$b-vs-$a.txt <<'PY'
import re,statistics,sys
rows=[l for l in open(sys.argv[1]) if l.startswith('npool')]
def r(l): return float(re.search(r'\((\d+\.\d+)\)\s*$',l).group(1))
allr=[r(l) for l in rows]
nol=[r(l) for l in rows if not (' larson ' in l and re.search(r'\s2\s+\d',l))]
print('all', len(allr), 'median %.3f'%statistics.median(allr), 'min', min(allr), 'max', max(allr))
print('without larson 2thr', len(nol), 'median %.3f'%statistics.median(nol))
for s in ('mutex','ck','rseq'):
    x=[r(l) for l in rows if l.startswith('npool-'+s+' ')]
    print(s, 'median %.3f'%statistics.median(x))
PY
