/*
 * The base layer of npool's core: what every layer above builds on, and
 * nothing of theirs (it includes only the public header and the C library).
 *
 *   core/base/     this layer: primitives, the system's memory, the settings
 *   core/memory/   metadata memory, regions and the address registry
 *   core/          the pool, the caches, the runtime and the API (to be split
 *                  into layers of their own, each calling only the ones below)
 *
 * What it offers: the internal-symbol and atomic macros, the clock, anonymous
 * mappings (os_mem.c, the only way npool gets memory), the settings table
 * behind np_config_* (config.c) and np_strerror (error.c). Test builds with
 * NP_FAULT_INJECTION make chosen mappings fail (fault_inject.h).
 */
#ifndef NP_BASE_H
#define NP_BASE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "npool.h"

/* C11 atomics; the C++ tests see the same layout through std::atomic. */
#ifdef __cplusplus
#include <atomic>
#define NP_ATOMIC(T) std::atomic<T>
#else
#include <stdatomic.h>
#define NP_ATOMIC(T) _Atomic(T)
#endif

/* Thread-local variables: initial-exec, so that an access is one load off the
 * thread pointer, never __tls_get_addr (which may call malloc: npool must work
 * as malloc itself, see malloc.c). A library with such variables can be linked,
 * preloaded or loaded at startup, and dlopen'ed only while glibc's static TLS
 * reserve has room (it holds npool's few hundred bytes). */
#define NP_TLS __thread __attribute__((tls_model("initial-exec")))

/* Relaxed atomic access to metadata that lock-free paths read. */
#define NP_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define NP_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define NP_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols shared between the core's files, never exported from a library. */
#define NP_INTERNAL __attribute__((visibility("hidden")))

/* The time of np_clock_ns: the coarse monotonic clock, in ns (a tick is a
 * few ms; enough for decay schedules, and one vDSO read). */
static inline uint64_t np_clock_ns(void) { /* never 0 */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 1;
}

/* os_mem.c: anonymous mappings. NULL when the system refuses. */
NP_INTERNAL void *np_os_map(size_t size);
NP_INTERNAL void *np_os_map_aligned(size_t size, size_t alignment);
NP_INTERNAL void np_os_unmap(void *p, size_t size);
NP_INTERNAL size_t np_os_page_size(void); /* the system's page (sysconf, asked once) */

static inline bool np_is_pow2(size_t v) { return v != 0 && (v & (v - 1)) == 0; }

/* ---- Settings (config.c) ------------------------------------------------------
 * One row per np_config field, mimalloc's options table: the name NPOOL_CONF
 * and np_config_set know it by, how its text reads, its default, its own
 * range and a one-line description. How settings combine (the chunk size,
 * alignment against page size) is np_allocator_create's to check. */
typedef enum np_option_type {
  NP_OPT_SIZE, /* size_t: a number, optional k/K m/M g/G suffix (binary) */
  NP_OPT_UINT, /* unsigned: a number */
  NP_OPT_BOOL, /* int: true/false/1/0 (any non-zero is true in the struct) */
  NP_OPT_ENUM  /* an enum (int-sized): one of `names` (NULL-terminated), value = index */
} np_option_type;

#define NP_MAX_ARENAS 1024
#define NP_MAX_CACHE_ENTRIES 65536 /* small_cache_size, normal_cache_size */

#define NP_OPT_POW2 1u    /* a power of two ... */
#define NP_OPT_OR_ZERO 2u /* ... or 0 */
#define NP_OPT_NUMBER_TOO 4u /* an enum that also takes its value as a number (Netty's 0..3) */

typedef struct np_option {
  const char *name;        /* the field's name */
  np_option_type type;
  size_t offset;           /* offsetof(np_config, field) */
  uint64_t def;            /* Netty's default */
  uint64_t min, max;       /* the field's own range */
  unsigned flags;          /* NP_OPT_POW2, NP_OPT_OR_ZERO, NP_OPT_NUMBER_TOO */
  const char *const *names; /* NP_OPT_ENUM: the values' names, NULL-terminated */
  int error;               /* np_allocator_create's code for a value out of range */
  const char *description; /* one line */
} np_option;

/* config.c: the settings table (np_option), in np_config's field order. */
extern const np_option np_options[] NP_INTERNAL;
extern const unsigned np_option_count NP_INTERNAL;
NP_INTERNAL const np_option *np_option_find(const char *name); /* NULL: no such key */
NP_INTERNAL uint64_t np_option_get(const np_config *c, const np_option *o);
/* NP_OK, or the error code of the first setting outside its own range. */
NP_INTERNAL int np_config_check_each(const np_config *c);

#ifdef __cplusplus
}
#endif
#endif
