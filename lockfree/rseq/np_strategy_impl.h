/*
 * rseq strategy: per-CPU caches changed only inside restartable sequences
 * (Linux rseq), refilled from and drained to per-CPU arenas in batches by
 * core/cache/cpu_cache.c. Locks are pthread mutexes; if rseq cannot be used, the
 * core falls back to its per-thread caches, with the mutex-guarded remote lists.
 *
 * rseq facts this relies on:
 * - glibc (2.35+) registers an rseq area for every thread; we use it, at
 *   __rseq_offset from the thread pointer. __rseq_size == 0 means none
 *   (GLIBC_TUNABLES=glibc.pthread.rseq=0, valgrind, old kernels): fallback.
 * - A critical section is described by a struct rseq_cs in section __rseq_cs
 *   (32-byte aligned: version 0, flags 0, start, post-commit offset, abort
 *   address). The thread arms it by storing its address in rseq->rseq_cs; if
 *   the thread is preempted, migrated or signalled before the commit, the
 *   kernel moves it to the abort address (and clears rseq_cs, so every attempt
 *   re-arms). The 4 bytes before the abort address must be RSEQ_SIG.
 * - The CPU number is read inside the sequence (rseq->cpu_id), and the commit
 *   is the sequence's last instruction: a single store. No system call inside.
 *   The sequence compares the CPU number with the one the thread remembers
 *   (np_percpu_cpu) and uses that CPU's stacks; on a mismatch it gives up and
 *   np_percpu_switch_cpu remembers the new CPU. (The kernel's rewriting of
 *   cpu_id_start, which tcmalloc's cached slab relies on, is not used.)
 * Only x86-64 has the assembly; elsewhere np_percpu_available() is 0.
 */
#ifndef NP_STRATEGY_IMPL_H
#define NP_STRATEGY_IMPL_H

#define NP_STRATEGY_NAME "rseq"

#include <stddef.h>
#include <stdint.h>

#include "locked_remote.h"
#include "percpu_stack.h"
#include "pthread_lock.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Why per-CPU caches are off ("" when they are on). */
const char *np_percpu_unavailable_reason(void);
/* Stops every sequence on cpu from committing to pc (returns 0), or says it
 * cannot (-1): then only the CPU's own threads may change its stacks. */
int np_percpu_lock_cpu(np_percpu *pc, unsigned cpu);
void np_percpu_unlock_cpu(np_percpu *pc, unsigned cpu);
#ifdef __cplusplus
}
#endif

#if defined(__x86_64__) && !defined(__cplusplus)
#include <sys/rseq.h>

#define NP_RSEQ_CPU_ID_OFFSET 4
#define NP_RSEQ_CS_OFFSET 8

static inline char *np_rseq_area(void) {
  return (char *)__builtin_thread_pointer() + __rseq_offset;
}

#define NP_PERCPU_COMPILED 1
static inline int np_percpu_available(void) { return __rseq_size > 0; }
/* cur takes the CPU the thread runs on now (a sequence found it on another
 * one). 0 if that CPU has no stacks (out of range, or not known yet). */
int np_percpu_switch_cpu(np_percpu *pc, np_percpu_cpu *cur);

static inline int np_percpu_current_cpu(void) {
  return (int)__atomic_load_n((uint32_t *)(np_rseq_area() + NP_RSEQ_CPU_ID_OFFSET), __ATOMIC_RELAXED);
}

/* This CPU's region in %rax, or a jump to `changed` when the thread is not
 * on the CPU cur remembers. Inside a sequence, %rdx still holding
 * __rseq_offset (NP_RSEQ_SEQUENCE). A stack's field f is then f(%rax,%[off])
 * ([off]: cls x 32) and entry word w is (%rax,w,8). cur's fields are memory
 * operands ([cpu], [stacks]: NP_RSEQ_CUR), so that the compiler addresses
 * them from the thread's cache it holds already: fewer registers, and the
 * fast paths that inline a sequence save no callee-saved one. */
#define NP_RSEQ_FIND_REGION(changed)                                 \
  "movl %%fs:" NP_STR(NP_RSEQ_CPU_ID_OFFSET) "(%%rdx), %%eax\n\t"    \
  "cmpl %[cpu], %%eax\n\t"                                           \
  "jne %l[" #changed "]\n\t"                                         \
  "movq %[stacks], %%rax\n\t"
/* The asm operands NP_RSEQ_SEQUENCE and NP_RSEQ_FIND_REGION use. */
#define NP_RSEQ_CUR(cur) [rso] "m"(__rseq_offset), [cpu] "m"((cur)->cpu), [stacks] "m"((cur)->stacks)
_Static_assert(offsetof(np_percpu_stack, top) == 0 && offsetof(np_percpu_stack, end) == 8 &&
                   offsetof(np_percpu_stack, floor) == 12 && offsetof(np_percpu_stack, low_water) == 20 &&
                   sizeof(np_percpu_stack) == 32 && offsetof(np_percpu_cpu, cpu) == 0 &&
                   offsetof(np_percpu_cpu, stacks) == 8,
               "the offsets in the sequences' assembly");
/* The stack's floor (pops) or end (pushes) into %edx, then its top into
 * %rcx, in that order, and compares them. A maintainer empties a stopped
 * stack (top) before it restarts it (floor, end), so a sequence that finds it
 * restarted must find the top written before that (x86 keeps loads in
 * order); one that loaded the floor or end before the stop is still in flight
 * at the maintainer's membarrier, which restarts it. */
#define NP_RSEQ_LOAD_LIMIT_THEN_TOP(limit_off)                       \
  "movl " #limit_off "(%%rax,%[off]), %%edx\n\t"                    \
  "movq (%%rax,%[off]), %%rcx\n\t"    /* top */                     \
  "cmpl %%edx, %%ecx\n\t"
#define NP_RSEQ_STACK_OFF(cls) ((uintptr_t)(cls) * sizeof(np_percpu_stack))
/* Copies %rdx 8-byte entries from `from` to `to` (registers, as asm text);
 * uses r9 and r10. Inside a sequence. */
#define NP_RSEQ_COPY(from, to)                                       \
  "xorl %%r9d, %%r9d\n\t"                                            \
  "5:\n\t"                                                           \
  "movq (" from ",%%r9,8), %%r10\n\t"                                \
  "movq %%r10, (" to ",%%r9,8)\n\t"                                  \
  "incq %%r9\n\t"                                                    \
  "cmpq %%rdx, %%r9\n\t"                                             \
  "jb 5b\n\t"

/* The stack gets the new top in %ecx as its low-water mark if that is
 * lower. Inside a sequence, before the commit. */
#define NP_RSEQ_LOWER_LOW_WATER                                      \
  "cmpl %%ecx, 20(%%rax,%[off])\n\t"                                 \
  "jbe 6f\n\t"                                                       \
  "movl %%ecx, 20(%%rax,%[off])\n\t"                                 \
  "6:\n\t"

#define NP_STR2(x) #x
#define NP_STR(x) NP_STR2(x)

/* The descriptor (in __rseq_cs), the arming store, and the abort handler (in
 * __rseq_failure, after the signature) around a sequence body. */
#define NP_RSEQ_SEQUENCE(body)                                       \
  ".pushsection __rseq_cs, \"aw\"\n\t"                               \
  ".balign 32\n\t"                                                   \
  "3:\n\t"                                                           \
  ".long 0x0, 0x0\n\t"                                               \
  ".quad 1f, (2f - 1f), 4f\n\t"                                      \
  ".popsection\n\t"                                                  \
  "movq %[rso], %%rdx\n\t"            /* the rseq area: %fs:(%rdx) */ \
  "leaq 3b(%%rip), %%rax\n\t"                                        \
  "movq %%rax, %%fs:" NP_STR(NP_RSEQ_CS_OFFSET) "(%%rdx)\n\t"        \
  "1:\n\t" body "2:\n\t"                                             \
  ".pushsection __rseq_failure, \"ax\"\n\t"                          \
  ".long 0x53053053\n\t"                                             \
  "4:\n\t"                                                           \
  "jmp %l[aborted]\n\t"                                              \
  ".popsection\n\t"

/* Pops the top of this CPU's stack of cls: the block, or NULL if it is empty
 * (or the CPU is under maintenance, or not the one cur says: then the caller
 * calls np_percpu_switch_cpu before it tries again). */
static inline void *np_percpu_pop(np_percpu *pc, np_percpu_cpu *cur, unsigned cls) {
  (void)pc;
  void *out; /* an output of asm goto (GCC 11, clang 11): the block stays in a register */
retry:
  __asm__ __volatile__ goto(NP_RSEQ_SEQUENCE(
                                NP_RSEQ_FIND_REGION(changed)
                                NP_RSEQ_LOAD_LIMIT_THEN_TOP(12)    /* floor */
                                "jbe %l[miss]\n\t"
                                "movq -8(%%rax,%%rcx,8), %[out]\n\t"
                                "decq %%rcx\n\t"
                                NP_RSEQ_LOWER_LOW_WATER
                                "movq %%rcx, (%%rax,%[off])\n\t")  /* commit */
                            : [out] "=&r"(out)
                            : NP_RSEQ_CUR(cur), [off] "r"(NP_RSEQ_STACK_OFF(cls))
                            : "rax", "rcx", "rdx", "memory", "cc"
                            : aborted, changed, miss);
  return out;
aborted:
  goto retry;
changed: /* the caller's slow path switches (no call here: the fast paths stay leaf code) */
miss:
  return NULL;
}

/* Pushes p on this CPU's stack of cls: 1, or 0 if it is full (or the CPU is
 * under maintenance, or not the one cur says, as for np_percpu_pop). */
static inline int np_percpu_push(np_percpu *pc, np_percpu_cpu *cur, unsigned cls, void *p) {
  (void)pc;
retry:
  __asm__ __volatile__ goto(NP_RSEQ_SEQUENCE(
                                NP_RSEQ_FIND_REGION(changed)
                                NP_RSEQ_LOAD_LIMIT_THEN_TOP(8)     /* end */
                                "jae %l[miss]\n\t"
                                "movq %[p], (%%rax,%%rcx,8)\n\t"
                                "incq %%rcx\n\t"
                                "movq %%rcx, (%%rax,%[off])\n\t")  /* commit */
                            :
                            : NP_RSEQ_CUR(cur), [off] "r"(NP_RSEQ_STACK_OFF(cls)), [p] "r"(p)
                            : "rax", "rcx", "rdx", "memory", "cc"
                            : aborted, changed, miss);
  return 1;
aborted:
  goto retry;
changed:
miss:
  return 0;
}

/* Pushes as many of src[0..n) as fit (n >= 1) in one sequence: the copy, then
 * one commit of the new top. Returns how many. */
static inline unsigned np_percpu_push_batch(np_percpu *pc, np_percpu_cpu *cur, unsigned cls, void *const *src,
                                            unsigned n) {
  uintptr_t pushed;
  uintptr_t want = n;
retry:
  __asm__ __volatile__ goto(NP_RSEQ_SEQUENCE(
                                NP_RSEQ_FIND_REGION(changed)
                                NP_RSEQ_LOAD_LIMIT_THEN_TOP(8)     /* end */
                                "jae %l[miss]\n\t"
                                "subq %%rcx, %%rdx\n\t"            /* room */
                                "cmpq %[want], %%rdx\n\t"
                                "cmovaq %[want], %%rdx\n\t"        /* k = min(room, n) */
                                "leaq (%%rax,%%rcx,8), %%r8\n\t"   /* first free slot */
                                NP_RSEQ_COPY("%[src]", "%%r8")
                                "movq %%rdx, (%[pushed])\n\t"
                                "addq %%rdx, %%rcx\n\t"
                                "movq %%rcx, (%%rax,%[off])\n\t")  /* commit */
                            :
                            : NP_RSEQ_CUR(cur), [off] "r"(NP_RSEQ_STACK_OFF(cls)),
                              [src] "r"(src), [want] "r"(want), [pushed] "r"(&pushed)
                            : "rax", "rcx", "rdx", "r8", "r9", "r10", "memory", "cc"
                            : aborted, changed, miss);
  return (unsigned)pushed;
aborted:
  goto retry;
changed:
  if (np_percpu_switch_cpu(pc, cur)) goto retry;
miss:
  return 0;
}

/* Pops up to n (>= 1) of the top entries into dst in one sequence. Returns how many. */
static inline unsigned np_percpu_pop_batch(np_percpu *pc, np_percpu_cpu *cur, unsigned cls, void **dst,
                                           unsigned n) {
  uintptr_t popped;
  uintptr_t want = n;
retry:
  __asm__ __volatile__ goto(NP_RSEQ_SEQUENCE(
                                NP_RSEQ_FIND_REGION(changed)
                                NP_RSEQ_LOAD_LIMIT_THEN_TOP(12)    /* floor */
                                "jbe %l[miss]\n\t"
                                "movq %%rcx, %%r8\n\t"
                                "subq %%rdx, %%r8\n\t"             /* held: top - floor */
                                "movq %%r8, %%rdx\n\t"
                                "cmpq %[want], %%rdx\n\t"
                                "cmovaq %[want], %%rdx\n\t"        /* k = min(held, n) */
                                "subq %%rdx, %%rcx\n\t"            /* the new top */
                                "leaq (%%rax,%%rcx,8), %%r8\n\t"   /* first slot taken */
                                NP_RSEQ_COPY("%%r8", "%[dst]")
                                "movq %%rdx, (%[popped])\n\t"
                                NP_RSEQ_LOWER_LOW_WATER
                                "movq %%rcx, (%%rax,%[off])\n\t")  /* commit */
                            :
                            : NP_RSEQ_CUR(cur), [off] "r"(NP_RSEQ_STACK_OFF(cls)),
                              [dst] "r"(dst), [want] "r"(want), [popped] "r"(&popped)
                            : "rax", "rcx", "rdx", "r8", "r9", "r10", "memory", "cc"
                            : aborted, changed, miss);
  return (unsigned)popped;
aborted:
  goto retry;
changed:
  if (np_percpu_switch_cpu(pc, cur)) goto retry;
miss:
  return 0;
}

#else /* not x86-64 (or C++, which only needs the types): no per-CPU caches */
#include "percpu_absent_ops.h"
#endif

#endif
