import csv,statistics,sys
med=statistics.median
rows=list(csv.DictReader(open(sys.argv[1])))
cells={}
for r in rows:
    if not r['ops_per_s'] or float(r['ops_per_s'])<=0: continue
    cells.setdefault((r['workload'],r['distribution'],int(r['threads'])),{}).setdefault(r['allocator'],[]).append(r)
npools=['npool-mutex','npool-ck','npool-rseq']; peers=['glibc','jemalloc','mimalloc','tcmalloc']
print('cell | live MiB | RSS/live mutex ck rseq | glibc jemalloc mimalloc tcmalloc | best npool/lowest peer | worst npool/lowest | rseq/mutex peak RSS')
for c in sorted(cells):
    a=cells[c]
    rol={k:med(int(r['peak_rss_bytes'])/max(1,int(r['live_bytes'])) for r in v) for k,v in a.items()}
    rss={k:med(int(r['peak_rss_bytes']) for r in v) for k,v in a.items()}
    live=med(int(r['live_bytes']) for r in a.get('npool-mutex',[]))/2**20
    if live<4: continue
    lp=min((rol[p],p) for p in peers if p in rol)
    bn=min(rol[n] for n in npools); wn=max(rol[n] for n in npools)
    print(f"{c[0]:9s} {c[1]:5s} {c[2]} | {live:6.1f} | {' '.join('%.2f'%rol[n] for n in npools)} | {' '.join('%.2f'%rol.get(p,0) for p in peers)} | {bn/lp[0]:.2f} ({lp[1]}) | {wn/lp[0]:.2f} | {rss['npool-rseq']/rss['npool-mutex']:.2f}")
