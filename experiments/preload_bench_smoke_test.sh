#!/usr/bin/env bash
# A tiny preload benchmark (one repeat: sort, perl and the producer-consumer program) into a temporary folder:
# every allocator runs, each run's output equals glibc's (the benchmark checks
# that and exits non-zero otherwise), and the CSV has a row per run.
# Usage: preload_bench_smoke_test.sh PRELOAD_BENCH_SH
set -euo pipefail
out=${TEST_TMPDIR:-$(mktemp -d)}/preload
"$1" --quick --programs sort,perl,prodcons --out "$out" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
cat "$out.log"
header=$(head -n 1 "$out/preload.csv")
[ "$header" = "machine,program,allocator,repeat,wall_s,peak_rss_kib" ] || { echo "bad header: $header"; exit 1; }
for prog in sort perl prodcons; do
  for alloc in glibc npool-mutex npool-ck npool-rseq jemalloc mimalloc tcmalloc; do
    n=$(awk -F, -v p="$prog" -v a="$alloc" '$2 == p && $3 == a && $5 > 0 && $6 > 0' "$out/preload.csv" | wc -l)
    [ "$n" -eq 1 ] || { echo "expected 1 row for $prog/$alloc, found $n"; exit 1; }
  done
done
# The program's own peak RSS, not the benchmark's Python's (which a child
# forked straight from it would count): prodcons holds at most 1024 blocks.
awk -F, '$2 == "prodcons" && $3 == "glibc" && $6 >= 8192 { print "prodcons peak RSS " $6 " KiB: the Python parent'"'"'s?"; bad = 1 } END { exit bad }' "$out/preload.csv"
grep -q '^# npool-mutex: .*libnpool_malloc_mutex.so' "$out/machine.txt" || { echo "machine.txt lacks npool"; exit 1; }
grep -q "^# commit:  " "$out/machine.txt" || { echo "machine.txt lacks the commit line"; exit 1; }
echo "preload_bench smoke: ok"
