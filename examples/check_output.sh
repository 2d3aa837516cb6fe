#!/bin/sh
# Runs an example and compares its standard output with the expected text:
#   check_output.sh PROGRAM EXPECTED_FILE
# Exits non-zero (showing the difference) when the program fails or prints
# anything else.
program=$1
expected=$2
actual=${TEST_TMPDIR:-/tmp}/actual.$$
if ! "$program" >"$actual"; then
  echo "FAIL: $program exited with status $?" >&2
  cat "$actual" >&2
  exit 1
fi
if ! diff -u "$expected" "$actual"; then
  echo "FAIL: $program printed something else (above: - expected, + actual)" >&2
  exit 1
fi
echo "PASS: $program"
