/*
 * The per-CPU stack layout that a strategy with per-CPU caches changes in
 * restartable sequences, and that core/cache/cpu_cache.c sets up and maintains.
 * One stack per (CPU, cached class), in one array:
 *
 *   stacks[cpu * n_classes + class] = { count, slots, cap, low_water }
 *   locks[cpu * 16]                   the CPU's maintenance word (a line each)
 *
 * count is changed only by a sequence's final store (its commit). Sequences
 * give up while their CPU's maintenance word is non-zero, so another thread
 * can trim or drain that CPU (see np_percpu_lock_cpu).
 * The field offsets are part of the assembly in lockfree/rseq/.
 */
#ifndef NP_PERCPU_STACK_H
#define NP_PERCPU_STACK_H

#include <stdint.h>

/* An entry is the block's address. */
typedef struct np_percpu_stack {
  intptr_t count;      /* offset 0 */
  void **slots;        /* offset 8 */
  uint32_t cap;        /* offset 16 */
  uint32_t low_water;  /* offset 20: least count since the last trim, lowered by
                          the pops inside their sequences (a heuristic: an
                          aborted pop may lower it too) */
  uint64_t unused;     /* offset 24: 32 bytes a stack (the assembly's shift) */
} np_percpu_stack;

typedef struct np_percpu {
  np_percpu_stack *stacks; /* [n_cpus * n_classes] */
  uint32_t *locks;         /* [n_cpus], one per 64-byte line */
  uint32_t n_cpus;
  uint32_t n_classes;
} np_percpu;

#endif
