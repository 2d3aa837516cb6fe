import sys,statistics,collections
d=collections.defaultdict(list)
builds=[]
for f in sys.argv[1:]:
  for l in open(f):
    p=l.split()
    if len(p)==5 and p[4].isdigit():
      d[(p[0],p[1],p[2],p[3])].append(int(p[4]))
      if p[3] not in builds: builds.append(p[3])
cells=[]
for k in d:
  c=k[:3]
  if c not in cells: cells.append(c)
base=builds[0]
print("%-22s %-6s"%("cell","strat")+"".join("%12s"%b for b in builds)+"".join("%10s"%(b+"/"+base) for b in builds[1:]))
for c in cells:
  m=[statistics.median(d[c+(b,)]) if d.get(c+(b,)) else None for b in builds]
  print("%-22s %-6s"%(c[0]+" "+c[1],c[2])+"".join("%12.0f"%x for x in m)+"".join("%10.2f"%(x/m[0]) for x in m[1:]))
