/*
 * Where a sweep writes: a new folder per run, so that a run never replaces
 * another (the reference runs committed under results/ among them).
 *
 *   results/<machine>/<kind>-<date>T<time>/     e.g. default-2026-12-02T154410
 *
 * kind is "default", "full" or "custom" (sweep.c); the time is local, to the
 * second. When that folder exists already (two runs in one second), "-2",
 * "-3", ... is appended: mkdir() creates it, so two sweeps started together
 * never share one either.
 */
#ifndef NP_RUN_DIR_H
#define NP_RUN_DIR_H

#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "<kind>-YYYY-MM-DDTHHMMSS" for t in local time. Returns 0, or -1 when buf
 * is too small (or kind is NULL). */
int run_dir_name(char *buf, size_t len, const char *kind, time_t t);

/* Creates parent (and the folders above it) if needed, then a new folder
 * parent/<run_dir_name>[-N] that did not exist, and writes its path into
 * out. Returns 0, or -1 with errno set (ENAMETOOLONG when out is too small). */
int run_dir_create_new(const char *parent, const char *kind, time_t t, char *out, size_t len);

/* mkdir -p: 0, or -1 with errno set. */
int run_dir_mkdirs(const char *path);

#ifdef __cplusplus
}
#endif
#endif
