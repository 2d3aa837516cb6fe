#!/usr/bin/env bash
# Installs what building and testing npool needs on Debian 12:
#   Bazel 4.2.3 (bazel-bootstrap) and a JDK for it, a C/C++ toolchain, and the
#   system libraries the build links (Concurrency Kit, GoogleTest, jemalloc,
#   mimalloc, gperftools' tcmalloc), gnuplot, python3 and git (real programs
#   that the LD_PRELOAD tests and benchmark run), and pkg-config (the install
#   test builds programs against an installed npool with it), clang and its
#   runtimes (the libFuzzer fuzzers: gcc has no libFuzzer).
#
# Idempotent: when every package is already installed it does nothing (no apt,
# no network), so running it before each build is cheap and works offline.
# Runs apt as root, or through sudo when not root.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap        # Bazel 4.2.3 (`bazel --version` prints no_version)
  default-jdk-headless   # Bazel's server runs on the system JDK
  build-essential        # gcc, g++, make, libc headers
  libck-dev              # Concurrency Kit (the ck strategy)
  libgtest-dev           # GoogleTest (*_test.cc)
  libjemalloc-dev        # baseline
  libmimalloc-dev        # baseline
  libgoogle-perftools-dev  # baseline: tcmalloc
  gnuplot-nox            # the sweep's figures (experiments/plot.sh)
  python3                # the preload test's and benchmark's real programs
  git                    # ... one of them
  valgrind               # callgrind: instructions per pair (bazel run //experiments:instructions)
  pkg-config             # //:install_test builds against the install with it
  clang                  # the fuzzers (//core:*_fuzz_*): clang 14, libFuzzer ...
  libclang-rt-14-dev     # ... whose runtimes (fuzzer, ASan, UBSan) are in this one
)

installed() {
  # "install ok installed" only for a fully installed package; anything else
  # (absent, half-installed, config-files only) counts as missing.
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ] && command -v bazel >/dev/null && command -v java >/dev/null; then
  echo "setup.sh: all packages present (${PACKAGES[*]})"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo -n)   # -n: fail instead of prompting (CI has no stdin)
else
  echo "setup.sh: not root and no sudo; install as root: ${missing[*]:-${PACKAGES[*]}}" >&2
  exit 1
fi

# bazel or java gone although dpkg says the packages are installed: reinstall.
reinstall=()
if [ "${#missing[@]}" -eq 0 ]; then
  missing=(bazel-bootstrap default-jdk-headless)
  reinstall=(--reinstall)
fi

echo "setup.sh: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${reinstall[@]}" "${missing[@]}"

for tool in bazel java gcc g++ clang; do
  if ! command -v "$tool" >/dev/null; then
    echo "setup.sh: '$tool' still missing after install" >&2
    exit 1
  fi
done
echo "setup.sh: done"
