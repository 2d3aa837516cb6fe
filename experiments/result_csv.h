/*
 * The sweep's results file: one CSV row per measurement (one run of one
 * workload x distribution x allocator x thread count x repeat), RFC 4180
 * quoting for text fields. experiments/plot.sh reads it back.
 */
#ifndef NP_RESULT_CSV_H
#define NP_RESULT_CSV_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RESULT_CSV_WHERE_COLUMNS 12

typedef struct result_row {
  const char *machine, *allocator, *strategy, *workload, *distribution;
  int threads, repeat;
  int ok;              /* 0: the run failed; its measurements are left empty */
  double ops_per_s;    /* alloc+free pairs per second */
  uint64_t lat_p50_ns, lat_p99_ns, lat_p999_ns; /* one allocator call, sampled */
  uint64_t peak_rss_bytes, live_bytes;          /* live: peak bytes the workload held */
  /* Where the allocator's bytes were at the peak (the worker's where=, from
   * bench_alloc_breakdown), in RESULT_CSV_WHERE's order; has_where 0: the
   * allocator cannot say (the peers), the columns are left empty. */
  int has_where;
  uint64_t where[RESULT_CSV_WHERE_COLUMNS];
} result_row;

/* The header line, the same every time: the measurement, then the breakdown
 * (npool only; bytes). Readers of older runs' 13 columns still work on the
 * first 13, and of the 24 before np_huge_tail_bytes on the first 24. */
#define RESULT_CSV_WHERE                                                                       \
  "np_active_bytes,np_thread_cache_bytes,np_remote_bytes,np_cpu_cache_bytes,np_transfer_bytes," \
  "np_subpage_free_bytes,np_pages_resident_bytes,np_pages_purged_bytes,np_retained_bytes,"      \
  "np_metadata_bytes,np_breakdown_rss_bytes,np_huge_tail_bytes"
#define RESULT_CSV_HEADER                                                                      \
  "machine,allocator,strategy,workload,distribution,threads,repeat,ops_per_s,lat_p50_ns,"     \
  "lat_p99_ns,lat_p999_ns,peak_rss_bytes,live_bytes," RESULT_CSV_WHERE

/* Write the header / one row and its newline; 0 on success, -1 on a write
 * error (errno set) or a NULL text field (EINVAL). */
int result_csv_write_header(FILE *f);
int result_csv_write_row(FILE *f, const result_row *r);

#ifdef __cplusplus
}
#endif
#endif
