#!/bin/sh
# Runs a test binary with glibc's rseq registration turned off, so that the
# rseq strategy takes its documented fallback (per-thread caches).
export GLIBC_TUNABLES=glibc.pthread.rseq=0
exec "$@"
