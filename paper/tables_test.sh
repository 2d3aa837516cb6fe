#!/usr/bin/env bash
# Test of paper/tables.py:
#   tables_test.sh TABLES_PY PAPER_MD MAKE_FIGURES_SH PAPER_RUN_CSV README_MD
# 1. paper.md's and README.md's tables are what the paper's run gives (the CSV given is the
#    one make_figures.sh names as PAPER_RUN), so the paper cannot drift from
#    its run; 2. on a synthetic CSV, each table has the numbers computed by
#    hand here, a changed number is caught by --check and rewritten, and bad
#    markers, tables and arguments are refused with a message.
set -uo pipefail
[ "$#" -eq 5 ] || { echo "usage: $0 TABLES_PY PAPER_MD MAKE_FIGURES_SH PAPER_RUN_CSV README_MD"; exit 2; }
TABLES=$1 PAPER=$2 MAKE=$3 RUNCSV=$4 README=$5
T=${TEST_TMPDIR:-$(mktemp -d)}/tables_test
rm -rf "$T"; mkdir -p "$T"
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# ---- 1. the committed paper against the committed run ----------------------
run=$(sed -n 's/^PAPER_RUN=//p' "$MAKE")
if [ "$(dirname "$RUNCSV")" = "$run" ]; then pass "the test's run is make_figures.sh's PAPER_RUN ($run)"
else fail "make_figures.sh's PAPER_RUN is '$run' but //:paper_run_csv is '$RUNCSV': change both"; fi
n=$(grep -c '^<!-- table: ' "$PAPER")
if [ "$n" -ge 1 ]; then pass "paper.md has $n generated table(s)"; else fail "paper.md has no generated table"; fi
grep -q '^<!-- table: ' "$README" && pass "README.md has generated table(s)" || fail "README.md has no generated table"
if python3 "$TABLES" --check "$(dirname "$RUNCSV")" "$PAPER" "$README" > "$T/check.out" 2>&1; then
  pass "paper.md's and README.md's tables match $RUNCSV"
else
  fail "tables differ from $RUNCSV (run: bash paper/make_figures.sh):"; head -40 "$T/check.out"
fi
grep -q "tables.py.*README.md" "$MAKE" && pass "make_figures.sh writes README.md's tables too" \
  || fail "make_figures.sh does not pass README.md to tables.py"

# ---- 2. synthetic run -------------------------------------------------------
# churn/fixed64 at 1 thread: mutex 10,12,14 Mops/s; rseq 20 (and one failed
# run); jemalloc 5,6,7; glibc 19,20,30 (overlaps rseq). larson/net at 1
# thread: live 8 MiB, RSS mutex 16 MiB, jemalloc 12 MiB (peaks).
mkdir -p "$T/run"
{
  echo "machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,lat_p50_ns,lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes"
  r() { echo "m,$1,$2,$3,$4,1,$5,$6,10,20,30,$7,$8"; }
  r npool-mutex mutex churn fixed64 1 10000000 4194304 65536
  r npool-mutex mutex churn fixed64 2 12000000 4194304 65536
  r npool-mutex mutex churn fixed64 3 14000000 4194304 65536
  r npool-rseq rseq churn fixed64 1 20000000 4194304 65536
  r npool-rseq rseq churn fixed64 2 "" "" ""
  r jemalloc - churn fixed64 1 5000000 4194304 65536
  r jemalloc - churn fixed64 2 6000000 4194304 65536
  r jemalloc - churn fixed64 3 7000000 4194304 65536
  r glibc - churn fixed64 1 19000000 4194304 65536
  r glibc - churn fixed64 2 20000000 4194304 65536
  r glibc - churn fixed64 3 30000000 4194304 65536
  r npool-mutex mutex larson net 1 1000000 16777216 8388608
  r jemalloc - larson net 1 1000000 12582912 8388608
} > "$T/run/sweep.csv"
cat > "$T/doc.md" <<'MD'
# doc
text before
<!-- table: throughput_ratio threads=1 -->
stale text
<!-- end table -->
between
<!-- table: best threads=1 -->
<!-- end table -->
<!-- table: rss_over_live threads=1 min_live_mib=4 -->
<!-- end table -->
<!-- table: throughput threads=1 -->
<!-- end table -->
<!-- table: spread threads=1 -->
<!-- end table -->
after
MD
cp "$T/doc.md" "$T/doc0.md"
if python3 "$TABLES" --check "$T/run" "$T/doc.md" > "$T/c0.out" 2>&1; then fail "--check passes a stale table"
else pass "--check fails on a stale table and shows the diff"; fi
cmp -s "$T/doc.md" "$T/doc0.md" && pass "--check changes nothing" || fail "--check changed the file"
python3 "$TABLES" "$T/run" "$T/doc.md" > "$T/w.out" 2>&1 || fail "write: exit $? ($(cat "$T/w.out"))"
has() { grep -qxF -- "$2" "$T/doc.md" && pass "$1" || { fail "$1: no line '$2' in:"; cat "$T/doc.md"; }; }
# mutex median 12 / jemalloc 6 = 2.00; rseq: the one ok run, 20 / 6; glibc 20 / 6
has "ratio table: medians over ok runs, / jemalloc" "| churn | fixed64 | 2.00 | 3.33 | 3.33 |"
has "ratio table: a cell with no run says -" "| larson | net | 1.00 | - | - |"
has "best: rseq against glibc, ranges overlap" "| churn | fixed64 | npool-rseq | 20.00 | glibc | 20.00 | 1.00 | within spread |"
has "best: single equal runs are within spread" "| larson | net | npool-mutex | 1.00 | jemalloc | 1.00 | 1.00 | within spread |"
has "rss/live: only cells with >= 4 MiB live, best npool / lowest peer" "| larson | net | 8 | 2.00 | - | 1.50 | - | 1.33 |"
grep -q "| churn | fixed64 | 0" "$T/doc.md" && fail "rss/live: the 64 KiB cell is listed" || pass "rss/live: the 64 KiB cell is left out"
has "throughput: Mops/s" "| churn | fixed64 | 12.00 | 20.00 | 6.00 | 20.00 |"
# (14 - 10) / 12, one run of rseq, (30 - 19) / 20, (7 - 5) / 6
has "spread: (max - min) / median, - for a single run" "| churn | fixed64 | 33% | - | 33% | 55% |"
has "text outside the markers is kept" "between"
grep -q "stale text" "$T/doc.md" && fail "stale text kept" || pass "what was between the markers is replaced"
python3 "$TABLES" --check "$T/run" "$T/doc.md" > /dev/null 2>&1 && pass "--check passes after writing" || fail "--check fails after writing"
cp "$T/doc.md" "$T/doc1.md"
python3 "$TABLES" "$T/run" "$T/doc1.md" > /dev/null 2>&1; cmp -s "$T/doc.md" "$T/doc1.md" && pass "writing twice changes nothing" || fail "not idempotent"
sed -i 's/| 2.00 | 3.33 | 3.33 |/| 2.10 | 3.33 | 3.33 |/' "$T/doc1.md"
python3 "$TABLES" --check "$T/run" "$T/doc1.md" > "$T/c1.out" 2>&1 && fail "--check passes a number edited by hand" \
  || { grep -q '^-| churn | fixed64 | 2.10' "$T/c1.out" && pass "--check names the edited line" || fail "--check's diff: $(cat "$T/c1.out")"; }

# A second ordering check: a 'behind' verdict (peer's range above npool's).
sed -i 's/^m,jemalloc,-,larson,net,1,1,1000000/m,jemalloc,-,larson,net,1,1,3000000/' "$T/run/sweep.csv"
python3 "$TABLES" "$T/run" "$T/doc.md" > /dev/null 2>&1
has "best: behind when the peer's range is above" "| larson | net | npool-mutex | 1.00 | jemalloc | 3.00 | 0.33 | behind |"

# A table of another run (run=DIR): its numbers, and its folder in the note.
mkdir -p "$T/run2"
{ head -n 1 "$T/run/sweep.csv"; echo "m,jemalloc,-,churn,fixed64,1,1,9000000,10,20,30,4194304,65536"; } > "$T/run2/sweep.csv"
printf '%s\n' "<!-- table: throughput threads=1 run=$T/run2 -->" "<!-- end table -->" \
  "<!-- table: throughput threads=1 -->" "<!-- end table -->" > "$T/two_runs.md"
python3 "$TABLES" "$T/run" "$T/two_runs.md" > "$T/tr.out" 2>&1 || fail "run=: exit $? ($(cat "$T/tr.out"))"
grep -qxF "| churn | fixed64 | 9.00 |" "$T/two_runs.md" && grep -qF "from \`$T/run2/sweep.csv\`" "$T/two_runs.md" \
  && grep -qxF "| churn | fixed64 | 12.00 | 20.00 | 6.00 | 20.00 |" "$T/two_runs.md" \
  && pass "run=DIR: that run's numbers and name; the next table the main run's" \
  || { fail "run=DIR:"; cat "$T/two_runs.md"; }

# The strategies table: mutex and rseq ran in churn/fixed64 (rseq's one run,
# 20, above mutex's 10..14: ahead beyond the spread); ck did not.
printf '%s\n' "<!-- table: strategies threads=1 -->" "<!-- end table -->" > "$T/strat.md"
python3 "$TABLES" "$T/run" "$T/strat.md" > "$T/st.out" 2>&1 || fail "strategies: exit $? ($(cat "$T/st.out"))"
grep -qxF "| churn | fixed64 | 12.00 | - | 20.00 | - | 1.67 | npool-rseq | ahead |" "$T/strat.md" \
  && grep -qxF "| larson | net | 1.00 | - | - | - | - | npool-mutex | - |" "$T/strat.md" \
  && pass "strategies: Mops/s, ratios to mutex, the fastest and its verdict" || { fail "strategies:"; cat "$T/strat.md"; }

# Values in the prose: computed inline, several on a line, checked like tables.
cat > "$T/prose.md" <<'MD'
mutex runs at <!-- value: mops w=churn d=fixed64 t=1 a=npool-mutex -->99<!-- /value --> Mops/s, <!-- value: ratio w=churn d=fixed64 t=1 a=npool-mutex b=jemalloc digits=1 -->9<!-- /value -->x jemalloc.
Best: <!-- value: best w=churn d=fixed64 t=1 field=npool -->x<!-- /value --> / <!-- value: best w=churn d=fixed64 t=1 field=peer -->x<!-- /value --> = <!-- value: best w=churn d=fixed64 t=1 field=ratio -->x<!-- /value --> (<!-- value: best w=churn d=fixed64 t=1 field=verdict -->x<!-- /value -->); RSS/live <!-- value: rss_over_live w=larson d=net t=1 a=npool-mutex -->x<!-- /value -->.
Latency <!-- value: lat w=churn d=fixed64 t=1 a=jemalloc q=p999 digits=0 -->x<!-- /value --> ns, RSS <!-- value: rss_mib w=larson d=net t=1 a=jemalloc digits=1 -->x<!-- /value --> MiB.
Cells: <!-- value: count what=all t=1 -->x<!-- /value --> at 1 thread, <!-- value: count what=within t=1 -->x<!-- /value --> within the spread, <!-- value: count what=at_par t=1 w=churn -->x<!-- /value --> churn cell at par.
MD
python3 "$TABLES" "$T/run" "$T/prose.md" > "$T/pr.out" 2>&1 || fail "values: exit $? ($(cat "$T/pr.out"))"
pv() { grep -qF -- "$2" "$T/prose.md" && pass "$1" || { fail "$1: no '$2' in:"; cat "$T/prose.md"; }; }
pv "value mops" "a=npool-mutex -->12.00<!-- /value --> Mops/s"
pv "value ratio, digits=1" "digits=1 -->2.0<!-- /value -->x jemalloc."
pv "value best, every field" "field=npool -->npool-rseq<!-- /value --> / <!-- value: best w=churn d=fixed64 t=1 field=peer -->glibc<!-- /value --> = <!-- value: best w=churn d=fixed64 t=1 field=ratio -->1.00<!-- /value --> (<!-- value: best w=churn d=fixed64 t=1 field=verdict -->within spread<!-- /value -->)"
pv "value rss_over_live" "a=npool-mutex -->2.00<!-- /value -->."
pv "value lat, rss_mib" "q=p999 digits=0 -->30<!-- /value --> ns, RSS <!-- value: rss_mib w=larson d=net t=1 a=jemalloc digits=1 -->12.0<!-- /value --> MiB."
pv "value count: all, within, at_par with a filter" "what=all t=1 -->2<!-- /value --> at 1 thread, <!-- value: count what=within t=1 -->1<!-- /value --> within the spread, <!-- value: count what=at_par t=1 w=churn -->1<!-- /value -->"
grep -q "0 table(s) and 12 value(s) written" "$T/pr.out" && pass "values counted in the message" || fail "message: $(cat "$T/pr.out")"
python3 "$TABLES" --check "$T/run" "$T/prose.md" > /dev/null 2>&1 && pass "values: --check passes after writing" || fail "values: --check fails after writing"
sed -i 's/-->12.00<!-- \/value --> Mops/-->13.00<!-- \/value --> Mops/' "$T/prose.md"
python3 "$TABLES" --check "$T/run" "$T/prose.md" > /dev/null 2>&1 && fail "values: --check passes a value edited by hand" \
  || pass "values: --check catches a value edited by hand"

# The preload benchmark's tables: medians per program and allocator, time
# with its ratio to jemalloc's, RSS in MiB; an allocator missing for a program: -.
mkdir -p "$T/pre"
printf '%s\n' machine,program,allocator,repeat,wall_s,peak_rss_kib m,sort,glibc,0,1.0,10240 \
  m,sort,glibc,1,3.0,10240 m,sort,jemalloc,0,1.0,20480 m,sort,npool-mutex,0,0.5,15360 \
  m,sort,npool-mutex,1,0.7,15360 m,sort,npool-mutex,2,0.9,17408 m,perl,jemalloc,0,2.0,1024 > "$T/pre/preload.csv"
printf '%s\n' "<!-- table: preload_time run=$T/pre -->" "<!-- end table -->" \
  "<!-- table: preload_rss run=$T/pre -->" "<!-- end table -->" > "$T/pre.md"
python3 "$TABLES" "$T/run" "$T/pre.md" > "$T/pre.out" 2>&1 || fail "preload: exit $? ($(cat "$T/pre.out"))"
grep -qxF "| sort | 2.000 (2.00) | 1.000 (1.00) | 0.700 (0.70) |" "$T/pre.md" \
  && grep -qxF "| perl | - | 2.000 (1.00) | - |" "$T/pre.md" \
  && grep -qxF "| sort | 10.0 | 20.0 | 15.0 |" "$T/pre.md" && grep -qF "from \`$T/pre/preload.csv\`" "$T/pre.md" \
  && pass "preload tables: medians, ratio to jemalloc, MiB, - where missing" || { fail "preload tables:"; cat "$T/pre.md"; }

bad() {  # NAME PATTERN DOC_TEXT
  printf '%s\n' "$3" > "$T/bad.md"; cp "$T/bad.md" "$T/bad0.md"
  if python3 "$TABLES" "$T/run" "$T/bad.md" > "$T/bad.out" 2>&1; then fail "$1: exit 0"
  elif ! grep -q -- "$2" "$T/bad.out"; then fail "$1: message '$(cat "$T/bad.out")'"
  elif ! cmp -s "$T/bad.md" "$T/bad0.md"; then fail "$1: the file changed"
  else pass "$1: refused ($(head -c 100 "$T/bad.out")), file unchanged"; fi
}
bad "unknown table" "unknown table 'nope'" $'<!-- table: nope threads=1 -->\n<!-- end table -->'
bad "no end marker" "without '<!-- end table -->'" $'<!-- table: best threads=1 -->\nx'
bad "end without start" "unpaired" $'x\n<!-- end table -->'
bad "no threads argument" "needs threads=N" $'<!-- table: best -->\n<!-- end table -->'
bad "unknown argument" "unknown argument" $'<!-- table: best threads=1 colour=red -->\n<!-- end table -->'
bad "thread count not in the run" "no cells at 8 thread" $'<!-- table: best threads=8 -->\n<!-- end table -->'
cp "$T/doc0.md" "$T/first.md"; printf 'x\n<!-- end table -->\n' > "$T/second.md"
python3 "$TABLES" "$T/run" "$T/first.md" "$T/second.md" > "$T/two.out" 2>&1 && fail "two documents, the second bad: exit 0" \
  || { cmp -s "$T/first.md" "$T/doc0.md" && grep -q "second.md" "$T/two.out" \
       && pass "two documents, the second bad: neither written, the bad one named" || fail "two documents: $(cat "$T/two.out")"; }
bad "unknown value" "unknown value 'nope'" 'x <!-- value: nope w=churn d=fixed64 t=1 -->1<!-- /value -->'
bad "value of a cell not in the run" "no cell churn net at 1" 'x <!-- value: mops w=churn d=net t=1 a=jemalloc -->1<!-- /value -->'
bad "value of an allocator not in the cell" "no npool-ck in churn fixed64" 'x <!-- value: mops w=churn d=fixed64 t=1 a=npool-ck -->1<!-- /value -->'
bad "value without its cell" "needs w=, d= and t=" 'x <!-- value: mops a=jemalloc -->1<!-- /value -->'
bad "value without its end" "unpaired value marker" 'x <!-- value: mops w=churn d=fixed64 t=1 a=jemalloc -->1'
bad "value: unknown argument" "unknown argument" 'x <!-- value: mops w=churn d=fixed64 t=1 a=jemalloc colour=red -->1<!-- /value -->'
bad "preload table without its run" "needs run=DIR" $'<!-- table: preload_time -->\n<!-- end table -->'
bad "unknown preload table" "unknown table 'preload_x'" $'<!-- table: preload_x run=/x -->\n<!-- end table -->'
mkdir -p "$T/badpre"; cp "$T/run/sweep.csv" "$T/badpre/preload.csv"
bad "preload table of a sweep CSV" "not a preload benchmark CSV" "$(printf '%s\n' "<!-- table: preload_rss run=$T/badpre -->" "<!-- end table -->")"
bad "run= names no run" "cannot read" $'<!-- table: best threads=1 run=/nowhere -->\n<!-- end table -->'
python3 "$TABLES" "$T/nowhere" "$T/doc.md" > "$T/nr.out" 2>&1 && fail "missing run: exit 0" \
  || { grep -q "cannot read" "$T/nr.out" && pass "missing run: says it cannot read the CSV" || fail "missing run: $(cat "$T/nr.out")"; }

if [ "$fails" -gt 0 ]; then echo "$fails check(s) FAILED"; exit 1; fi
echo "all checks passed"
