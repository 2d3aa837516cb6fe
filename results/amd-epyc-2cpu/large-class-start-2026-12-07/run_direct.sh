for i in 1 2 3 4 5; do for v in os64r large1 large2; do for s in mutex ck; do
  for cell in "larson net" "prodcons net" "pipeline net"; do set -- $cell
  r=$(/tmp/ab/$v/workload_npool_$s --workload $1 --dist $2 --threads 2 --duration-ms 300 --pin 2>/dev/null | sed -n 's/^result ops=\([0-9]*\).*/\1/p')
  echo "$1 $2 $s $v $r"; done; done; done; done
