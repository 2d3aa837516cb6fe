/* The API layer's own declarations (allocator.c, default_allocator.c,
 * malloc.c, stats_print.c), on the runtime (core/runtime/runtime.h: the
 * allocator, thread slots, the purger) and the layers below it. */
#ifndef NP_INTERNAL_H
#define NP_INTERNAL_H

#include "core/runtime/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* default_allocator.c: true while this thread is making the default allocator
 * (np_default_allocator() returns NULL to a call from inside that). */
NP_INTERNAL bool np_default_allocator_creating(void);
/* The default allocator once made (default_allocator.c), for malloc's fast
 * paths: one load instead of a call; NULL: np_default_allocator() makes it. */
NP_INTERNAL extern np_allocator *np_default_alloc; /* __atomic */
static inline np_allocator *np_default_allocator_inline(void) {
  np_allocator *a = __atomic_load_n(&np_default_alloc, __ATOMIC_ACQUIRE);
  return __builtin_expect(a != NULL, 1) ? a : np_default_allocator();
}

#ifdef __cplusplus
}
#endif
#endif
