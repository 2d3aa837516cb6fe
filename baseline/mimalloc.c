/* Baseline: mimalloc (Debian's libmimalloc2.0), linked: it replaces malloc. */
#define _GNU_SOURCE
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "baseline/bench_alloc.h"
#include "baseline/dl_name.h"

int bench_alloc_init(void) { return 0; }

/* A block from malloc must lie in mimalloc's heap. */
int bench_alloc_identity(char *buf, size_t len) {
  void *volatile p = malloc(64);
  int ok = p != NULL && mi_is_in_heap_region(p);
  free(p);
  int v = mi_version();
  snprintf(buf, len, "malloc/free from %s, mimalloc %d.%d.%d (%s by mi_is_in_heap_region)",
           bench_lib_of((void *)&malloc), v / 100, (v / 10) % 10, v % 10,
           ok ? "verified" : "NOT confirmed");
  return !ok;
}
