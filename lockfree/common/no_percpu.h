/*
 * For strategies without per-CPU caches: the per-CPU primitives of
 * strategy.h report "not available", so core/cache/cpu_cache.c is never entered
 * (and the compiler drops it from the fast paths).
 */
#ifndef NP_NO_PERCPU_H
#define NP_NO_PERCPU_H

#include "percpu_stack.h"

#include "percpu_absent_ops.h"

/* NULL: this strategy has no per-CPU caches at all (nothing to fall back from). */
static inline const char *np_percpu_unavailable_reason(void) { return NULL; }
static inline int np_percpu_lock_cpu(np_percpu *pc, unsigned cpu) {
  (void)pc, (void)cpu;
  return 0;
}
static inline void np_percpu_unlock_cpu(np_percpu *pc, unsigned cpu) { (void)pc, (void)cpu; }

#endif
