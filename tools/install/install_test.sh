#!/usr/bin/env bash
# //:install_test: npool installed and used the way a make/CMake/meson project
# uses it, with no Bazel:
#   1. `install --prefix=TMP` puts every file where the root BUILD says, the
#      shared libraries with their soname and links, exporting exactly what
#      the installed headers declare (NP_API), the malloc libraries also the
#      malloc family and C++'s operators new and delete;
#   2. pkg-config (PKG_CONFIG_PATH=TMP/lib/pkgconfig) gives the right flags;
#      a C and a C++ program (example.c, example.cc) and examples/pipeline.c
#      build with `cc ... $(pkg-config --cflags --libs npool)` only and run;
#      example.cc also against npool_malloc; example.c once more linked
#      statically against libnpool.a (pkg-config --static);
#   3. python3 runs under LD_PRELOAD=TMP/lib/libnpool_malloc.so (and each
#      strategy's), on npool (NPOOL_CONF=stats_print:true says so);
#   4. installing again replaces the install; a relative --prefix is taken
#      from BUILD_WORKING_DIRECTORY (where `bazel run` started);
#   5. --uninstall removes exactly what was installed: files of others in
#      the prefix and the folders that held them before stay.
# Usage: install_test.sh INSTALL EXAMPLE_C EXAMPLE_CC PIPELINE_C PIPELINE_EXPECTED
set -uo pipefail
# (pipefail: no `cmd | grep -q` below, grep -q would stop reading and fail
# the pipeline with the writer's SIGPIPE; `grep ... >/dev/null` reads it all.)

install=$(realpath "$1")
example_c=$2
example_cc=$3
pipeline_c=$4
pipeline_expected=$5
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/install_test.XXXXXX")
prefix=$work/prefix
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

for tool in cc c++ pkg-config python3 nm readelf; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing (bash tools/setup.sh installs it)"; exit 1; }
done

# Files of someone else's in the prefix, which the uninstall must leave.
mkdir -p "$prefix/lib" "$prefix/include"
echo mine >"$prefix/lib/mine.txt"
echo mine >"$prefix/include/mine.h"

# ---- 1. install ------------------------------------------------------------
if ! "$install" --prefix="$prefix" >"$work/install.out" 2>&1; then
  cat "$work/install.out"
  echo "FAIL: install --prefix=$prefix exited non-zero"
  exit 1
fi
cat "$work/install.out"
manifest=$prefix/share/doc/npool/install_manifest.txt
[ -f "$manifest" ] || { echo "FAIL: no $manifest"; exit 1; }
cp "$manifest" "$work/manifest.txt"

PC=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH=$PC
strategy=$(pkg-config --variable=strategy npool) || fail "pkg-config --variable=strategy npool"
echo "default strategy: $strategy"

libs=(npool npool_malloc)
for s in mutex ck rseq; do libs+=("npool_$s" "npool_malloc_$s"); done
for f in lib/libnpool.a include/npool/npool.h include/npool/npool_buf.h \
  include/npool/npool_malloc.h lib/pkgconfig/npool.pc lib/pkgconfig/npool_malloc.pc \
  share/doc/npool/README.md; do
  [ -f "$prefix/$f" ] || fail "not installed: $f"
  grep -qxF "f $f" "$work/manifest.txt" || fail "not in the manifest: $f"
done

# The names the installed headers declare (NP_API), sorted.
grep -h '^NP_API' "$prefix"/include/npool/*.h | grep -o '^NP_API[^(]*(' |
  sed -E 's/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\($/\1/' | sort -u >"$work/declared"
[ "$(wc -l <"$work/declared")" -gt 50 ] || fail "only $(wc -l <"$work/declared") NP_API names in the headers"
# The malloc libraries' own: the C library's allocation functions, C++'s new and delete.
MALLOC_NAMES='^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|malloc_trim|_Znw.*|_Zna.*|_Zdl.*|_Zda.*)$'

for n in "${libs[@]}"; do
  so=$prefix/lib/lib$n.so
  soname=lib$n.so.0
  if [ "$(readlink "$so")" != "$soname" ] || [ ! -L "$prefix/lib/$soname" ] ||
    [ ! -f "$(readlink -f "$so")" ] || [ -L "$(readlink -f "$so")" ]; then
    fail "lib$n.so is not a link to $soname, a link to the library: $(ls -l "$prefix/lib/lib$n".so*)"
    continue
  fi
  real=$(basename "$(readlink -f "$so")")
  case $real in lib$n.so.0.*) ;; *) fail "lib$n.so's file is named $real, not lib$n.so.0.x.y" ;; esac
  got=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$got" = "$soname" ] || fail "lib$n.so: soname '$got', expected $soname"
  nm -D -g --defined-only "$so" | awk '{print $NF}' | sort -u >"$work/exported.$n"
  case $n in
    npool_malloc*)
      grep -Ev "$MALLOC_NAMES" "$work/exported.$n" >"$work/api.$n"
      for f in malloc free calloc realloc posix_memalign aligned_alloc malloc_usable_size malloc_trim _Znwm _ZdlPv _Znam _ZdaPv; do
        grep -qxF "$f" "$work/exported.$n" || fail "lib$n.so does not export $f"
      done
      ;;
    *) cp "$work/exported.$n" "$work/api.$n" ;;
  esac
  if diff "$work/declared" "$work/api.$n" >"$work/diff.$n"; then
    pass "lib$n.so: soname $soname, file $real, exports the $(wc -l <"$work/declared") declared names$(
      [ "${n#npool_malloc}" != "$n" ] && echo " and the malloc family and operators")"
  else
    fail "lib$n.so exports other names than the headers declare (< declared only, > exported only):"
    head -20 "$work/diff.$n"
  fi
done

# libnpool.a holds the core: every declared name is defined in it.
nm -g --defined-only "$prefix/lib/libnpool.a" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u >"$work/static_defined"
missing=$(comm -23 "$work/declared" "$work/static_defined")
[ -z "$missing" ] && pass "libnpool.a defines every declared name" ||
  fail "libnpool.a lacks: $(echo $missing | head -c 300)"

# ---- 2. pkg-config, then programs built with cc and it alone ----------------
check "pkg-config knows npool and npool_malloc" pkg-config --exists npool npool_malloc
# pkg_config_is WANT ARGS...: pkg-config's output, white space trimmed, is WANT.
pkg_config_is() {
  local want=$1 got
  shift
  got=$(pkg-config "$@" | xargs)
  [ "$got" = "$want" ] && pass "pkg-config $*: $got" || fail "pkg-config $*: '$got', expected '$want'"
}
pkg_config_is "-I$prefix/include/npool" --cflags npool
pkg_config_is "-I$prefix/include/npool" --cflags npool_malloc
pkg_config_is "-L$prefix/lib -lnpool" --libs npool
pkg_config_is "-L$prefix/lib -lnpool_malloc" --libs npool_malloc
static_libs=$(pkg-config --static --libs npool)
case " $static_libs " in *" -pthread "*) pass "pkg-config --static --libs npool has -pthread" ;;
  *) fail "pkg-config --static --libs npool: '$static_libs' (no -pthread)" ;; esac
if [ "$strategy" = ck ]; then
  case " $static_libs " in *" -lck "*) pass "... and -lck (ck strategy)" ;; *) fail "no -lck in '$static_libs'" ;; esac
fi

# The build under test may be a sanitizer's (bazel test --config=ubsan): then
# a program that links libnpool.a statically needs that runtime too.
san=()
if nm -u "$prefix/lib/libnpool.a" 2>/dev/null | grep __ubsan_ >/dev/null; then
  san=(-fsanitize=undefined)
  echo "libnpool.a is built with UBSan: the static link adds -fsanitize=undefined"
fi

# build NAME COMPILER SOURCE FLAGS...: compiles, or fails the test.
build() {
  local name=$1 compiler=$2 source=$3
  shift 3
  if "$compiler" -Wall -o "$work/$name" "$source" "$@" >"$work/$name.build" 2>&1; then
    return 0
  fi
  fail "$compiler -o $name $source $*:"
  cat "$work/$name.build"
  return 1
}
# run_ok NAME EXPECTED_PREFIX [env...]: runs the program, checks its output.
run_ok() {
  local name=$1 want=$2 out
  shift 2
  if out=$(env "$@" "$work/$name" 2>&1) && [[ "$out" == "$want"* ]]; then
    pass "$name: $out"
  else
    fail "$name printed: $out"
  fi
}
needed() { readelf -d "$work/$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
run_env=(LD_LIBRARY_PATH="$prefix/lib")

# shellcheck disable=SC2046 # pkg-config's output is words
if build example_c cc "$example_c" $(pkg-config --cflags --libs npool); then
  needed example_c | grep -xF libnpool.so.0 >/dev/null && pass "example_c needs libnpool.so.0 (the soname)" ||
    fail "example_c's NEEDED: $(needed example_c | tr '\n' ' ')"
  run_ok example_c "example.c: ok, strategy $strategy" "${run_env[@]}"
  LD_LIBRARY_PATH="$prefix/lib" ldd "$work/example_c" | grep -F "$prefix/lib/libnpool.so.0" >/dev/null &&
    pass "example_c loads $prefix/lib/libnpool.so.0" || fail "ldd: $(LD_LIBRARY_PATH="$prefix/lib" ldd "$work/example_c")"
fi
# shellcheck disable=SC2046
build example_cc c++ "$example_cc" $(pkg-config --cflags --libs npool) &&
  run_ok example_cc "example.cc: ok, strategy $strategy" "${run_env[@]}"
# shellcheck disable=SC2046
build example_cc_malloc c++ "$example_cc" -DWITH_NPOOL_MALLOC $(pkg-config --cflags --libs npool_malloc) &&
  run_ok example_cc_malloc "example.cc: ok, strategy $strategy, operator new and malloc on npool" "${run_env[@]}"
# shellcheck disable=SC2046
if build pipeline cc "$pipeline_c" $(pkg-config --cflags --libs npool); then
  if LD_LIBRARY_PATH="$prefix/lib" "$work/pipeline" >"$work/pipeline.out" 2>&1 &&
    diff -u "$pipeline_expected" "$work/pipeline.out"; then
    pass "examples/pipeline.c built against the install prints what it should"
  else
    fail "examples/pipeline.c: $(cat "$work/pipeline.out")"
  fi
fi
# Statically: -Bstatic makes -lnpool find libnpool.a; libc stays shared.
# shellcheck disable=SC2046
if build example_static cc "$example_c" $(pkg-config --cflags npool) \
  -Wl,-Bstatic $(pkg-config --static --libs npool) -Wl,-Bdynamic "${san[@]}"; then
  if needed example_static | grep libnpool >/dev/null; then
    fail "example_static still needs a shared npool: $(needed example_static | tr '\n' ' ')"
  else
    pass "example_static links libnpool.a (needs: $(needed example_static | tr '\n' ' '))"
  fi
  run_ok example_static "example.c: ok, strategy $strategy" # no LD_LIBRARY_PATH
fi

# ---- 3. python3 under the installed preload libraries ----------------------
PY_PROG='
import json, threading
def work(k, out):
    d = {str(i): [i] * (i % 5) for i in range(50000)}
    out[k] = sum(len(v) for v in json.loads(json.dumps(d)).values())
out = {}
ts = [threading.Thread(target=work, args=(k, out)) for k in range(3)]
[t.start() for t in ts]
[t.join() for t in ts]
assert list(out.values()) == [100000] * 3, out
print("python3: ok")
'
for lib in libnpool_malloc.so libnpool_malloc_mutex.so libnpool_malloc_ck.so libnpool_malloc_rseq.so; do
  want=$strategy
  case $lib in libnpool_malloc_*) want=${lib#libnpool_malloc_} want=${want%.so} ;; esac
  out=$(NPOOL_CONF=stats_print:true LD_PRELOAD="$prefix/lib/$lib" python3 -c "$PY_PROG" 2>"$work/py.err")
  rc=$?
  if [ "$rc" -eq 0 ] && [ "$out" = "python3: ok" ] && grep -q "^npool stats: strategy $want" "$work/py.err"; then
    pass "python3 -c ... under LD_PRELOAD=$prefix/lib/$lib (npool stats: strategy $want)"
  else
    fail "python3 under LD_PRELOAD=$lib: exit $rc, '$out', stderr: $(head -c 400 "$work/py.err")"
  fi
done

# ---- 4. again over it; a relative prefix ------------------------------------
if "$install" --prefix="$prefix" >"$work/again.out" 2>&1 && grep -q 'replacing' "$work/again.out" &&
  diff <(sort "$work/manifest.txt") <(sort "$manifest") >/dev/null; then
  pass "a second install replaces the first (same manifest)"
else
  fail "second install: $(cat "$work/again.out"); manifest diff: $(diff "$work/manifest.txt" "$manifest")"
fi
mkdir -p "$work/wd"
if (cd / && BUILD_WORKING_DIRECTORY="$work/wd" "$install" --prefix=rel/p >/dev/null 2>&1) &&
  [ -L "$work/wd/rel/p/lib/libnpool.so" ]; then
  pass "a relative --prefix is relative to BUILD_WORKING_DIRECTORY"
  (cd / && BUILD_WORKING_DIRECTORY="$work/wd" "$install" --prefix=rel/p --uninstall >/dev/null) ||
    fail "uninstall of the relative prefix"
  [ ! -e "$work/wd/rel/p" ] && pass "... and its uninstall removes the prefix it created" ||
    fail "left in $work/wd/rel/p: $(find "$work/wd/rel/p" | head)"
else
  fail "install --prefix=rel/p with BUILD_WORKING_DIRECTORY=$work/wd: no $work/wd/rel/p/lib/libnpool.so"
fi
"$install" --bogus >/dev/null 2>&1 && fail "an unknown argument was accepted" || pass "an unknown argument is refused"

# ---- 5. uninstall -------------------------------------------------------------
if "$install" --prefix="$prefix" --uninstall >"$work/uninstall.out" 2>&1; then
  cat "$work/uninstall.out"
  left=0
  while read -r kind path; do
    case $kind in
      f | l) if [ -e "$prefix/$path" ] || [ -L "$prefix/$path" ]; then fail "left: $path"; left=1; fi ;;
    esac
  done <"$work/manifest.txt"
  [ "$left" -eq 0 ] && pass "--uninstall removed every file and link of the manifest"
  want=$(printf '%s\n' . ./include ./include/mine.h ./lib ./lib/mine.txt)
  got=$(cd "$prefix" && find . | LC_ALL=C sort)
  [ "$got" = "$want" ] && pass "the prefix holds only what was there before the install" ||
    fail "the prefix holds: $(echo $got)"
else
  fail "--uninstall: $(cat "$work/uninstall.out")"
fi
"$install" --prefix="$prefix" --uninstall >/dev/null 2>&1 && fail "a second --uninstall succeeded" ||
  pass "a second --uninstall is refused (nothing installed)"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
