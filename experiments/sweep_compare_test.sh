#!/usr/bin/env bash
# Test of experiments/sweep_compare.py on synthetic sweep CSVs.
#   sweep_compare_test.sh SWEEP_COMPARE_PY
# memory: the overhead (peak RSS / live, median of repeats) per allocator,
# the best npool strategy against the lowest peer, cells under the live
# threshold left out, the count of cells within the bar; settings: A against
# B per allocator and cell; an empty CSV and a missing file fail.
set -uo pipefail
[ "$#" -eq 1 ] || { echo "usage: $0 SWEEP_COMPARE_PY"; exit 2; }
CMP=$1
T=${TEST_TMPDIR:-$(mktemp -d)}/sweep_compare_test
rm -rf "$T"; mkdir -p "$T"
fails=0
check() { local what=$1; shift; if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi; }
H="machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,lat_p50_ns,lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes"
M=$((1 << 20))
{
  echo "$H"
  # churn net 1: live 100 MiB. npool-mutex overheads 1.5, 1.2, 1.3 (median 1.3);
  # npool-rseq 1.4; glibc 1.2 and 1.0, 1.1 (median 1.1); jemalloc 1.25.
  for r in "1 150" "2 120" "3 130"; do set -- $r; echo "m,npool-mutex,mutex,churn,net,1,$1,1000,1,1,1,$(( $2 * M )),$(( 100 * M ))"; done
  echo "m,npool-rseq,rseq,churn,net,1,1,1000,1,1,1,$(( 140 * M )),$(( 100 * M ))"
  for r in "1 120" "2 100" "3 110"; do set -- $r; echo "m,glibc,-,churn,net,1,$1,500,1,1,1,$(( $2 * M )),$(( 100 * M ))"; done
  echo "m,jemalloc,-,churn,net,1,1,700,1,1,1,$(( 125 * M )),$(( 100 * M ))"
  # churn small 1: live 1 MiB, under the threshold.
  echo "m,npool-mutex,mutex,churn,small,1,1,9000,1,1,1,$(( 5 * M )),$M"
  echo "m,glibc,-,churn,small,1,1,9000,1,1,1,$(( 2 * M )),$M"
} > "$T/a.csv"
out=$(python3 "$CMP" memory "$T/a.csv"); rc=$?
echo "$out"
check "memory exits 0" test $rc -eq 0
check "mutex overhead is the median 1.30" grep -q "mutex=1.30" <<<"$out"
check "glibc overhead is the median 1.10" grep -q "glibc=1.10" <<<"$out"
check "best npool (mutex 1.30) against the lowest peer (glibc 1.10): x1.18" grep -q "mutex/glibc x1.18" <<<"$out"
check "the small cell (1 MiB live) is left out" bash -c "! grep -q 'small' <<<\"\$0\"" "$out"
check "0 of 1 cells within the bar" grep -q "in 0 of 1 cells" <<<"$out"
out=$(python3 "$CMP" memory --bar 1.2 "$T/a.csv")
check "--bar 1.2: 1 of 1" grep -q "in 1 of 1 cells" <<<"$out"
sed 's/npool-mutex,mutex,churn,net,1,\([0-9]\),1000/npool-mutex,mutex,churn,net,1,\1,2000/' "$T/a.csv" > "$T/b.csv"
out=$(python3 "$CMP" settings "$T/a.csv" "$T/b.csv"); rc=$?
echo "$out"
check "settings exits 0" test $rc -eq 0
check "A's mutex throughput is half of B's" grep -Eq "npool-mutex +churn +net +1 .*\(0\.50\)$" <<<"$out"
check "same RSS: ratio 1.00" grep -Eq "npool-mutex +churn +net +1 +130 / +130 \(1\.00\)" <<<"$out"
# speed, on a.csv: churn net 1: npool-mutex 1000 and rseq 1000 against the best
# peer, jemalloc 700 (x1.43), each at x1.43 of jemalloc; churn small 1:
# mutex 9000 against glibc 9000 (x1.00), no jemalloc.
out=$(python3 "$CMP" speed "$T/a.csv"); rc=$?
echo "$out"
check "speed exits 0" test $rc -eq 0
check "best npool against the best peer: x1.43 jemalloc" grep -Eq "^churn +net +1 +(mutex|rseq) +x1\.43 jemalloc" <<<"$out"
check "each strategy against jemalloc" grep -q "mutex x1.43 rseq x1.43" <<<"$out"
check "at par in 2 of 2 cells, all above jemalloc in 1" grep -q "in 2 of 2 cells; every strategy at least jemalloc in 1" <<<"$out"
echo "$H" > "$T/empty.csv"
check "a CSV without rows fails" bash -c "! python3 '$CMP' memory '$T/empty.csv' 2>/dev/null"
check "a missing file fails" bash -c "! python3 '$CMP' memory '$T/none.csv' 2>/dev/null"
echo "$fails failed"
[ "$fails" -eq 0 ]
