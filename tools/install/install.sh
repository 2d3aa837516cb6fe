#!/usr/bin/env bash
# Installs npool for builds outside Bazel (make, CMake, meson: pkg-config).
#
#   bazel run //:install [-- --prefix=DIR]          DIR: /usr/local by default
#   bazel run //:install -- --prefix=DIR --uninstall
#
# A relative DIR is taken from where `bazel run` was started. What goes where
# is listed in the root BUILD; every file and link written, and every folder
# this install had to create, goes into DIR/share/doc/npool/install_manifest.txt,
# and --uninstall removes exactly those (folders only when empty: it leaves
# what others put there). Installing again over an install first removes
# the files the earlier one listed.
#
# The files come from this target's runfiles (the root BUILD's //:install).
set -euo pipefail

PROG=install.sh
MANIFEST=share/doc/npool/install_manifest.txt

die() { echo "$PROG: error: $*" >&2; exit 1; }

usage() {
  cat <<'EOF'
usage: bazel run //:install -- [--prefix=DIR] [--uninstall]
  --prefix=DIR   where to install (default /usr/local); relative to the
                 directory bazel was run from
  --uninstall    remove what an earlier install into DIR put there (its
                 share/doc/npool/install_manifest.txt)
EOF
}

prefix=/usr/local
mode=install
while [ "$#" -gt 0 ]; do
  case $1 in
    --prefix=*) prefix=${1#--prefix=} ;;
    --prefix)
      [ "$#" -ge 2 ] || die "--prefix needs a directory"
      prefix=$2
      shift
      ;;
    --uninstall) mode=uninstall ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done
[ -n "$prefix" ] || die "--prefix is empty"
case $prefix in
  /*) ;;
  *) prefix="${BUILD_WORKING_DIRECTORY:-$PWD}/$prefix" ;;
esac
prefix=$(realpath -m -- "$prefix")
# pkg-config's variables cannot hold white space.
case $prefix in
  *[[:space:]]*) die "the prefix '$prefix' has white space, which a .pc file cannot express" ;;
esac

# ---------------------------------------------------------------------------
# Uninstall: the manifest's lines are "f PATH" (a file), "l PATH" (a symbolic
# link) and "d PATH" (a folder the install created), PATH relative to the
# prefix.

checked_path() { # refuses what could leave the prefix
  case $1 in
    '' | /* | .. | ../* | */../* | */..) die "bad path '$1' in $prefix/$MANIFEST" ;;
  esac
}

# Removes the files and links the manifest lists. Prints its "d" lines.
remove_files() {
  local kind path
  while read -r kind path; do
    [ -n "$kind" ] || continue
    checked_path "$path"
    case $kind in
      f | l)
        if [ -L "$prefix/$path" ] || [ -f "$prefix/$path" ]; then
          rm -f -- "$prefix/$path"
        elif [ -e "$prefix/$path" ]; then
          echo "$PROG: warning: $prefix/$path is not a file any more; left alone" >&2
        fi
        ;;
      d) echo "d $path" ;;
      *) die "bad line '$kind $path' in $prefix/$MANIFEST" ;;
    esac
  done <"$prefix/$MANIFEST"
}

# Removes the folders of "d" lines on stdin, deepest first, where empty.
remove_dirs() {
  local kind path
  sort -r -u | while read -r kind path; do
    [ "$path" = . ] && dir=$prefix || dir=$prefix/$path
    [ -d "$dir" ] || continue
    rmdir -- "$dir" 2>/dev/null || echo "$PROG: left $dir (not empty)"
  done
}

# The dynamic linker's cache knows /usr/local/lib and /usr/lib; refresh it
# there (as root), so that programs find the new libraries.
refresh_ld_cache() {
  case $prefix in
    /usr/local | /usr)
      if [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig || true; fi
      ;;
  esac
}

if [ "$mode" = uninstall ]; then
  [ -f "$prefix/$MANIFEST" ] || die "no npool install in $prefix (no $MANIFEST)"
  dirs=$(remove_files)
  rm -f -- "$prefix/$MANIFEST"
  printf '%s\n' "$dirs" | grep -v '^$' | remove_dirs || true
  refresh_ld_cache
  echo "npool: uninstalled from $prefix"
  exit 0
fi

# ---------------------------------------------------------------------------
# Install.

# This target's runfiles: bazel run starts in them; a test that has this
# binary in its data has them under RUNFILES_DIR / TEST_SRCDIR.
find_runfiles() {
  local d
  for d in "${RUNFILES_DIR:-}/npool" "${TEST_SRCDIR:-}/npool" "$0.runfiles/npool" "$PWD" \
    "$(dirname "$0")"; do
    if [ -f "$d/install_info.sh" ]; then
      realpath -- "$d"
      return
    fi
  done
  die "cannot find this target's runfiles (install_info.sh); run it with bazel run //:install"
}
src=$(find_runfiles)
# shellcheck source=/dev/null
. "$src/install_info.sh" # NPOOL_VERSION, NPOOL_SOVERSION, NPOOL_LIBS, NPOOL_DEFAULT_STRATEGY
libs_private=$(tr -s ' \n' ' ' <"$src/libnpool.flags" | sed 's/^ //; s/ $//')

if [ -e "$prefix" ] && [ ! -d "$prefix" ]; then die "$prefix is not a folder"; fi
# The first folder that exists on the way to the prefix must be writable.
probe=$prefix
while [ ! -e "$probe" ]; do probe=$(dirname -- "$probe"); done
[ -w "$probe" ] || die "cannot write to $probe (run as root, or choose --prefix=DIR)"

# An earlier install here: remove its files, keep its record of folders.
old_dirs=
if [ -f "$prefix/$MANIFEST" ]; then
  echo "npool: replacing the install in $prefix"
  old_dirs=$(remove_files)
  rm -f -- "$prefix/$MANIFEST"
fi

manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
[ -z "$old_dirs" ] || printf '%s\n' "$old_dirs" >>"$manifest"

# Creates the folder PATH (relative to the prefix) and every one above it,
# noting those it made.
make_dir() {
  local rel=$1 parts=() p
  while :; do
    if [ "$rel" = . ]; then p=$prefix; else p=$prefix/$rel; fi
    [ -d "$p" ] && break
    parts+=("$rel")
    [ "$rel" = . ] && break
    rel=$(dirname -- "$rel")
  done
  local i
  for ((i = ${#parts[@]} - 1; i >= 0; i--)); do
    rel=${parts[$i]}
    # (Folders above the prefix are not the install's: made, but not noted.)
    if [ "$rel" = . ]; then mkdir -p -- "$prefix"; else mkdir -- "$prefix/$rel"; fi
    echo "d $rel" >>"$manifest"
  done
}

# put MODE SOURCE PATH: installs one file at PATH (relative to the prefix).
put() {
  make_dir "$(dirname -- "$3")"
  rm -f -- "$prefix/$3" # a link or a read-only file from before
  cp -- "$2" "$prefix/$3"  # (not install(1): a PATH with "." finds this script)
  chmod "$1" -- "$prefix/$3"
  echo "f $3" >>"$manifest"
}

# link TARGET PATH: PATH (relative to the prefix) -> TARGET (relative to PATH's folder).
link() {
  rm -f -- "$prefix/$2"
  ln -s -- "$1" "$prefix/$2"
  echo "l $2" >>"$manifest"
}

# Shared libraries: lib<name>.so.<version>, its soname link, the link to build with.
for name in $NPOOL_LIBS; do
  real=lib$name.so.$NPOOL_VERSION
  put 0755 "$src/lib$name.so" "lib/$real"
  link "$real" "lib/lib$name.so.$NPOOL_SOVERSION"
  link "lib$name.so.$NPOOL_SOVERSION" "lib/lib$name.so"
done
put 0644 "$src/libnpool.a" lib/libnpool.a

for h in npool.h npool_buf.h npool_malloc.h; do
  put 0644 "$src/core/include/$h" "include/npool/$h"
done

# .pc files: the templates with the prefix, version, strategy and flags.
for pc in npool npool_malloc; do
  text=$(<"$src/tools/install/$pc.pc.in")
  text=${text//@PREFIX@/"$prefix"}
  text=${text//@VERSION@/"$NPOOL_VERSION"}
  text=${text//@STRATEGY@/"$NPOOL_DEFAULT_STRATEGY"}
  text=${text//@LIBS_PRIVATE@/"$libs_private"}
  tmp=$(mktemp)
  printf '%s\n' "$text" >"$tmp"
  put 0644 "$tmp" "lib/pkgconfig/$pc.pc"
  rm -f -- "$tmp"
done

put 0644 "$src/README.md" share/doc/npool/README.md

# The manifest lists itself, so that --uninstall removes it too.
echo "f $MANIFEST" >>"$manifest"
cp -- "$manifest" "$prefix/$MANIFEST"
chmod 0644 -- "$prefix/$MANIFEST"
refresh_ld_cache

cat <<EOF
npool $NPOOL_VERSION ($NPOOL_DEFAULT_STRATEGY strategy by default) installed in $prefix:
  $prefix/lib: libnpool.so, libnpool.a, libnpool_malloc.so, and per strategy libnpool_<s>.so, libnpool_malloc_<s>.so ($NPOOL_STRATEGIES)
  $prefix/include/npool: npool.h, npool_buf.h, npool_malloc.h
  $prefix/lib/pkgconfig: npool.pc, npool_malloc.pc
  $prefix/$MANIFEST: what --uninstall removes
Build against it:
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  cc prog.c \$(pkg-config --cflags --libs npool)
EOF
