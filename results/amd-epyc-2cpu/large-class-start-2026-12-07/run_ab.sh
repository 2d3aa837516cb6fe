#!/bin/bash
# memory + speed A/B: os64r (base) vs large1 (large classes start at one block)
for i in 1 2 3; do
  for v in os64r large1 start2; do
    /tmp/ab/$v/sweep --allocators npool-mutex,npool-ck,npool-rseq --workloads churn,larson,pipeline,prodcons,shortlived --dists net,mixed --threads 1,2 --repeats 1 --duration-ms 300 --no-figures --machine amd-epyc-2cpu --out /tmp/lg2/$v-$i > /tmp/lg2/$v-$i.log 2>&1
  done
done

for i in 1 2 3; do for v in os64r large1 start2; do
  /tmp/ab/$v/micro --repeats 5 --size 64 --size 1024 --size 16384 --allocators npool-mutex,npool-ck,npool-rseq,npool-mutex-malloc,npool-ck-malloc,npool-rseq-malloc > /tmp/lg2/micro-$v-$i.txt 2>&1
done; done
echo done > /tmp/lg2/DONE2
