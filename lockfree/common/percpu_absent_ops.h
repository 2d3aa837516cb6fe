/*
 * The per-CPU stack operations of a build that cannot run them (a strategy
 * without per-CPU caches, or rseq on an architecture without its assembly):
 * nothing is available, every pop misses and every push is refused.
 */
#ifndef NP_PERCPU_ABSENT_OPS_H
#define NP_PERCPU_ABSENT_OPS_H

#include "percpu_stack.h"

#define NP_PERCPU_COMPILED 0
static inline int np_percpu_available(void) { return 0; }
static inline void *np_percpu_pop(np_percpu *pc, np_percpu_cpu *cur, unsigned cls) {
  (void)pc, (void)cur, (void)cls;
  return NULL;
}
static inline int np_percpu_push(np_percpu *pc, np_percpu_cpu *cur, unsigned cls, void *p) {
  (void)pc, (void)cur, (void)cls, (void)p;
  return 0;
}
static inline unsigned np_percpu_push_batch(np_percpu *pc, np_percpu_cpu *cur, unsigned cls, void *const *src,
                                            unsigned n) {
  (void)pc, (void)cur, (void)cls, (void)src, (void)n;
  return 0;
}
static inline unsigned np_percpu_pop_batch(np_percpu *pc, np_percpu_cpu *cur, unsigned cls, void **dst,
                                           unsigned n) {
  (void)pc, (void)cur, (void)cls, (void)dst, (void)n;
  return 0;
}
static inline int np_percpu_current_cpu(void) { return 0; }
static inline int np_percpu_switch_cpu(np_percpu *pc, np_percpu_cpu *cur) {
  (void)pc, (void)cur;
  return 0;
}
#endif
