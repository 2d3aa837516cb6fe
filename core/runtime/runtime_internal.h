/* The runtime layer's own functions, between its files (runtime.h is what
 * the API sees); private to core/runtime and its tests. */
#ifndef NP_RUNTIME_INTERNAL_H
#define NP_RUNTIME_INTERNAL_H

#include "core/runtime/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* thread_slots.c: the live list, for fork.c (which walks it with
 * np_live_allocators_first / a->next_live while holding it), and whether tc
 * is the calling thread's cache of a. */
NP_INTERNAL void np_live_allocators_lock(void);
NP_INTERNAL void np_live_allocators_unlock(void);
NP_INTERNAL np_allocator *np_live_allocators_first(void);
NP_INTERNAL bool np_thread_slots_hold(const np_allocator *a, const np_tcache *tc);

/* purger.c: a fork child has no purge thread: it is started again later. */
NP_INTERNAL void np_purger_fork_child(np_allocator *a);

#ifdef __cplusplus
}
#endif
#endif
