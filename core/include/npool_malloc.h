/*
 * npool as malloc: the C library's allocation functions, with their C and
 * POSIX contracts, on npool's default allocator (np_default_allocator(): made
 * from NPOOL_CONF on first use). Under the names npool_<name> they can be
 * called by any program linked with //core:npool_malloc; libnpool_malloc.so
 * (//core:libnpool_malloc.so, for LD_PRELOAD or linking) also exports them
 * under the C library's own names (malloc, free, ...) and the C++ operators
 * new and delete in all their forms.
 *
 *   LD_PRELOAD=bazel-bin/core/libnpool_malloc.so NPOOL_CONF=stats_print:true ./prog
 *
 * Where they differ from glibc's, on bad input:
 * - free() of a pointer npool did not hand out (another allocator's, a stack
 *   address, a pointer inside a block, one already freed) changes nothing;
 *   the first such call in a process says so on stderr, every one is counted
 *   (np_stats.invalid_frees). glibc aborts, or corrupts its heap.
 * - realloc() of such a pointer returns NULL with errno EINVAL and changes
 *   nothing; malloc_usable_size() returns 0.
 */
#ifndef NPOOL_MALLOC_H
#define NPOOL_MALLOC_H

#include <stddef.h>

#include "npool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* size bytes (0: a unique smallest block); NULL with errno ENOMEM. */
NP_API void *npool_malloc(size_t size);
/* NULL is a no-op. */
NP_API void npool_free(void *ptr);
/* count * size zeroed bytes; NULL with errno ENOMEM also when the product overflows. */
NP_API void *npool_calloc(size_t count, size_t size);
/* Keeps the first min(old, size) bytes, in place when the block holds size
 * (np_realloc). ptr NULL: npool_malloc(size). size 0: frees ptr, returns NULL
 * (as glibc does). NULL with ptr untouched: errno ENOMEM, or EINVAL for a
 * pointer that is not a live block of npool's. */
NP_API void *npool_realloc(void *ptr, size_t size);
/* npool_realloc(ptr, count * size), NULL with errno ENOMEM on overflow. */
NP_API void *npool_reallocarray(void *ptr, size_t count, size_t size);
/* alignment: a power of two multiple of sizeof(void *), else EINVAL; ENOMEM
 * when there is no memory; 0 and *out set on success (errno unchanged). */
NP_API int npool_posix_memalign(void **out, size_t alignment, size_t size);
/* alignment: any power of two, else NULL with errno EINVAL. */
NP_API void *npool_aligned_alloc(size_t alignment, size_t size);
/* glibc's memalign: an alignment that is not a power of two is rounded up to one. */
NP_API void *npool_memalign(size_t alignment, size_t size);
/* Aligned to the system page; pvalloc also rounds size up to whole pages. */
NP_API void *npool_valloc(size_t size);
NP_API void *npool_pvalloc(size_t size);
/* Bytes usable in a live block (its size class); 0 for NULL or a pointer
 * that is not a live block of npool's. */
NP_API size_t npool_malloc_usable_size(void *ptr);
/* glibc's malloc_trim: np_allocator_purge on the default allocator (every
 * unused page goes back to the system; pad is ignored). 1 when memory went
 * back, else 0. */
NP_API int npool_malloc_trim(size_t pad);

#ifdef __cplusplus
}
#endif
#endif /* NPOOL_MALLOC_H */
