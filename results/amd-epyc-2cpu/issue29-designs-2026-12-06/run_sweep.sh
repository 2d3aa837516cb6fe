#!/bin/bash
# usage: run_sweep.sh OUTDIR A B rounds [allocators]
out=$1; a=$2; b=$3; rounds=${4:-3}; al=${5:-npool-mutex,npool-ck,npool-rseq}
mkdir -p $out
for i in $(seq 1 $rounds); do
  for v in $a $b; do
    BUILD_WORKSPACE_DIRECTORY=/work/main /tmp/ab/$v/sweep --bindir /tmp/ab/$v --workloads churn,larson,burst --dists fixed64,small,invsq --threads 1,2 --repeats 1 --allocators $al --no-figures --out $out/$v-$i > $out/$v-$i.log 2>&1
  done
done
echo done > $out/DONE
