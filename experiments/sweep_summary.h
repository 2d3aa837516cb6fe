/*
 * The sweep's closing summary: per cell (workload x distribution x thread
 * count), the best npool strategy and its median throughput as a ratio to
 * the best peer's (the best of the other allocators in the run: glibc,
 * jemalloc, mimalloc, tcmalloc), e.g. "mutex x0.58 mimalloc".
 */
#ifndef NP_SWEEP_SUMMARY_H
#define NP_SWEEP_SUMMARY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sweep_best {
  int npool;    /* index of the fastest "npool-*" allocator, -1: none measured */
  int peer;     /* index of the fastest other allocator, -1: none measured */
  double ratio; /* median[npool] / median[peer]; 0 when either is -1 */
} sweep_best;

/* Over n allocators (names[i], their medians, have[i] non-zero where the
 * median counts: every repeat succeeded). */
sweep_best sweep_best_of(int n, const char *const names[], const double median[],
                         const int have[]);

/* One summary cell: "<strategy> x<ratio> <peer>" ("mutex x0.58 mimalloc"),
 * or "-" when the cell has no npool or no peer measurement. Returns buf. */
char *sweep_best_format(char *buf, size_t len, const sweep_best *b, const char *const names[]);

#ifdef __cplusplus
}
#endif
#endif
