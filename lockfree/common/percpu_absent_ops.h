/*
 * The per-CPU stack operations of a build that cannot run them (a strategy
 * without per-CPU caches, or rseq on an architecture without its assembly):
 * nothing is available, every pop misses and every push is refused.
 */
#ifndef NP_PERCPU_ABSENT_OPS_H
#define NP_PERCPU_ABSENT_OPS_H

#include "percpu_stack.h"

static inline int np_percpu_available(void) { return 0; }
static inline int np_percpu_pop(np_percpu *pc, unsigned cls, np_percpu_entry *out) {
  (void)pc, (void)cls, (void)out;
  return 0;
}
static inline int np_percpu_push(np_percpu *pc, unsigned cls, void *p, void *tag) {
  (void)pc, (void)cls, (void)p, (void)tag;
  return 0;
}
static inline int np_percpu_current_cpu(void) { return 0; }
#endif
