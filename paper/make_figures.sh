#!/usr/bin/env bash
# Rebuilds every figure of the paper from the CSVs in results/:
#   bash paper/make_figures.sh
# For each results/<machine>/<run>/sweep.csv it runs experiments/plot.sh into
# results/<machine>/<run>/figures/ (the paper links those files). Needs
# gnuplot (bash tools/setup.sh installs gnuplot-nox); touches nothing else.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
found=0
for csv in results/*/*/sweep.csv; do
  [ -e "$csv" ] || continue
  found=1
  dir=$(dirname "$csv")
  echo "paper: $csv -> $dir/figures"
  bash experiments/plot.sh "$csv" "$dir/figures" >/dev/null
done
if [ "$found" -eq 0 ]; then
  echo "paper: no results/*/*/sweep.csv; run the sweep first (see README)" >&2
  exit 1
fi
echo "paper: figures rebuilt"
