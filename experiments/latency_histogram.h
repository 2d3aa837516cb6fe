/*
 * A latency histogram with log-linear buckets (like HdrHistogram with 4
 * significant bits): values below 16 have a bucket each; above, every power of
 * two is cut into 16 equal buckets, so a percentile is exact to within 1/16
 * (6.25%) of its value. One per thread (no sharing while measuring), merged
 * at the end. Values are nanoseconds.
 */
#ifndef NP_LATENCY_HISTOGRAM_H
#define NP_LATENCY_HISTOGRAM_H

#include <stdint.h>
#include <string.h>

#define LH_SUB_BITS 4
#define LH_SUB (1u << LH_SUB_BITS)
#define LH_BUCKETS ((64 - LH_SUB_BITS + 1) * LH_SUB)

typedef struct latency_histogram {
  uint64_t count[LH_BUCKETS];
  uint64_t total;
} latency_histogram;

static inline unsigned lh_bucket(uint64_t v) {
  if (v < LH_SUB) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= 4 */
  unsigned sub = (unsigned)(v >> (e - LH_SUB_BITS)) & (LH_SUB - 1);
  return (e - LH_SUB_BITS + 1) * LH_SUB + sub;
}

/* The smallest value of bucket b. */
static inline uint64_t lh_bucket_low(unsigned b) {
  if (b < LH_SUB) return b;
  unsigned e = b / LH_SUB + LH_SUB_BITS - 1, sub = b % LH_SUB;
  return ((uint64_t)1 << e) + ((uint64_t)sub << (e - LH_SUB_BITS));
}

static inline void lh_record(latency_histogram *h, uint64_t v) {
  h->count[lh_bucket(v)]++;
  h->total++;
}

static inline void lh_merge(latency_histogram *into, const latency_histogram *from) {
  for (unsigned b = 0; b < LH_BUCKETS; b++) into->count[b] += from->count[b];
  into->total += from->total;
}

/* The value at quantile q (0 < q <= 1): the middle of the bucket holding the
 * ceil(q * total)-th smallest value; 0 for an empty histogram. */
static inline uint64_t lh_percentile(const latency_histogram *h, double q) {
  if (h->total == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > h->total) rank = h->total;
  uint64_t seen = 0;
  for (unsigned b = 0; b < LH_BUCKETS; b++) {
    seen += h->count[b];
    if (seen >= rank) {
      uint64_t lo = lh_bucket_low(b);
      uint64_t hi = b + 1 < LH_BUCKETS ? lh_bucket_low(b + 1) : lo;
      return lo + (hi - lo) / 2;
    }
  }
  return 0;
}
#endif
