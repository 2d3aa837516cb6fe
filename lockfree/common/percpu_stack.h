/*
 * The per-CPU stack layout that a strategy with per-CPU caches changes in
 * restartable sequences, and that core/cache/cpu_cache.c sets up and maintains
 * (tcmalloc's per-CPU slab layout). One region per CPU, of region_bytes:
 *
 *   regions + cpu * region_bytes:  stacks[n_classes]    32 bytes each
 *                                  slots of class 0     cap entries it may grow to
 *                                  slots of class 1 ...
 *   locks[cpu * 16]                the CPU's maintenance word (a line each):
 *                                  maintainers only, sequences never read it
 *
 * Positions are in 8-byte words from the region's start: a stack's entries
 * are words [begin, top), a push stores at word top. top is changed only by a
 * sequence's final store (its commit). A pop needs top > floor (floor =
 * begin) and a push top < end (end = begin + capacity), so a maintainer stops
 * a CPU's sequences by setting every stack's {end, floor} to {0, UINT32_MAX}
 * (end waits in stopped_end), then lets the kernel restart those in flight
 * (see np_percpu_lock_cpu): the sequences load no maintenance word. A thread
 * remembers the CPU its last sequence ran on and that CPU's region
 * (np_percpu_cpu), and a sequence compares the CPU number with it: no
 * arithmetic on the CPU number in the sequence, and the entry's address is
 * the region plus top, with no pointer to the slots in between.
 * The field offsets are part of the assembly in lockfree/rseq/.
 */
#ifndef NP_PERCPU_STACK_H
#define NP_PERCPU_STACK_H

#include <stddef.h>
#include <stdint.h>

/* An entry is the block's address. */
typedef struct np_percpu_stack {
  intptr_t top;          /* offset 0: word of the next push (begin + count) */
  /* end and floor: one 8-byte word, changed with one atomic operation */
  uint32_t end;          /* offset 8: begin + capacity; 0 while the CPU is stopped */
  uint32_t floor;        /* offset 12: begin, or NP_PERCPU_STOPPED_FLOOR while stopped */
  uint32_t begin;        /* offset 16: the first entry's word */
  uint32_t low_water;    /* offset 20: least top since the last trim, lowered by
                            the pops inside their sequences (a heuristic: an
                            aborted pop may lower it too) */
  uint32_t stopped_end;  /* offset 24: end while the CPU is stopped */
  uint32_t unused;
} np_percpu_stack;

#define NP_PERCPU_STOPPED_FLOOR UINT32_MAX

typedef struct np_percpu {
  char *regions;           /* [n_cpus] of region_bytes */
  uint32_t *locks;         /* [n_cpus], one per 64-byte line */
  size_t region_bytes;
  uint32_t n_cpus;
  uint32_t n_classes;
} np_percpu;

/* A thread's: the CPU its sequences last ran on and that CPU's region
 * (cpu NP_PERCPU_NO_CPU: none; a value the kernel never writes as a CPU
 * number, unlike -1 and -2). Only that thread writes it, signal handlers
 * included (np_percpu_switch_cpu). */
#define NP_PERCPU_NO_CPU 0xfffffff0u
typedef struct np_percpu_cpu {
  uint32_t cpu;            /* offset 0 */
  uint32_t switching;      /* np_percpu_switch_cpu is changing the pair */
  np_percpu_stack *stacks; /* offset 8: the CPU's region */
} np_percpu_cpu;

static inline np_percpu_stack *np_percpu_stacks_of(const np_percpu *pc, unsigned cpu) {
  return (np_percpu_stack *)(pc->regions + (size_t)cpu * pc->region_bytes);
}
/* Entry word w of the region whose stacks are `stacks`. */
static inline void **np_percpu_entry(np_percpu_stack *stacks, uint32_t w) { return (void **)stacks + w; }
/* Blocks on s (read without the CPU stopped: a snapshot). */
static inline uint32_t np_percpu_count(const np_percpu_stack *s) {
  return (uint32_t)(__atomic_load_n(&s->top, __ATOMIC_RELAXED) - (intptr_t)s->begin);
}

/* {end, floor} as one word, for atomic operations on both (little-endian:
 * end is the low half; per-CPU stacks exist on x86-64 only). */
typedef uint64_t __attribute__((may_alias)) np_percpu_end_floor;
static inline np_percpu_end_floor *np_percpu_end_floor_of(np_percpu_stack *s) {
  return (np_percpu_end_floor *)&s->end;
}
static inline uint64_t np_percpu_end_floor_word(uint32_t end, uint32_t floor) {
  return end | (uint64_t)floor << 32;
}
/* s's capacity: 0 while its CPU is stopped. */
static inline uint32_t np_percpu_cap(np_percpu_stack *s) {
  uint64_t w = __atomic_load_n(np_percpu_end_floor_of(s), __ATOMIC_RELAXED);
  return (uint32_t)(w >> 32) == NP_PERCPU_STOPPED_FLOOR ? 0 : (uint32_t)w - s->begin;
}

#endif
