#!/usr/bin/env bash
# Smoke test of //experiments:mt_bench: a --quick run over every allocator.
#   mt_bench_smoke_test.sh MT_BENCH ALLOCATOR... [--no-tsan ALLOCATOR...]
# MT_BENCH is the driver; the allocators are those it must report; those after
# --no-tsan are left out when the build is a ThreadSanitizer one.
# Passes when the driver exits 0, prints the full table (14 cells: churn at 1,
# 2, 4, 8 threads and prodcons at 2, 4, 8, each with 64 B and mixed sizes) and
# reports each expected allocator with all 14 cells measured and no failed run;
# and when an npool worker is made to leak one block (--leak-one), its
# end-of-run check (zero active bytes after all threads joined) must fail it
# with exit status 3.
set -uo pipefail

bench=$1
shift
allocs=()
no_tsan=()
while [ "$#" -gt 0 ]; do
  if [ "$1" = "--no-tsan" ]; then
    shift
    no_tsan=("$@")
    break
  fi
  allocs+=("$1")
  shift
done
[ "${#allocs[@]}" -gt 0 ] || { echo "FAIL: no allocators given"; exit 1; }

info=$("$bench" --build-info) || { echo "FAIL: $bench --build-info"; exit 1; }
echo "build: $info"
if [[ "$info" == *sanitizer=thread* ]]; then
  kept=()
  for a in "${allocs[@]}"; do
    skip=0
    for n in "${no_tsan[@]}"; do [ "$a" = "$n" ] && skip=1; done
    if [ "$skip" -eq 1 ]; then echo "skipped under ThreadSanitizer: $a"; else kept+=("$a"); fi
  done
  allocs=("${kept[@]}")
fi
list=$(IFS=,; echo "${allocs[*]}")
cells=14

out=$("$bench" --quick --allocators "$list" 2>&1)
rc=$?
echo "$out"
echo "--- mt_bench exit status: $rc"
fail=0
if [ "$rc" -ne 0 ]; then
  echo "FAIL: mt_bench exited $rc"
  fail=1
fi
for a in "${allocs[@]}"; do
  if ! grep -qxF "allocator $a: $cells cells, $cells runs, 0 failed" <<<"$out"; then
    echo "FAIL: no line 'allocator $a: $cells cells, $cells runs, 0 failed'"
    fail=1
  fi
done
rows=$(grep -cE '^(churn|prodcons) +(64|mixed) +[0-9]+[* ] ' <<<"$out")
if [ "$rows" -ne "$cells" ]; then
  echo "FAIL: $rows table rows, expected $cells"
  fail=1
fi
if grep -qE '^(churn|prodcons) .*FAIL' <<<"$out"; then
  echo "FAIL: a table cell failed"
  fail=1
fi

# The correctness guard must catch a leaked block.
for a in "${allocs[@]}"; do
  case "$a" in npool-*) ;; *) continue ;; esac
  worker="$(dirname "$bench")/mt_bench_${a//-/_}"
  "$worker" --workload churn --dist 64 --threads 2 --duration-ms 5 --warmup-ms 0 --leak-one \
    >/dev/null 2>&1
  grc=$?
  if [ "$grc" -ne 3 ]; then
    echo "FAIL: $worker --leak-one exited $grc, expected 3 (correctness guard)"
    fail=1
  else
    echo "ok: $a --leak-one is caught by the correctness guard (exit 3)"
  fi
done
[ "$fail" -eq 0 ] && echo "PASS"
exit "$fail"
