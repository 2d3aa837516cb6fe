/* The file name of the shared object that defines fn ("?" if unknown). */
#ifndef NP_BASELINE_DL_NAME_H
#define NP_BASELINE_DL_NAME_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <string.h>

static inline const char *bench_lib_of(void *fn) {
  Dl_info info;
  if (dladdr(fn, &info) && info.dli_fname) {
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
  }
  return "?";
}
#endif
