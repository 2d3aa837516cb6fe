#!/bin/bash
for i in 1 2 3; do
  for v in base tail; do
    /tmp/ab/$v/sweep --workloads churn,larson,pipeline,prodcons --dists mixed,large --threads 1,2 --repeats 1 --duration-ms 300 --allocators npool-mutex,npool-ck,npool-rseq,glibc,jemalloc --no-figures --machine intel-r-xeon-r-processor-2cpu --out /tmp/memtail/$v-$i > /tmp/memtail/$v-$i.log 2>&1
  done
done
echo done > /tmp/memtail/DONE
