/*
 * libnpool_malloc.so only: the C library's allocation functions by their own
 * names, so that npool replaces malloc for a whole process, preloaded
 * (LD_PRELOAD) or linked. Each is npool_<name> (malloc.c); the library is
 * linked with -Bsymbolic-functions, so each is one direct jump.
 */
#include <malloc.h>
#include <stdlib.h>

#include "npool_malloc.h"

NP_API void *malloc(size_t size) { return npool_malloc(size); }
NP_API void free(void *ptr) { npool_free(ptr); }
NP_API void *calloc(size_t count, size_t size) { return npool_calloc(count, size); }
NP_API void *realloc(void *ptr, size_t size) { return npool_realloc(ptr, size); }
NP_API void *reallocarray(void *ptr, size_t count, size_t size) {
  return npool_reallocarray(ptr, count, size);
}
NP_API int posix_memalign(void **out, size_t alignment, size_t size) {
  return npool_posix_memalign(out, alignment, size);
}
NP_API void *aligned_alloc(size_t alignment, size_t size) { return npool_aligned_alloc(alignment, size); }
NP_API void *memalign(size_t alignment, size_t size) { return npool_memalign(alignment, size); }
NP_API void *valloc(size_t size) { return npool_valloc(size); }
NP_API void *pvalloc(size_t size) { return npool_pvalloc(size); }
NP_API size_t malloc_usable_size(void *ptr) { return npool_malloc_usable_size(ptr); }
NP_API int malloc_trim(size_t pad) { return npool_malloc_trim(pad); }
