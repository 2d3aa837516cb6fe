/*
 * The C library's allocation functions on npool's default allocator
 * (npool_malloc.h): the contracts of C and POSIX (and glibc's where they leave
 * a choice), on top of np_alloc, np_alloc_aligned, np_calloc, np_realloc and
 * np_free. malloc_override.c gives them the C library's names in
 * libnpool_malloc.so, new_delete.cc the C++ operators (both in core/malloc/).
 *
 * Two things a malloc needs that an ordinary allocator does not:
 *
 * - A reserve for the very first calls. The default allocator is made by the
 *   first malloc of the process; a malloc from inside that (the C library
 *   setting something up on the way) finds no allocator yet. Such calls get
 *   blocks from a static reserve: a bump pointer, never reused, each block
 *   with its size in front. free() leaves them; realloc() copies them out.
 *
 *     reserve: [size|pad][block......][size|pad][block..]....free......]
 *
 * - Safety with pointers it did not hand out. np_free checks every pointer
 *   against the chunk registry and the block's metadata and refuses what is
 *   not a live block, changing nothing. free() then reports the first such
 *   pointer of the process on stderr (write(2): no stdio, no malloc) and
 *   counts every one (np_stats.invalid_frees); realloc() returns NULL, EINVAL.
 */
#include "npool_malloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fast_path.h"

/* ---- The reserve ------------------------------------------------------------- */

#define RESERVE_BYTES ((size_t)256 << 10)
#define RESERVE_HEADER ((size_t)1 << NP_LOG2_QUANTUM) /* keeps blocks 16-aligned */

static _Alignas(4096) char reserve[RESERVE_BYTES];
static NP_ATOMIC(size_t) reserve_used;

static bool in_reserve(const void *p) {
  return (const char *)p >= reserve && (const char *)p < reserve + RESERVE_BYTES;
}

static size_t reserve_size(const void *p) {
  size_t size;
  memcpy(&size, (const char *)p - RESERVE_HEADER, sizeof size);
  return size;
}

/* Zeroed (the reserve is never reused). NULL with errno ENOMEM when full. */
static void *reserve_alloc(size_t alignment, size_t size) {
  if (alignment < RESERVE_HEADER) alignment = RESERVE_HEADER;
  size_t used = atomic_load_explicit(&reserve_used, memory_order_relaxed);
  for (;;) {
    size_t start = (used + RESERVE_HEADER + alignment - 1) & ~(alignment - 1);
    if (start > RESERVE_BYTES || size > RESERVE_BYTES - start) {
      errno = ENOMEM;
      return NULL;
    }
    if (atomic_compare_exchange_weak(&reserve_used, &used, start + size)) {
      memcpy(reserve + start - RESERVE_HEADER, &size, sizeof size);
      return reserve + start;
    }
  }
}

/* When np_default_allocator() gives NULL: while this thread is making it,
 * the reserve; when it could not be made, ENOMEM. */
static void *without_allocator(size_t alignment, size_t size) {
  if (np_default_allocator_creating()) return reserve_alloc(alignment, size);
  errno = ENOMEM;
  return NULL;
}

/* ---- Bad pointers --------------------------------------------------------------- */

static NP_ATOMIC(int) reported;

/* A pointer that is not a live block reached free, realloc, ...: what the
 * default allocator's invalid_free says (npool.h, np_invalid_free_mode).
 * a: the default allocator (NULL when there is none: report). The pool is
 * unchanged in every mode and np_free has already counted the pointer. */
static void report_invalid(np_allocator *a, const char *function, const void *ptr, const char *what) {
  np_invalid_free_mode mode = a ? a->cfg.invalid_free : NP_INVALID_FREE_REPORT;
  if (mode == NP_INVALID_FREE_IGNORE) return;
  if (mode == NP_INVALID_FREE_REPORT && atomic_exchange(&reported, 1)) return;
  char line[320];
  int n = mode == NP_INVALID_FREE_ABORT
              ? snprintf(line, sizeof line, "npool: %s(%p): %s; aborting (invalid_free:abort)\n", function, ptr, what)
              : snprintf(line, sizeof line,
                         "npool: %s(%p): %s; nothing was changed (later invalid pointers are "
                         "only counted: np_stats.invalid_frees; invalid_free:abort stops here)\n",
                         function, ptr, what);
  if (n > 0) {
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)ignored;
  }
  if (mode == NP_INVALID_FREE_ABORT) abort();
}

/* ---- The functions ---------------------------------------------------------------- */

/* count x size, or 0 with errno ENOMEM when that overflows. */
static bool total_bytes(size_t count, size_t size, size_t *total) {
  if (!__builtin_mul_overflow(count, size, total)) return 1;
  errno = ENOMEM;
  return 0;
}

void *npool_malloc(size_t size) {
  np_allocator *a = np_default_allocator_inline();
  return a ? np_alloc_inline(a, size) : without_allocator(0, size);
}

void npool_free(void *ptr) {
  if (ptr == NULL || in_reserve(ptr)) return;
  np_allocator *a = np_default_allocator_inline();
  int rc = a ? np_free_inline(a, ptr) : NP_ERR_FOREIGN_POINTER;
  if (rc != NP_OK) report_invalid(a, "free", ptr, np_strerror(rc));
}

void *npool_calloc(size_t count, size_t size) {
  np_allocator *a = np_default_allocator_inline();
  if (a) return np_calloc(a, count, size);
  size_t total;
  return total_bytes(count, size, &total) ? without_allocator(0, total) : NULL;
}

void *npool_realloc(void *ptr, size_t size) {
  if (ptr == NULL) return npool_malloc(size);
  if (size == 0) { /* glibc's choice: free, and no block */
    npool_free(ptr);
    return NULL;
  }
  if (in_reserve(ptr)) {
    void *moved = npool_malloc(size);
    size_t old = reserve_size(ptr);
    if (moved) memcpy(moved, ptr, old < size ? old : size);
    return moved;
  }
  np_allocator *a = np_default_allocator_inline();
  if (a == NULL) { /* ptr is not the reserve's, and there is no allocator for it */
    errno = ENOMEM;
    return NULL;
  }
  void *moved = np_realloc(a, ptr, size);
  if (moved == NULL && errno == EINVAL)
    report_invalid(a, "realloc", ptr, "not a live block of npool's (returned NULL, errno EINVAL)");
  return moved;
}

void *npool_reallocarray(void *ptr, size_t count, size_t size) {
  size_t total;
  return total_bytes(count, size, &total) ? npool_realloc(ptr, total) : NULL;
}

/* alignment: a power of two. */
static void *alloc_aligned(size_t alignment, size_t size) {
  np_allocator *a = np_default_allocator_inline();
  return a ? np_alloc_aligned(a, alignment, size) : without_allocator(alignment, size);
}

int npool_posix_memalign(void **out, size_t alignment, size_t size) {
  if (out == NULL || !np_is_pow2(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
  int saved = errno;
  void *p = alloc_aligned(alignment, size);
  errno = saved;
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

void *npool_aligned_alloc(size_t alignment, size_t size) {
  if (!np_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  return alloc_aligned(alignment, size);
}

void *npool_memalign(size_t alignment, size_t size) {
  if (alignment > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  size_t pow2 = 1;
  while (pow2 < alignment) pow2 <<= 1;
  return alloc_aligned(pow2, size);
}

void *npool_valloc(size_t size) { return alloc_aligned(np_os_page_size(), size); }

void *npool_pvalloc(size_t size) {
  size_t page = np_os_page_size();
  if (size > SIZE_MAX - page) {
    errno = ENOMEM;
    return NULL;
  }
  size_t rounded = size == 0 ? page : (size + page - 1) & ~(page - 1);
  return alloc_aligned(page, rounded);
}

size_t npool_malloc_usable_size(void *ptr) {
  if (ptr == NULL) return 0;
  if (in_reserve(ptr)) return reserve_size(ptr);
  np_allocator *a = np_default_allocator_inline();
  return a ? np_usable_size(a, ptr) : 0;
}

static uint64_t purged_bytes(np_allocator *a) {
  np_stats s;
  return np_allocator_stats(a, &s) == NP_OK ? s.purged_bytes : 0;
}

int npool_malloc_trim(size_t pad) {
  (void)pad; /* everything unused goes back; glibc keeps pad bytes at the heap's top */
  np_allocator *a = np_default_allocator_inline();
  if (a == NULL) return 0;
  uint64_t before = purged_bytes(a);
  np_allocator_purge(a);
  return purged_bytes(a) > before;
}
