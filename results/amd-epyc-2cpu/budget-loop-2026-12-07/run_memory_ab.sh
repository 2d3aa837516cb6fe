#!/bin/bash
for i in 1 2 3; do
  for v in base2 budgetloop; do
    /tmp/ab/$v/sweep --workloads churn,larson,pipeline,prodcons,shortlived --dists net,mixed --threads 1,2 --repeats 1 --duration-ms 300 --allocators npool-mutex,npool-ck,npool-rseq,glibc,jemalloc --no-figures --machine amd-epyc-2cpu --out /tmp/memab3/$v-$i > /tmp/memab3/$v-$i.log 2>&1
  done
done
echo done > /tmp/memab3/DONE
