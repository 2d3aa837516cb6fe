for round in 1 2 3; do
  for cell in "larson small" "larson fixed64" "prodcons small" "prodcons fixed64" "xmalloc fixed64" "larson net" "prodcons net" "pipeline small" "pipeline fixed64"; do
    set -- $cell
    for a in npool_ck npool_mutex npool_rseq mimalloc tcmalloc jemalloc; do
      ops=$(/tmp/ab/os64r/workload_$a --workload $1 --dist $2 --threads 2 --duration-ms 300 --pin 2>/dev/null | sed -n 's/^result ops=\([0-9]*\).*/\1/p')
      echo "$1 $2 x $a $ops"
    done
  done
done
