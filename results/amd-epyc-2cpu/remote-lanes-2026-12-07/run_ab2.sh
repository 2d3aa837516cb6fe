#!/bin/bash
# alternate builds; print cell strategy build ops
builds="$*"
for round in 1 2 3 4 5 6; do
  for cell in "larson fixed64" "xmalloc fixed64" "pipeline fixed64" "prodcons fixed64"; do
    set -- $cell
    for s in ck mutex; do
      for b in $builds; do
        ops=$(/tmp/ab/$b/workload_npool_$s --workload $1 --dist $2 --threads 2 --duration-ms 300 --pin 2>/dev/null | sed -n 's/^result ops=\([0-9]*\).*/\1/p')
        echo "$1 $2 $s $b $ops"
      done
    done
  done
done
