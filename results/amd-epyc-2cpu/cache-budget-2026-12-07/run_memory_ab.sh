#!/bin/bash
# memory A/B: m1 (04e96fe, no budget) vs b3 (cache_max_bytes 2m), alternating rounds
for i in 1 2 3; do
  for v in m1 b4; do
    /tmp/ab/$v/sweep --workloads churn,larson,pipeline,prodcons,shortlived --dists net,mixed --threads 1,2 --repeats 1 --duration-ms 300 --no-figures --machine amd-epyc-2cpu --out /tmp/memab2/$v-$i > /tmp/memab2/$v-$i.log 2>&1
  done
done
echo done > /tmp/memab2/DONE
