/* The sweep's CSV writer (see result_csv.h). */
#include "experiments/result_csv.h"

#include <errno.h>
#include <string.h>

int result_csv_write_header(FILE *f) { return fputs(RESULT_CSV_HEADER "\n", f) < 0 ? -1 : 0; }

/* A text field, quoted (quotes doubled) when it holds a comma, a quote or a
 * line break. */
static int put_text(FILE *f, const char *s) {
  if (strpbrk(s, ",\"\r\n") == NULL) return fputs(s, f) < 0 ? -1 : 0;
  if (fputc('"', f) == EOF) return -1;
  for (; *s; s++) {
    if (*s == '"' && fputc('"', f) == EOF) return -1;
    if (fputc(*s, f) == EOF) return -1;
  }
  return fputc('"', f) == EOF ? -1 : 0;
}

int result_csv_write_row(FILE *f, const result_row *r) {
  const char *text[] = {r->machine, r->allocator, r->strategy, r->workload, r->distribution};
  for (int i = 0; i < 5; i++) {
    if (text[i] == NULL) {
      errno = EINVAL;
      return -1;
    }
    if (put_text(f, text[i]) != 0 || fputc(',', f) == EOF) return -1;
  }
  int n;
  if (r->ok)
    n = fprintf(f, "%d,%d,%.0f,%llu,%llu,%llu,%llu,%llu", r->threads, r->repeat, r->ops_per_s,
                (unsigned long long)r->lat_p50_ns, (unsigned long long)r->lat_p99_ns,
                (unsigned long long)r->lat_p999_ns, (unsigned long long)r->peak_rss_bytes,
                (unsigned long long)r->live_bytes);
  else
    n = fprintf(f, "%d,%d,,,,,,", r->threads, r->repeat);
  if (n < 0) return -1;
  for (int i = 0; i < RESULT_CSV_WHERE_COLUMNS; i++)
    if ((r->ok && r->has_where ? fprintf(f, ",%llu", (unsigned long long)r->where[i]) : fputs(",", f)) < 0)
      return -1;
  return fputc('\n', f) == EOF ? -1 : 0;
}
