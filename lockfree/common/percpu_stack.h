/*
 * The per-CPU stack layout that a strategy with per-CPU caches changes in
 * restartable sequences, and that core/cache/cpu_cache.c sets up and maintains.
 * One stack per (CPU, cached class), a CPU's stacks side by side:
 *
 *   stacks[cpu * n_classes + class] = { count, slots, cap, floor, low_water, stopped_cap }
 *   locks[cpu * 16]                   the CPU's maintenance word (a line each):
 *                                     maintainers only, sequences never read it
 *
 * count is changed only by a sequence's final store (its commit). A pop needs
 * count > floor and a push count < cap, so a maintainer stops a CPU's
 * sequences by setting every stack's {cap, floor} to {0, UINT32_MAX} (the
 * capacity waits in stopped_cap), then lets the kernel restart those in
 * flight (see np_percpu_lock_cpu): the sequences load no maintenance word.
 * A thread remembers the CPU its last sequence ran on and that CPU's stacks
 * (np_percpu_cpu), and a sequence compares the CPU number with it: no
 * arithmetic on the CPU number in the sequence.
 * The field offsets are part of the assembly in lockfree/rseq/.
 */
#ifndef NP_PERCPU_STACK_H
#define NP_PERCPU_STACK_H

#include <stdint.h>

/* An entry is the block's address. */
typedef struct np_percpu_stack {
  intptr_t count;       /* offset 0 */
  void **slots;         /* offset 8 */
  /* cap and floor: one 8-byte word, changed with one atomic operation */
  uint32_t cap;         /* offset 16: 0 while the CPU is stopped */
  uint32_t floor;       /* offset 20: 0, or NP_PERCPU_STOPPED_FLOOR while stopped */
  uint32_t low_water;   /* offset 24: least count since the last trim, lowered by
                           the pops inside their sequences (a heuristic: an
                           aborted pop may lower it too) */
  uint32_t stopped_cap; /* offset 28: the capacity while the CPU is stopped */
} np_percpu_stack;

#define NP_PERCPU_STOPPED_FLOOR UINT32_MAX

/* {cap, floor} as one word, for atomic operations on both (little-endian:
 * cap is the low half; per-CPU stacks exist on x86-64 only). */
typedef uint64_t __attribute__((may_alias)) np_percpu_cap_floor;
static inline np_percpu_cap_floor *np_percpu_cap_floor_of(np_percpu_stack *s) {
  return (np_percpu_cap_floor *)&s->cap;
}
static inline uint64_t np_percpu_cap_floor_word(uint32_t cap, uint32_t floor) {
  return cap | (uint64_t)floor << 32;
}

typedef struct np_percpu {
  np_percpu_stack *stacks; /* [n_cpus * n_classes] */
  uint32_t *locks;         /* [n_cpus], one per 64-byte line */
  uint32_t n_cpus;
  uint32_t n_classes;
} np_percpu;

/* A thread's: the CPU its sequences last ran on and that CPU's stacks
 * (cpu NP_PERCPU_NO_CPU: none yet). Only that thread writes it. */
#define NP_PERCPU_NO_CPU UINT32_MAX
typedef struct np_percpu_cpu {
  uint32_t cpu;            /* offset 0 */
  np_percpu_stack *stacks; /* offset 8: &stacks[cpu * n_classes] */
} np_percpu_cpu;

#endif
