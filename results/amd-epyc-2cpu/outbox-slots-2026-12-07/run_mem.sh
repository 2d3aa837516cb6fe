for round in 1 2 3; do
  for cell in "larson net" "prodcons net" "larson mixed" "prodcons mixed" "pipeline net"; do
    set -- $cell
    for s in ck mutex; do
      for b in os8 os64r; do
        r=$(/tmp/ab/$b/workload_npool_$s --workload $1 --dist $2 --threads 2 --duration-ms 300 --pin 2>/dev/null | grep "^result")
        rss=$(echo "$r" | sed -n 's/.*peak_rss=\([0-9]*\).*/\1/p'); live=$(echo "$r" | sed -n 's/.* live=\([0-9]*\).*/\1/p')
        echo "$1 $2 $s $b $(( rss * 1000 / live ))"
      done
    done
  done
done
