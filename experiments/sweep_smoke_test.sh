#!/usr/bin/env bash
# A tiny sweep in the test suite (//experiments:sweep --quick):
#   sweep_smoke_test.sh SWEEP ALLOCATOR... [--no-tsan ALLOCATOR...]
# Every given allocator runs every workload (churn, prodcons, larson,
# pipeline, xmalloc) on every size distribution at 1 and 2 threads (the
# paired workloads at 2 only; xmalloc on fixed64 only); those after --no-tsan are left out of a
# ThreadSanitizer build. Passes when the sweep exits 0, reports every
# allocator with all its runs and none failed, writes a CSV with the header
# and exactly one row per run, every row measured (ops/s, latencies, RSS,
# live bytes all > 0), machine.txt, the figures and the run's page
# (index.html), and ends with the
# summary (a row per workload x distribution: the best npool strategy against
# the best peer) and where the results are; when an npool worker is made to
# leak one block (--leak-one), its end-of-run check fails it with exit
# status 3; and two runs without --out write two new folders under
# results/<machine>/ of the workspace, the second leaving the first and a
# reference run beside them as they were.
set -uo pipefail

sweep=$1
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

info=$("$sweep" --build-info) || { echo "FAIL: $sweep --build-info"; exit 1; }
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
na=${#allocs[@]}
out="${TEST_TMPDIR:-$(mktemp -d)}/sweep"
# 4 distributions x (churn 1+2, larson 1+2, prodcons 2, pipeline 2) per allocator,
# large (churn 1+2) and xmalloc (fixed64, 2)
# churn 6 dists x 2 thread counts, prodcons 5 x 1, larson 5 x 2, pipeline 5 x 1,
# xmalloc 1, burst 3 x 2, shortlived 3 x 2
runs_per_alloc=$((12 + 5 + 10 + 5 + 1 + 6 + 6))

"$sweep" --quick --threads 1,2 --allocators "$list" --machine smoke-test --out "$out" \
  --slots 200 >"$out.stdout" 2>"$out.stderr"
rc=$?
cat "$out.stdout"
tail -5 "$out.stderr"
fail=0
if [ "$rc" -ne 0 ]; then
  echo "FAIL: sweep exited $rc"
  grep -E 'FAILED|failed|error|gnuplot|line [0-9]+:' "$out.stderr" | head -20
  fail=1
fi
for a in "${allocs[@]}"; do
  if ! grep -qxF "allocator $a: $runs_per_alloc runs, 0 failed" "$out.stdout"; then
    echo "FAIL: no line 'allocator $a: $runs_per_alloc runs, 0 failed'"
    fail=1
  fi
done
grep -q '^sweep: \[1/' "$out.stderr" || { echo "FAIL: no progress lines on stderr"; fail=1; }

csv="$out/sweep.csv"
header="machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,lat_p50_ns,lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes,np_active_bytes,np_thread_cache_bytes,np_remote_bytes,np_cpu_cache_bytes,np_transfer_bytes,np_subpage_free_bytes,np_pages_resident_bytes,np_pages_purged_bytes,np_retained_bytes,np_metadata_bytes,np_breakdown_rss_bytes,np_huge_tail_bytes"
if [ "$(head -1 "$csv")" != "$header" ]; then
  echo "FAIL: $csv header is '$(head -1 "$csv")'"
  fail=1
fi
rows=$(($(wc -l <"$csv") - 1))
if [ "$rows" -ne $((na * runs_per_alloc)) ]; then
  echo "FAIL: $rows CSV rows, expected $((na * runs_per_alloc))"
  fail=1
fi
# Every (allocator, workload, distribution) has its rows, all measured.
bad=$(awk -F, 'NR > 1 && !($8 > 0 && $9 > 0 && $10 >= $9 && $11 >= $10 && $12 > 0 && $13 > 0 && $1 == "smoke-test")' "$csv")
if [ -n "$bad" ]; then
  echo "FAIL: rows with a missing or inconsistent measurement:"
  echo "$bad" | head -10
  fail=1
fi
# npool's rows carry the breakdown of its bytes (every column a number,
# metadata > 0, taken at a resident set > 0); the peers' rows leave it empty.
bad=$(awk -F, 'NR > 1 && $8 > 0 {
  if ($2 !~ /^npool-/) { if ($14 $24 != "") print; next }
  for (i = 14; i <= 24; i++) if ($i !~ /^[0-9]+$/) { print; next }
  if (!($23 > 0 && $24 > 0)) print
}' "$csv")
if [ -n "$bad" ]; then
  echo "FAIL: rows whose breakdown columns are missing (npool) or filled (a peer):"
  echo "$bad" | head -10
  fail=1
fi
for a in "${allocs[@]}"; do
  for w in churn prodcons larson pipeline xmalloc burst shortlived; do
    for d in fixed64 small net mixed large invsq; do
      n=$(awk -F, -v a="$a" -v w="$w" -v d="$d" '$2 == a && $4 == w && $5 == d' "$csv" | wc -l)
      want=2
      case "$w" in prodcons | pipeline | xmalloc) want=1 ;; esac
      [ "$d" = large ] && [ "$w" != churn ] && want=0  # large: churn's only
      [ "$w" = xmalloc ] && [ "$d" != fixed64 ] && want=0  # xmalloc: 64 B blocks
      [ "$w" = burst ] && case "$d" in fixed64 | small | invsq) ;; *) want=0 ;; esac  # small blocks
      [ "$w" = shortlived ] && case "$d" in small | net | invsq) ;; *) want=0 ;; esac  # mixed sizes
      if [ "$n" -ne "$want" ]; then
        echo "FAIL: $a $w $d: $n rows, expected $want"
        fail=1
      fi
    done
  done
done
grep -q '^# machine:' "$out/machine.txt" || { echo "FAIL: no machine description"; fail=1; }
grep -q '^# commit:  unknown' "$out/machine.txt" || { echo "FAIL: no '# commit:  unknown' line outside bazel run"; fail=1; }
# The resident set over time: the first repeat of churn and prodcons with net
# sizes, every allocator, a line per sample (ms, RSS > 0, live), and its figures.
for a in "${allocs[@]}"; do
  for cell in churn_net_1 churn_net_2 prodcons_net_2; do
    f="$out/rss/${cell}_$a.tsv"
    if ! [ -s "$f" ] || ! awk 'NF != 3 || $2 <= 0 { bad = 1 } END { exit bad || NR < 2 }' "$f"; then
      echo "FAIL: no RSS trace $f (or a malformed one)"
      fail=1
    fi
  done
done
for f in rss_churn_net rss_prodcons_net; do
  [ -s "$out/figures/$f.svg" ] || { echo "FAIL: no figure $f.svg"; fail=1; }
done
for w in churn prodcons larson pipeline xmalloc burst shortlived; do
  for f in "throughput_$w.svg" "throughput_$w.png"; do
    [ -s "$out/figures/$f" ] || { echo "FAIL: no figure $f"; fail=1; }
  done
done

# The summary, then where the results are, last.
sed -n '/^summary: per cell, the best npool strategy/,$p' "$out.stdout" >"$out.summary"
[ -s "$out.summary" ] || { echo "FAIL: no summary table on stdout"; fail=1; }
for w in churn prodcons larson pipeline xmalloc burst shortlived; do
  for d in fixed64 small net mixed large invsq; do
    [ "$w" = burst ] && case "$d" in net | mixed | large) continue ;; esac
    [ "$w" = shortlived ] && case "$d" in fixed64 | mixed | large) continue ;; esac
    grep -Eq "^$w +$d( |$)" "$out.summary" || { echo "FAIL: no summary row for $w $d"; fail=1; }
  done
done
peers=0
for a in "${allocs[@]}"; do case "$a" in npool-*) ;; *) peers=1 ;; esac; done
if [ "$peers" -eq 1 ] &&
  ! grep -Eq '^churn +fixed64 +(mutex|ck|rseq) x[0-9]+\.[0-9]{2} (glibc|jemalloc|mimalloc|tcmalloc) ' "$out.summary"; then
  echo "FAIL: the churn fixed64 summary row does not name a strategy, a ratio and a peer:"
  grep '^churn' "$out.summary"
  fail=1
fi
grep -Eq "^npool's best strategy is at least as fast as the best peer in [0-9]+ of [0-9]+ cells$" "$out.summary" ||
  { echo "FAIL: no count of cells at par in the summary"; fail=1; }
last=$(tail -n 1 "$out.stdout")
[ "$last" = "sweep: results in $out" ] || { echo "FAIL: the last line is '$last', not where the results are"; fail=1; }
grep -qxF "results: $out/sweep.csv" "$out.stdout" || { echo "FAIL: no 'results: $out/sweep.csv' line"; fail=1; }
# The run's page: written, named on stdout, showing the run's figures.
grep -qxF "page:    $out/index.html" "$out.stdout" || { echo "FAIL: no 'page:    $out/index.html' line"; fail=1; }
grep -q '<img src="figures/throughput_churn.svg"' "$out/index.html" 2>/dev/null ||
  { echo "FAIL: no index.html showing figures/throughput_churn.svg"; fail=1; }

# Without --out, each run is a new folder under results/<machine>/ in the
# workspace (bazel run sets BUILD_WORKSPACE_DIRECTORY): a second run, even in
# the same second, leaves the first and a reference run as they were.
ws="${TEST_TMPDIR:-$(mktemp -d)}/ws"
mkdir -p "$ws/results/smoke-test/default"
echo reference >"$ws/results/smoke-test/default/sweep.csv"
small_run() {
  BUILD_WORKSPACE_DIRECTORY="$ws" "$sweep" --quick --threads 1 --workloads churn --dists fixed64 \
    --allocators "${allocs[0]}" --machine smoke-test --no-figures --slots 200 2>/dev/null
}
# The workspace is a git checkout: machine.txt names its commit, then the
# tracked files that differ from it.
have_git=0
if [ -x /usr/bin/git ]; then
  echo one >"$ws/tracked"
  git -C "$ws" init -q && git -C "$ws" add tracked &&
    git -C "$ws" -c user.name=t -c user.email=t@t commit -qm one && have_git=1
fi
first=$(small_run | tail -n 1)
run1=$(ls "$ws/results/smoke-test" | grep -v '^default$')
if [ "$have_git" = 1 ]; then
  head=$(git -C "$ws" rev-parse HEAD)
  grep -qxF "# commit:  $head" "$ws/results/smoke-test/$run1/machine.txt" &&
    echo "ok: machine.txt names the workspace's commit" ||
    { echo "FAIL: machine.txt lacks '# commit:  $head': $(grep commit "$ws/results/smoke-test/$run1/machine.txt")"; fail=1; }
  echo two >"$ws/tracked"
fi
sum1=$(md5sum "$ws/results/smoke-test/$run1/sweep.csv" 2>/dev/null)
second=$(small_run | tail -n 1)
runs=$(ls "$ws/results/smoke-test" | grep -v '^default$' | wc -l)
if [ "$runs" -ne 2 ]; then
  echo "FAIL: two runs without --out made $runs folders: $(ls "$ws/results/smoke-test")"
  fail=1
elif [[ ! "$run1" =~ ^custom-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{6}$ ]]; then
  echo "FAIL: the first run's folder is '$run1', not custom-<date>T<time>"
  fail=1
elif [ "$first" != "sweep: results in $ws/results/smoke-test/$run1 (a new run)" ]; then
  echo "FAIL: the first run ended with '$first'"
  fail=1
elif [ "$second" = "$first" ] || [[ "$second" != "sweep: results in $ws/results/smoke-test/custom-"*" (a new run)" ]]; then
  echo "FAIL: the second run ended with '$second' (the first: '$first')"
  fail=1
elif [ "$(md5sum "$ws/results/smoke-test/$run1/sweep.csv")" != "$sum1" ]; then
  echo "FAIL: the second run changed the first run's sweep.csv"
  fail=1
elif [ "$(cat "$ws/results/smoke-test/default/sweep.csv")" != reference ] ||
  [ "$(ls "$ws/results/smoke-test/default")" != sweep.csv ]; then
  echo "FAIL: a run without --out wrote into results/smoke-test/default"
  fail=1
else
  echo "ok: two runs without --out: $run1 and $(basename "${second#sweep: results in }" " (a new run)"), the reference run untouched"
fi
if [ "$have_git" = 1 ]; then
  run2=$(basename "${second#sweep: results in }" " (a new run)")
  grep -qxF "# commit:  $head, with uncommitted changes to 1 tracked file(s) (the first: tracked)" \
    "$ws/results/smoke-test/$run2/machine.txt" && echo "ok: machine.txt says the tracked files differ" ||
    { echo "FAIL: machine.txt of a changed checkout: $(grep commit "$ws/results/smoke-test/$run2/machine.txt")"; fail=1; }
fi

# The correctness guard must catch a leaked block.
bindir=$(dirname "$sweep")
for a in "${allocs[@]}"; do
  case "$a" in npool-*) ;; *) continue ;; esac
  worker="$bindir/workload_${a//-/_}"
  "$worker" --workload churn --dist fixed64 --threads 2 --duration-ms 5 --warmup-ms 0 \
    --leak-one >/dev/null 2>&1
  grc=$?
  if [ "$grc" -ne 3 ]; then
    echo "FAIL: $worker --leak-one exited $grc, expected 3 (correctness guard)"
    fail=1
  else
    echo "ok: $a --leak-one is caught by the correctness guard (exit 3)"
  fi
done
# Bad input is refused with a clear message.
if "$sweep" --workloads nosuch --out "$out.bad" >/dev/null 2>"$out.bad.err"; then
  echo "FAIL: an unknown workload was accepted"
  fail=1
elif ! grep -q "unknown workload 'nosuch'" "$out.bad.err"; then
  echo "FAIL: unclear error for an unknown workload: $(cat "$out.bad.err")"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "PASS"
exit "$fail"
