#!/bin/bash
# Alternates builds (/tmp/ab/<build>/ copies of bazel-bin/experiments); prints
# "workload dist strategy build ops" per run. ROUNDS (default 4) and CELLS
# ("workload dist" pairs, default the nine below) may be set.
#   run_ab.sh base lanes4                                         (run1.txt, run2.txt)
#   ROUNDS=6 CELLS="larson fixed64,xmalloc fixed64,pipeline fixed64,prodcons fixed64" \
#     run_ab.sh base pfw                                          (run3.txt)
builds="$*"
IFS=, read -r -a cells <<<"${CELLS:-larson fixed64,larson small,prodcons small,prodcons fixed64,xmalloc fixed64,pipeline fixed64,pipeline small,larson net,prodcons net}"
for round in $(seq "${ROUNDS:-4}"); do
  for cell in "${cells[@]}"; do
    set -- $cell
    for s in ck mutex; do
      for b in $builds; do
        ops=$(/tmp/ab/$b/workload_npool_$s --workload $1 --dist $2 --threads 2 --duration-ms 300 --pin 2>/dev/null | sed -n 's/^result ops=\([0-9]*\).*/\1/p')
        echo "$1 $2 $s $b $ops"
      done
    done
  done
done
