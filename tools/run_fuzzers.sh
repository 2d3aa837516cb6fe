#!/usr/bin/env bash
# Builds the libFuzzer fuzzers (//core:<name>_fuzz_<strategy>, core/fuzz/) and
# runs each for a bounded time on a copy of its seed corpus
# (core/fuzz/corpus/<name>/; the committed corpus is only read).
#
#   tools/run_fuzzers.sh [--time SECONDS] [--out DIR] [FUZZER...]
#
#   --time  seconds per fuzzer (default 25)
#   --out   where the working corpora, crash inputs and logs go (default: a
#           new folder under $TMPDIR); a crash input is DIR/<fuzzer>/crash-*
#   FUZZER  target names (alloc_fuzz_mutex ...); default: every one
#
# Prints one line per fuzzer, "fuzz: PASS <name> ..." or "fuzz: FAIL <name> ...",
# then "fuzz: N passed, N failed". Exits 0 only when every fuzzer passed (and
# 2 when the build failed).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$(pwd)

TIME=25
OUT=""
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) TIME=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/npool-fuzz.XXXXXX")
mkdir -p "$OUT"

if [ "${#names[@]}" -eq 0 ]; then
  mapfile -t names < <(bazel query --color=no --curses=no 'kind("np_fuzz_binary", //core:all)' 2>/dev/null \
    | sed 's|^//core:||' | sort)
fi
if [ "${#names[@]}" -eq 0 ]; then
  echo "fuzz: no fuzzers found (bazel query failed?)" >&2
  exit 2
fi
targets=("${names[@]/#/\/\/core:}")
if ! bazel build --color=no --curses=no "${targets[@]}" </dev/null >"$OUT/build.log" 2>&1; then
  tail -n 40 "$OUT/build.log"
  echo "fuzz: build failed (log: $OUT/build.log)"
  exit 2
fi
BIN=$(bazel info bazel-bin 2>/dev/null)

passed=0
failed=0
for name in "${names[@]}"; do
  base=${name%_fuzz_*}          # alloc_fuzz_mutex -> alloc
  dir="$OUT/$name"
  mkdir -p "$dir/corpus"
  args=(-max_total_time="$TIME" -rss_limit_mb=4096 -timeout=60 -print_final_stats=1
        -artifact_prefix="$dir/")
  [ -f "core/fuzz/$base.dict" ] && args+=(-dict="$ROOT/core/fuzz/$base.dict")
  "$BIN/core/$name" "${args[@]}" "$dir/corpus" "$ROOT/core/fuzz/corpus/$base" \
    </dev/null >"$dir/log.txt" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log.txt" | grep -o '[0-9]*$')
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: PASS $name (${TIME}s, ${runs:-?} runs)"
    passed=$((passed + 1))
  else
    crash=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -n 1)
    echo "fuzz: FAIL $name (exit $rc; input: ${crash:-none}; log: $dir/log.txt)"
    grep -m 5 -E 'check failed|ERROR: AddressSanitizer|runtime error|SUMMARY' "$dir/log.txt" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed (in $OUT)"
[ "$failed" -eq 0 ]
