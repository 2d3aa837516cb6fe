/* Baseline: glibc's malloc (this binary links no other allocator). */
#define _GNU_SOURCE
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/bench_alloc.h"
#include "baseline/dl_name.h"

int bench_alloc_init(void) { return 0; }

int bench_alloc_identity(char *buf, size_t len) {
  const char *lib = bench_lib_of((void *)&malloc);
  int ok = strncmp(lib, "libc.so", 7) == 0;
  snprintf(buf, len, "malloc/free from %s, glibc %s%s", lib, gnu_get_libc_version(),
           ok ? "" : " (NOT glibc's malloc)");
  return !ok;
}
