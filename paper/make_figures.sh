#!/usr/bin/env bash
# Rebuilds the paper's figures from the CSV of the run the paper uses:
#   bash paper/make_figures.sh             the paper's run, PAPER_RUN below
#   bash paper/make_figures.sh RUN_DIR...  other runs (e.g. a new one of yours,
#                                          results/<machine>/default-<date>T<time>)
# For each run it runs experiments/plot.sh on RUN_DIR/sweep.csv into
# RUN_DIR/figures/ (paper.md links the paper's run's files) and writes the
# run's page, RUN_DIR/index.html (experiments/run_page.py), and for the
# paper's run it writes the tables of paper.md and README.md (paper/tables.py, between their
# `<!-- table: ... -->` markers; //paper:tables_test fails when they differ from
# the run). Needs gnuplot (bash tools/setup.sh installs gnuplot-nox); touches
# nothing else. The
# committed figures are what plot.sh makes from the committed CSV: with
# Debian 12's gnuplot, rebuilding them leaves `git status` clean.
set -euo pipefail
runs=()
for dir in "$@"; do # relative to where it was started
  case $dir in /*) runs+=("$dir") ;; *) runs+=("$PWD/$dir") ;; esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The run every number and figure of paper.md's section 3 comes from (2 vCPUs,
# Intel Xeon; `bazel run //experiments:sweep -- --full`). The sweep never writes
# here unless told to (--out results/intel-r-xeon-r-processor-2cpu/full).
PAPER_RUN=results/intel-r-xeon-r-processor-2cpu/full

[ "${#runs[@]}" -gt 0 ] || runs=("$PAPER_RUN")
for dir in "${runs[@]}"; do
  dir=${dir%/}
  csv=$dir/sweep.csv
  if [ ! -f "$csv" ]; then
    echo "paper: no $csv (a run folder holds sweep.csv; run the sweep first, see README)" >&2
    exit 1
  fi
  [ "$(realpath "$dir")" = "$(realpath "$PAPER_RUN")" ] && what="the paper's run" || what="run"
  echo "paper: $what $csv -> $dir/figures"
  bash experiments/plot.sh "$csv" "$dir/figures" >/dev/null
  python3 experiments/run_page.py "$dir" >/dev/null
  if [ "$what" = "the paper's run" ]; then python3 paper/tables.py "$PAPER_RUN" paper/paper.md README.md; fi
done
echo "paper: figures rebuilt"
