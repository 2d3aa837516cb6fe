#!/usr/bin/env bash
# Instructions per immediate alloc+free pair, per allocator, counted by
# callgrind (repeatable, whatever else the machine does): each micro worker
# runs N and 2N pairs of one size; the difference over N is the pair's cost,
# start-up excluded (the worker's loop, about 10 instructions, included).
#   bazel run //experiments:instructions [-- SIZE [N]]   (defaults 64, 100000)
# Under valgrind glibc's rseq registration is off, so npool-rseq runs its
# per-thread fallback.
set -euo pipefail
size=${1:-64}
n=${2:-100000}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v valgrind >/dev/null || { echo "instructions: valgrind is not installed (tools/setup.sh)" >&2; exit 2; }
count() { # worker pairs -> instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
    awk '/refs:/ {gsub(",", "", $4); print $4}'
}
printf '%-12s %12s\n' allocator "instr/pair"
for w in npool_mutex npool_ck npool_rseq glibc jemalloc mimalloc tcmalloc; do
  bin="$here/micro_$w"
  [ -x "$bin" ] || { echo "instructions: no $bin" >&2; exit 2; }
  one=$(count "$bin" --immediate-only --size "$size" --pairs "$n")
  two=$(count "$bin" --immediate-only --size "$size" --pairs $((2 * n)))
  printf '%-12s %12d\n' "${w/_/-}" $(( (two - one) / n ))
done
