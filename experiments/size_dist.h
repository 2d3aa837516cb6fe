/*
 * The size distributions the workloads draw from. Each fills a table of
 * pre-drawn sizes from a seed, so that every allocator sees exactly the same
 * sequence (the draws cost nothing inside the timed loop).
 *
 *   fixed64  64 bytes, always
 *   small    uniform over [16, 512] bytes
 *   net      a network-buffer mix: 92% log-uniform over [256 B, 16 KiB],
 *            8% log-uniform over (64 KiB, 1 MiB]
 *   mixed    small, normal and huge together: 89% uniform [16, 512] B,
 *            10% log-uniform [8 KiB, 1 MiB] (normal: runs of pages),
 *            1% uniform [5 MiB, 8 MiB] (huge: past the 4 MiB chunk)
 *   large    log-uniform over [1 MiB, 32 MiB]: normal runs and huge blocks,
 *            a few live per thread (churn only: --large-slots, default 4),
 *            the shape of a program that handles big buffers
 *   invsq    [4 B, 32 KiB] with density proportional to 1/size^2, the shape
 *            of a typical program's requests: half are under 8 bytes, 9 in
 *            10 under 40, and a long tail up to 32 KiB
 */
#ifndef NP_SIZE_DIST_H
#define NP_SIZE_DIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DIST_FIXED64, DIST_SMALL, DIST_NET, DIST_MIXED, DIST_LARGE, DIST_INVSQ, DIST_COUNT } size_dist;

/* The distribution called name, or -1. */
int size_dist_parse(const char *name);
const char *size_dist_name(size_dist d);
/* "fixed64,small,net,mixed,large,invsq" */
const char *size_dist_all(void);

/* Fills sizes[0..n) with draws of d from seed (the same seed, the same table). */
void size_dist_fill(size_dist d, uint64_t seed, uint32_t *sizes, size_t n);

/* splitmix64: the harness's random numbers (fixed seeds). */
static inline uint64_t bench_splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

#ifdef __cplusplus
}
#endif
#endif
