/*
 * The small interface every measured allocator implements, so that the
 * workloads (experiments/workload_worker.c) are the same code for all of
 * them. One implementation is linked into each worker binary:
 *
 *   baseline/glibc.c     malloc/free of a binary that links no other malloc
 *   baseline/jemalloc.c  malloc/free of a binary linking -ljemalloc
 *   baseline/mimalloc.c  malloc/free of a binary linking -lmimalloc
 *   baseline/tcmalloc.c  malloc/free of a binary linking -ltcmalloc_minimal
 *   experiments/bench_alloc_npool.c  np_alloc/np_free (and np_buf for buffers)
 *
 * A linked allocator replaces malloc for the whole process, so each allocator
 * runs in a process of its own (the sweep starts one per measurement).
 * The four malloc baselines share baseline/malloc_buf.c for the buffer calls.
 */
#ifndef NP_BENCH_ALLOC_H
#define NP_BENCH_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the allocator up; 0 on success, else prints why and returns non-zero. */
int bench_alloc_init(void);

/* One line naming exactly what is measured (library, version) into buf.
 * Returns 0 when malloc really is this allocator (checked with the
 * allocator's own introspection), non-zero otherwise. */
int bench_alloc_identity(char *buf, size_t len);

void *bench_alloc(size_t n);
void bench_free(void *p);

/* Buffers, for the Netty-style pipeline: a buffer of n bytes filled with n
 * bytes taken cyclically from pattern[0..pattern_len) (npool: np_buf_alloc +
 * np_buf_write_bytes; baselines: malloc + memcpy). NULL when out of memory. */
void *bench_buf_make(size_t n, const unsigned char *pattern, size_t pattern_len);
/* Reads the buffer's first and last bytes into a checksum, stores its length
 * in *len and releases it (npool: np_buf_get_u8 + np_buf_release; baselines:
 * loads + free). */
uint64_t bench_buf_consume(void *buf, size_t *len);

/* Where the allocator's memory is at this moment, in bytes, for allocators
 * that can say (npool: np_allocator_stats); the workloads record it at the
 * run's peak RSS. */
typedef struct bench_breakdown {
  uint64_t active;                   /* blocks handed out (their usable bytes) */
  uint64_t thread_cache, remote;     /* cached per thread; on the way to an owner */
  uint64_t cpu_cache, transfer;      /* cached per CPU; between the CPUs and the arenas */
  uint64_t subpage_free;             /* free elements of small runs */
  uint64_t pages_resident, pages_purged; /* free pages of chunks in use */
  uint64_t retained;                 /* emptied chunks and huge blocks kept mapped */
  uint64_t metadata;                 /* the allocator's own records (mapped) */
  uint64_t huge_tail;                /* past huge blocks whose span was reused, to the span's end */
} bench_breakdown;

/* 1 with *out filled, or 0 when the allocator cannot say (the peers). */
int bench_alloc_breakdown(bench_breakdown *out);

/* After the workload, every thread joined: a check that nothing leaked (npool:
 * its stats must show no active or cached bytes; baselines: nothing to check).
 * Prints what it found; 0 when fine, 3 when the check failed. */
int bench_alloc_finish(void);

#ifdef __cplusplus
}
#endif
#endif
