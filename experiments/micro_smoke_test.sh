#!/usr/bin/env bash
# The micro benchmark runs every allocator (each worker checks it measures
# what it claims) and prints both tables with a number in every cell.
set -euo pipefail
micro=$1
out=$("$micro" --pairs 2000 --repeats 1 --size 64 --size 65536 2>/dev/null)
echo "$out"
fail=0
for table in immediate batched; do
  rows=$(echo "$out" | awk -v t="$table" '$1 == t {on = 1; next} on && /^$/ {on = 0} on && $1 ~ /^[0-9]+$/')
  n=$(echo "$rows" | grep -c . || true)
  if [ "$n" -ne 2 ]; then
    echo "FAIL: $table table has $n size rows, expected 2"
    fail=1
  fi
  # size, unit, 10 allocators, 3 ratios
  bad=$(echo "$rows" | awk 'NF != 15' | grep -c . || true)
  if [ "$bad" -ne 0 ]; then
    echo "FAIL: $table rows without a value for every allocator"
    fail=1
  fi
done
for a in npool-mutex npool-ck npool-rseq npool-mutex-malloc glibc jemalloc mimalloc tcmalloc; do
  echo "$out" | grep -q "^# $a " || { echo "FAIL: no identity line for $a"; fail=1; }
done
[ "$fail" -eq 0 ] && echo "ok: micro ran every allocator"
exit "$fail"
