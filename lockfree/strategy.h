/*
 * The concurrency strategy interface: everything core/ needs from a strategy,
 * and nothing else. A strategy folder (mutex/, ck/, ...) supplies
 * np_strategy_impl.h with these types and (inline) functions:
 *
 *   np_lock                     a lock embedded in arenas and small-class heads
 *     np_lock_init / np_lock_destroy / np_lock_acquire / np_lock_release
 *
 *   np_remote                   the blocks freed by other threads for one
 *                               owner (a thread cache's class): an intrusive
 *                               list, the link in each freed block's first
 *                               word, at most `limit` blocks (approximately,
 *                               under concurrent pushes)
 *     void  np_remote_init(np_remote *r, unsigned limit)
 *     unsigned np_remote_push_chain(r, first, n, &rest)  any thread: of n blocks
 *                                              linked from first, as many as fit
 *                                              at once; returns how many, *rest
 *                                              the rest (still the caller's)
 *     NP_REMOTE_HANDOVER_BATCH                 blocks a freeing thread collects
 *                                              per owner class before one
 *                                              push_chain (1: it pushes each)
 *     void *np_remote_take_all(np_remote *r)   the owner only: every block,
 *                                              linked by np_remote_next; NULL if none
 *     void *np_remote_next(const void *block)  the block after it, NULL at the end
 *     void  np_remote_destroy(np_remote *r)
 *     void  np_remote_fork_lock(np_remote *r)     fork(): hold off producers and
 *     void  np_remote_fork_unlock(np_remote *r)   owner (no-op when lock-free)
 *
 *   Per-CPU stacks (np_percpu, see common/percpu_stack.h), for strategies
 *   that cache per CPU; the others say "not available" (common/no_percpu.h):
 *     NP_PERCPU_COMPILED                               1 where the per-CPU
 *                                                      stacks are built in (a
 *                                                      constant: the fast paths
 *                                                      of the others drop them)
 *     int  np_percpu_available(void)                   usable in this process
 *     const char *np_percpu_unavailable_reason(void)   "" when available, why
 *                                                      not, or NULL: none here
 *     (cur: the calling thread's np_percpu_cpu, which the operations keep)
 *     void *np_percpu_pop(np_percpu *, np_percpu_cpu *cur, unsigned cls)  a block or NULL
 *     int  np_percpu_push(np_percpu *, cur, unsigned cls, void *p)  1 or 0 (full)
 *     unsigned np_percpu_push_batch(pc, cur, cls, void *const *src, n)  how many
 *                                  of src went on, in one sequence (one commit)
 *     unsigned np_percpu_pop_batch(pc, cur, cls, void **dst, n)  how many came
 *                                  off into dst (the top ones), in one sequence
 *     int  np_percpu_switch_cpu(pc, cur)  cur takes the current CPU (pop and
 *                                  push miss, and call nothing, when it is not it)
 *     int  np_percpu_current_cpu(void)
 *     int  np_percpu_lock_cpu(np_percpu *, unsigned cpu)  stop that CPU's
 *     void np_percpu_unlock_cpu(np_percpu *, unsigned cpu)  sequences (0), or -1
 *
 *   NP_STRATEGY_NAME            "mutex", "ck", "rseq"
 *
 * core/ never tests which strategy is built; it only calls these.
 */
#ifndef NP_STRATEGY_H
#define NP_STRATEGY_H

#include <stddef.h>

#include "np_strategy_impl.h"
#include "tsan_annotations.h"

#endif
