#!/usr/bin/env bash
# Test of experiments/run_page.py (a sweep run's index.html).
#   run_page_test.sh RUN_PAGE_PY PLOT_SH
# A synthetic run (CSV of 2 workloads x 2 distributions x 1, 2 threads; npool
# strategies and peers, 3 repeats, one npool strategy ahead beyond the spread,
# one behind, one within it; a workload name with HTML in it) gets its figures
# from plot.sh and its page from run_page.py; the checks: every file of the
# run's figures/ is named on the page (each SVG shown, each PNG linked);
# machine.txt's lines are on it; each summary row's best npool strategy, best
# peer and ratio are what plot.sh's summary.csv medians give, and coloured by
# the verdict; a missing or bad run exits 1 and writes nothing.
set -uo pipefail

[ "$#" -eq 2 ] || { echo "usage: $0 RUN_PAGE_PY PLOT_SH"; exit 2; }
PAGE=$1 PLOT=$2
if [ -n "${TEST_TMPDIR:-}" ]; then
  T=$TEST_TMPDIR/run_page_test
  rm -rf "$T"; mkdir -p "$T"
else
  T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fi

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

RUN=$T/run
mkdir -p "$RUN"
printf '# sweep of testbox\n# commit:  0123abcd, with uncommitted changes to 1 tracked file(s) (the first: a.c)\n# command: --threads 1,2 <all>\n' > "$RUN/machine.txt"
# ops per (allocator, workload, distribution, threads): npool-ck the fastest on
# churn/small (ahead: its range above the peers'), npool-mutex behind mimalloc
# on churn/net, larson<x> within the spread (ranges overlap).
python3 - "$RUN/sweep.csv" <<'PY'
import sys
allocs = ["npool-mutex", "npool-ck", "npool-rseq", "glibc", "jemalloc", "mimalloc", "tcmalloc"]
base = {"npool-mutex": 10, "npool-ck": 12, "npool-rseq": 8, "glibc": 5, "jemalloc": 9,
        "mimalloc": 11, "tcmalloc": 7}
rows = ["machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,lat_p50_ns,"
        "lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes"]
for w in ("churn", "larson<x>"):
    for d in ("small", "net"):
        for t in (1, 2):
            for r in (1, 2, 3):
                for a in allocs:
                    ops = base[a] * t * 1e6
                    if d == "net" and a.startswith("npool"):
                        ops *= 0.5                       # behind mimalloc
                    if w == "larson<x>":
                        ops *= 1 + 0.4 * (r - 2)         # wide repeats: within spread
                    else:
                        ops *= 1 + 0.01 * (r - 2)
                    st = a[6:] if a.startswith("npool-") else "-"
                    rows.append(f"testbox,{a},{st},{w},{d},{t},{r},{ops:.0f},10,20,30,"
                                f"{(20 + r) << 20},{8 << 20}")
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY

bash "$PLOT" "$RUN/sweep.csv" "$RUN/figures" > /dev/null 2> "$T/plot.err" || { cat "$T/plot.err"; fail "plot.sh failed"; }
python3 "$PAGE" "$RUN" > "$T/out" 2> "$T/err"
rc=$?
check "exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$T/err"
check "prints the page's path" grep -qx "$RUN/index.html" "$T/out"
HTML=$RUN/index.html
check "no script" bash -c '! grep -qi "<script" "$1"' _ "$HTML"

n=0 missing=0
for f in "$RUN"/figures/*; do
  b=$(basename "$f"); n=$((n + 1))
  case $b in
    *.svg) grep -q "<img src=\"figures/$b\"" "$HTML" || { echo "not shown: $b"; missing=$((missing + 1)); } ;;
    *) grep -q "href=\"figures/$b\"" "$HTML" || { echo "not linked: $b"; missing=$((missing + 1)); } ;;
  esac
done
check "every one of the run's $n figure files is on the page" [ "$missing" -eq 0 ] && [ "$n" -gt 10 ]
check "machine.txt on the page (commit line, escaped)" \
  grep -q "# commit:  0123abcd, with uncommitted changes" "$HTML"
check "HTML in a name is escaped" bash -c 'grep -q "larson&lt;x&gt;" "$1" && ! grep -q "larson<x>" "$1"' _ "$HTML"

# The summary rows against plot.sh's summary.csv (independent medians).
python3 - "$RUN/figures/summary.csv" "$HTML" > "$T/cmp" <<'PY'
import csv, html, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
page = open(sys.argv[2]).read()
cells = {}
for r in rows:
    cells.setdefault((r["workload"], r["distribution"], int(r["threads"])), []).append(r)
colour = {"ahead": "#d9f0d3", "behind": "#f8d7d7", "within spread": "#eeeeee"}
bad = 0
for (w, d, t), rs in sorted(cells.items()):
    npool = max((float(r["ops_per_s_median"]), r["allocator"]) for r in rs if r["allocator"].startswith("npool-"))
    peer = max((float(r["ops_per_s_median"]), r["allocator"]) for r in rs if not r["allocator"].startswith("npool-"))
    rn = next(r for r in rs if r["allocator"] == npool[1])
    rp = next(r for r in rs if r["allocator"] == peer[1])
    overlap = float(rn["ops_per_s_min"]) <= float(rp["ops_per_s_max"]) and float(rp["ops_per_s_min"]) <= float(rn["ops_per_s_max"])
    verdict = "within spread" if overlap else ("ahead" if npool[0] > peer[0] else "behind")
    want = (f'<tr style="background: {colour[verdict]}"><td>{html.escape(w)}</td><td>{html.escape(d)}</td>'
            f'<td>{npool[1]}</td><td class="n">{npool[0] / 1e6:.2f}</td><td>{peer[1]}</td>'
            f'<td class="n">{peer[0] / 1e6:.2f}</td><td class="n">{npool[0] / peer[0]:.2f}</td><td>{verdict}</td></tr>')
    if want not in page:
        print("missing or different:", want); bad += 1
    print("verdict", w, d, t, verdict)
print("bad", bad)
PY
check "every summary row matches summary.csv" grep -qx "bad 0" "$T/cmp"
grep "^missing" "$T/cmp" | head -3
check "the three verdicts occur (ahead, behind, within spread)" \
  bash -c 'grep -q "churn small 1 ahead" "$1" && grep -q "churn net 1 behind" "$1" && grep -q "within spread" "$1"' _ "$T/cmp"
check "one table per thread count" [ "$(grep -c '<h3>' "$HTML")" -eq 2 ]

# Bad input: nothing written.
mkdir -p "$T/empty"
python3 "$PAGE" "$T/empty" > /dev/null 2> "$T/e1"; rc=$?
check "no sweep.csv: exit 1 (rc=$rc) with a message" bash -c '[ "$1" -eq 1 ] && grep -q "run_page: error: cannot read" "$2"' _ "$rc" "$T/e1"
check "no sweep.csv: no page" [ ! -e "$T/empty/index.html" ]
printf 'a,b\n1,2\n' > "$T/empty/sweep.csv"
python3 "$PAGE" "$T/empty" > /dev/null 2> "$T/e2"; rc=$?
check "not a sweep CSV: exit 1 (rc=$rc)" bash -c '[ "$1" -eq 1 ] && grep -q "not a sweep CSV" "$2"' _ "$rc" "$T/e2"
check "not a sweep CSV: no page" [ ! -e "$T/empty/index.html" ]
python3 "$PAGE" > /dev/null 2>&1; rc=$?
check "no argument: exit 2 (rc=$rc)" [ "$rc" -eq 2 ]

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
