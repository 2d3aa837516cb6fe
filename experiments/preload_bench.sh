#!/usr/bin/env bash
# bazel run //experiments:preload_bench [-- --repeats N --scale N --programs a,b --quick]
# Real programs under each allocator's LD_PRELOAD (preload_bench.py), with npool's
# three preload libraries built by Bazel (the runfiles of this target).
set -euo pipefail
here=$(dirname "$0")
lib() { # the runfiles path of //core:libnpool_malloc_<strategy>.so
  for p in "core/libnpool_malloc_$1.so" "$here/../core/libnpool_malloc_$1.so"; do
    [ -e "$p" ] && { realpath "$p"; return; }
  done
  echo "preload_bench: libnpool_malloc_$1.so not found" >&2
  exit 1
}
script=experiments/preload_bench.py
[ -e "$script" ] || script="$here/preload_bench.py"
exec /usr/bin/python3 "$script" --npool "mutex=$(lib mutex)" --npool "ck=$(lib ck)" \
  --npool "rseq=$(lib rseq)" "$@"
