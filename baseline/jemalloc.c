/* Baseline: jemalloc (Debian's libjemalloc2), linked: it replaces malloc. */
#define _GNU_SOURCE
#include <jemalloc/jemalloc.h>
#include <stdint.h>
#include <stdio.h>

#include "baseline/bench_alloc.h"
#include "baseline/dl_name.h"

int bench_alloc_init(void) { return 0; }

/* jemalloc's per-thread "thread.allocated" counter must grow by a malloc. */
int bench_alloc_identity(char *buf, size_t len) {
  const char *version = "?";
  size_t vlen = sizeof version;
  if (mallctl("version", &version, &vlen, NULL, 0) != 0) version = "?";
  uint64_t before = 0, after = 0;
  size_t sz = sizeof before;
  int ok = mallctl("thread.allocated", &before, &sz, NULL, 0) == 0;
  void *volatile p = malloc(4096);
  sz = sizeof after;
  ok = ok && mallctl("thread.allocated", &after, &sz, NULL, 0) == 0 && after - before >= 4096;
  free(p);
  snprintf(buf, len, "malloc/free from %s, jemalloc %s (%s by jemalloc's thread.allocated)",
           bench_lib_of((void *)&malloc), version, ok ? "verified" : "NOT confirmed");
  return !ok;
}
