#!/usr/bin/env bash
# Test of experiments/plot.sh on a synthetic sweep CSV.
#   plot_test.sh PLOT_SH
# Generates (awk) a CSV of 2 workloads (churn at 1, 2, 4 threads; prodcons at
# 2 and 4 only) x 2 distributions x 3 allocators (npool-rseq, glibc, jemalloc)
# x 2 repeats, with one failed run (empty ops_per_s), and checks that plot.sh
# exits 0, writes every figure as non-empty SVG (titled with the workload) and
# PNG, and a summary.csv with one row per cell, jemalloc's ratio 1 and the
# failed run skipped and warned about. Then: a CSV without jemalloc and with a
# distribution missing for one workload still plots; a wrong header, an empty
# file, a header-only file, missing arguments and a missing gnuplot exit
# non-zero with the expected message. Works in $TEST_TMPDIR (or a mktemp dir).
set -uo pipefail

[ "$#" -eq 1 ] || { echo "usage: $0 PLOT_SH"; exit 2; }
PLOT=$1
if [ -n "${TEST_TMPDIR:-}" ]; then
  T=$TEST_TMPDIR/plot_test
  rm -rf "$T"; mkdir -p "$T"
else
  T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fi

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

HEADER="machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,lat_p50_ns,lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes"

# gen_csv WORKLOADS DISTS ALLOCS: synthetic rows. ops = (4 - allocator index)
# Mops/s x threads / distribution index, x1.5 on repeat 2, so jemalloc (third)
# gets ratio 1; churn/mixed/glibc/4 threads/repeat 2 failed (empty ops_per_s).
# prodcons runs at even thread counts only.
gen_csv() {
  awk -v ws="$1" -v ds="$2" -v as="$3" -v header="$HEADER" 'BEGIN {
    OFS = ","; print header
    nw = split(ws, W, " "); nd = split(ds, D, " "); na = split(as, A, " ")
    for (wi = 1; wi <= nw; wi++) for (di = 1; di <= nd; di++) for (ai = 1; ai <= na; ai++)
      for (t = 1; t <= 4; t *= 2) for (r = 1; r <= 2; r++) {
        if (W[wi] == "prodcons" && t % 2) continue
        ops = (4 - ai) * 1e6 * t * (r == 1 ? 1 : 1.5) / di
        st = (A[ai] ~ /^npool-/) ? substr(A[ai], 7) : "-"
        if (W[wi] == "churn" && D[di] == "mixed" && A[ai] == "glibc" && t == 4 && r == 2) ops = ""
        print "testbox", A[ai], st, W[wi], D[di], t, r, ops, 20 * ai, 200 * ai + r,
              3000 * ai, 1048576 * (10 + ai) * t, 1048576 * 8 * t
      }
  }'
}

# ---- main case ------------------------------------------------------------
gen_csv "churn prodcons" "fixed64 mixed" "npool-rseq glibc jemalloc" > "$T/sweep.csv"
OUT=$T/out
bash "$PLOT" "$T/sweep.csv" "$OUT" > "$T/stdout" 2> "$T/stderr"
rc=$?
check "plot.sh exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || { echo "--- stderr:"; cat "$T/stderr"; }

for w in churn prodcons; do
  for fig in throughput relative latency memory rss_over_live; do
    svg=$OUT/${fig}_$w.svg png=$OUT/${fig}_$w.png
    check "$fig: $w.svg exists, non-empty" [ -s "$svg" ]
    check "$fig: $w.png exists, non-empty" [ -s "$png" ]
    check "$fig: $w.svg starts with <?xml or <svg" \
      bash -c 'head -c 5 "$1" | grep -q -e "^<?xml" -e "^<svg"' _ "$svg"
    check "$fig: $w.svg titled with the workload" \
      bash -c 'grep -q "<title>$2</title>" "$1" && grep -q ">$3: " "$1"' _ "$svg" "${fig}_$w" "$w"
    check "$fig: $w.png has the PNG magic" \
      bash -c '[ "$(head -c 8 "$1" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]' _ "$png"
    check "$fig: $w listed on stdout" grep -qx "$OUT/${fig}_$w.svg" "$T/stdout"
  done
done
check "summary.csv listed on stdout" grep -qx "$OUT/summary.csv" "$T/stdout"

S=$OUT/summary.csv
# churn: 2 dists x 3 threads x 3 allocs = 18; prodcons: 2 x 2 x 3 = 12.
rows=$(awk 'END { print NR - 1 }' "$S" 2>/dev/null)
check "summary.csv has 30 rows (got ${rows:-none})" [ "${rows:-0}" -eq 30 ]
col() { awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) { print i; exit } }' "$S"; }
c_alloc=$(col allocator) c_ratio=$(col ratio_to_jemalloc) c_nok=$(col n_ok)
c_med=$(col ops_per_s_median) c_min=$(col ops_per_s_min) c_max=$(col ops_per_s_max)
check "summary.csv has the columns allocator, ratio_to_jemalloc, n_ok, ops_per_s_{median,min,max}" \
  [ -n "$c_alloc" ] && [ -n "$c_ratio" ] && [ -n "$c_nok" ] && [ -n "$c_med" ] && [ -n "$c_min" ] && [ -n "$c_max" ]
check "jemalloc rows (10) have ratio_to_jemalloc 1" \
  awk -F, -v a="$c_alloc" -v r="$c_ratio" 'NR > 1 && $a == "jemalloc" { n++; if ($r + 0 != 1 || $r == "") bad++ }
    END { exit !(n == 10 && bad == 0) }' "$S"
check "npool-rseq ratio 3, glibc ratio 2 (where both runs ok)" \
  awk -F, -v a="$c_alloc" -v r="$c_ratio" -v k="$c_nok" 'NR > 1 && $k == 2 {
    if ($a == "npool-rseq" && $r + 0 != 3) bad++; if ($a == "glibc" && $r + 0 != 2) bad++ }
    END { exit bad > 0 }' "$S"
check "churn/fixed64/1/jemalloc: median 1.25e6, min 1e6, max 1.5e6" \
  awk -F, -v a="$c_alloc" -v m="$c_med" -v lo="$c_min" -v hi="$c_max" 'NR > 1 &&
    $2 == "churn" && $3 == "fixed64" && $4 == 1 && $a == "jemalloc" {
    found = ($m + 0 == 1250000 && $lo + 0 == 1000000 && $hi + 0 == 1500000) }
    END { exit !found }' "$S"
check "failed run skipped: churn/mixed/4/glibc has n_ok 1 and median = the ok run (4e6)" \
  awk -F, -v a="$c_alloc" -v k="$c_nok" -v m="$c_med" 'NR > 1 &&
    $2 == "churn" && $3 == "mixed" && $4 == 4 && $a == "glibc" { found = ($k == 1 && $m + 0 == 4000000) }
    END { exit !found }' "$S"
check "failed run warned on stderr" grep -qi "failed run" "$T/stderr"
check "prodcons has no 1-thread rows" \
  awk -F, 'NR > 1 && $2 == "prodcons" && $4 == 1 { bad++ } END { exit bad > 0 }' "$S"

# ---- no jemalloc, a distribution missing for one workload ------------------
{ gen_csv "churn" "fixed64 mixed" "npool-rseq glibc"; gen_csv "prodcons" "fixed64" "npool-rseq glibc" | tail -n +2; } > "$T/nojem.csv"
bash "$PLOT" "$T/nojem.csv" "$T/out2" > "$T/stdout2" 2> "$T/stderr2"
rc=$?
check "no jemalloc + missing panel: exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$T/stderr2"
check "no jemalloc: warned, no relative_ figure" \
  bash -c 'grep -q jemalloc "$1" && ! ls "$2"/relative_* >/dev/null 2>&1' _ "$T/stderr2" "$T/out2"
check "missing distribution: prodcons figures drawn with a 'no data' panel" \
  grep -q "no data for prodcons / mixed" "$T/out2/throughput_prodcons.svg"

# ---- npool's breakdown columns: the where_ figure ---------------------------
# The same rows with the 11 breakdown columns: npool's filled (active 6 MiB,
# thread caches 1 + remote 1, CPU 2, transfer 0, subpage 1, pages 1, purged 5,
# retained 1, metadata 1, at the run's RSS), the peers' empty.
WHERE="np_active_bytes,np_thread_cache_bytes,np_remote_bytes,np_cpu_cache_bytes,np_transfer_bytes,np_subpage_free_bytes,np_pages_resident_bytes,np_pages_purged_bytes,np_retained_bytes,np_metadata_bytes,np_breakdown_rss_bytes"
gen_csv "churn" "fixed64 mixed" "npool-rseq glibc jemalloc" | awk -F, -v where="$WHERE" 'BEGIN { OFS = "," }
  NR == 1 { print $0, where; next }
  { m = 1048576
    if ($2 ~ /^npool-/) print $0, 6 * m, m, m, 2 * m, 0, m, m, 5 * m, m, m, $12
    else print $0, "", "", "", "", "", "", "", "", "", "", "" }' > "$T/where.csv"
bash "$PLOT" "$T/where.csv" "$T/out3" > "$T/stdout3" 2> "$T/stderr3"
rc=$?
check "breakdown columns: exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$T/stderr3"
check "breakdown columns: where_churn.svg drawn and listed" \
  bash -c '[ -s "$1/where_churn.svg" ] && [ -s "$1/where_churn.png" ] && grep -qx "$1/where_churn.svg" "$2"' _ "$T/out3" "$T/stdout3"
check "breakdown columns: the figure names its parts" \
  bash -c 'grep -q "free pages, resident" "$1" && grep -q "peer: whole RSS" "$1"' _ "$T/out3/where_churn.svg"
check "breakdown columns: churn's summary rows the same as without them" \
  bash -c 'diff <(grep "^testbox,churn," "$1") <(grep "^testbox,churn," "$2")' _ "$T/out3/summary.csv" "$OUT/summary.csv"
# ---- relative figures: a log scale where a panel's ratios span more than 10x --
check "relative: ratios within 3x: linear axis" bash -c '! grep -q "log scale" "$1"' _ "$OUT/relative_churn.svg"
awk -F, 'BEGIN { OFS = "," } NR > 1 && $2 == "glibc" && $8 != "" { $8 = $8 / 40 } { print }' "$T/sweep.csv" > "$T/span.csv"
bash "$PLOT" "$T/span.csv" "$T/out5" > /dev/null 2> "$T/stderr5"
rc=$?
check "relative, glibc at 1/20 of jemalloc: exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "relative, ratios over 10x apart: log scale" grep -q "jemalloc throughput, log scale" "$T/out5/relative_churn.svg"
check "relative, ratios over 10x apart: the throughput figure stays linear" \
  bash -c '! grep -q "log scale" "$1"' _ "$T/out5/throughput_churn.svg"

# Later runs add np_huge_tail_bytes (the span past reused huge blocks): 3 MiB.
awk -F, 'BEGIN { OFS = "," } NR == 1 { print $0, "np_huge_tail_bytes"; next }
  { print $0, ($2 ~ /^npool-/) ? 3 * 1048576 : "" }' "$T/where.csv" > "$T/tail.csv"
bash "$PLOT" "$T/tail.csv" "$T/out4" > "$T/stdout4" 2> "$T/stderr4"
rc=$?
check "huge tail column: exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$T/stderr4"
check "huge tail column: the figure names it" grep -q "past reused huge blocks" "$T/out4/where_churn.svg"
check "huge tail column: summary rows the same as without it" \
  bash -c 'diff <(grep "^testbox,churn," "$1") <(grep "^testbox,churn," "$2")' _ "$T/out4/summary.csv" "$T/out3/summary.csv"
check "no breakdown columns: no where_ figure" bash -c '! ls "$1"/where_* >/dev/null 2>&1' _ "$OUT"

# ---- RSS traces beside the CSV: the rss_ figures ---------------------------
mkdir -p "$T/traced/rss"
cp "$T/where.csv" "$T/traced/sweep.csv"
for a in npool-rseq glibc jemalloc; do
  for t in 2 4; do
    awk -v t="$t" 'BEGIN { for (i = 0; i < 50; i++) print i, (10 + i) * 1048576 * t, 5 * 1048576 }' \
      > "$T/traced/rss/churn_fixed64_${t}_$a.tsv"
  done
done
bash "$PLOT" "$T/traced/sweep.csv" "$T/out4" > "$T/stdout4" 2> "$T/stderr4"
rc=$?
check "RSS traces: exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "RSS traces: rss_churn_fixed64 drawn and listed, at the largest thread count" \
  bash -c '[ -s "$1/rss_churn_fixed64.svg" ] && grep -qx "$1/rss_churn_fixed64.svg" "$2" && grep -q "4 threads" "$1/rss_churn_fixed64.svg"' _ "$T/out4" "$T/stdout4"
check "no traces: no rss_ figure" bash -c '! ls "$1"/rss_churn* >/dev/null 2>&1' _ "$OUT"

# ---- failures -------------------------------------------------------------
expect_fail() {  # NAME PATTERN CMD...: CMD must exit non-zero, stderr matching PATTERN
  local name=$1 pat=$2 rc; shift 2
  "$@" > "$T/neg.out" 2> "$T/neg.err"; rc=$?
  if [ "$rc" -ne 0 ] && grep -q -- "$pat" "$T/neg.err"; then pass "$name (rc=$rc)"
  else fail "$name (rc=$rc, stderr: $(head -c 300 "$T/neg.err"))"; fi
}
sed '1s/ops_per_s/ops/' "$T/sweep.csv" > "$T/badhdr.csv"
expect_fail "wrong header: non-zero, names the column" '"ops_per_s"' bash "$PLOT" "$T/badhdr.csv" "$T/neg"
: > "$T/empty.csv"
expect_fail "empty file: non-zero" "empty" bash "$PLOT" "$T/empty.csv" "$T/neg"
echo "$HEADER" > "$T/hdronly.csv"
expect_fail "header only: non-zero, no valid rows" "no valid rows" bash "$PLOT" "$T/hdronly.csv" "$T/neg"
expect_fail "missing arguments: non-zero, usage" "usage" bash "$PLOT"
expect_fail "unreadable CSV: non-zero" "cannot read" bash "$PLOT" "$T/does-not-exist.csv" "$T/neg"
expect_fail "gnuplot missing: non-zero, says how to install" "install gnuplot-nox" \
  env GNUPLOT="$T/no-gnuplot" bash "$PLOT" "$T/sweep.csv" "$T/neg"
# A command dying of SIGPIPE (exit 141) under set -e stops plot.sh: it must
# say which line, not exit silently.
mkdir -p "$T/pipebin"
printf '#!/bin/sh\nexit 141\n' > "$T/pipebin/sort"; chmod +x "$T/pipebin/sort"
expect_fail "a command killed by SIGPIPE: non-zero, names the line" "error: line [0-9]*:" \
  env PATH="$T/pipebin:$PATH" bash "$PLOT" "$T/sweep.csv" "$T/neg"

if [ "$fails" -gt 0 ]; then echo "$fails check(s) FAILED"; exit 1; fi
echo "all checks passed"
