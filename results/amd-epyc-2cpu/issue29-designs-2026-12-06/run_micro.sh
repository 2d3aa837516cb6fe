#!/bin/bash
# usage: run_micro.sh OUTDIR A B rounds
out=$1; a=$2; b=$3; rounds=${4:-2}
mkdir -p $out
AL=npool-mutex,npool-ck,npool-rseq,npool-mutex-malloc,npool-ck-malloc,npool-rseq-malloc
for i in $(seq 1 $rounds); do
  for v in $a $b; do
    /tmp/ab/$v/micro --repeats 5 --size 64 --size 1024 --size 16384 --allocators $AL > $out/$v-$i.txt 2>&1
  done
done
echo done > $out/DONE
