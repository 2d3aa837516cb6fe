/* Baseline: gperftools' tcmalloc (Debian's libtcmalloc-minimal4), linked: it
 * replaces malloc. */
#define _GNU_SOURCE
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "baseline/bench_alloc.h"
#include "baseline/dl_name.h"

int bench_alloc_init(void) { return 0; }

/* tcmalloc must say it owns a block from malloc. */
int bench_alloc_identity(char *buf, size_t len) {
  void *volatile p = malloc(64);
  int ok = p != NULL && MallocExtension_GetOwnership(p) == MallocExtension_kOwned;
  free(p);
  int major = 0, minor = 0;
  const char *patch = "";
  const char *version = tc_version(&major, &minor, &patch);
  snprintf(buf, len, "malloc/free from %s, %s (%s by MallocExtension_GetOwnership)",
           bench_lib_of((void *)&malloc), version ? version : "gperftools ?",
           ok ? "verified" : "NOT confirmed");
  return !ok;
}

#if defined(__SANITIZE_ADDRESS__)
/* Under ASan (which owns malloc then) tcmalloc's start-up still registers its
 * MallocExtension with a `new` it never frees: not a leak of the workload. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libtcmalloc_minimal.so\n"; }
#endif
