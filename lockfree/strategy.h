/*
 * The concurrency strategy interface: everything core/ needs from a strategy,
 * and nothing else. A strategy folder (mutex/, ck/, ...) supplies
 * np_strategy_impl.h with these types and (inline) functions:
 *
 *   np_lock                     a lock embedded in arenas and small-class heads
 *     np_lock_init / np_lock_destroy / np_lock_acquire / np_lock_release
 *
 *   np_mpsc                     a bounded multi-producer single-consumer queue
 *                               of pointers: the way a block freed on another
 *                               thread goes back to the cache that owns it
 *     size_t np_mpsc_storage_bytes(unsigned capacity)   capacity: a power of two
 *     void   np_mpsc_init(np_mpsc *q, void *storage, unsigned capacity)
 *     int    np_mpsc_enqueue(np_mpsc *q, void *p)   any thread; 0 when full (or
 *                                                   when waiting would be needed)
 *     void  *np_mpsc_dequeue(np_mpsc *q)            the owner only; NULL if empty
 *     unsigned np_mpsc_size(np_mpsc *q)             any thread; a snapshot
 *     void   np_mpsc_destroy(np_mpsc *q)
 *     void   np_mpsc_fork_lock(np_mpsc *q)      fork(): hold off producers and
 *     void   np_mpsc_fork_unlock(np_mpsc *q)    consumer (no-op when lock-free)
 *
 *   Per-CPU stacks (np_percpu, see common/percpu_stack.h), for strategies
 *   that cache per CPU; the others say "not available" (common/no_percpu.h):
 *     int  np_percpu_available(void)                   usable in this process
 *     const char *np_percpu_unavailable_reason(void)   "" when available, why
 *                                                      not, or NULL: none here
 *     void *np_percpu_pop(np_percpu *, unsigned cls)          a block or NULL
 *     int  np_percpu_push(np_percpu *, unsigned cls, void *p)  1 or 0 (full)
 *     unsigned np_percpu_push_batch(pc, cls, void *const *src, n)  how many of
 *                                  src went on, in one sequence (one commit)
 *     unsigned np_percpu_pop_batch(pc, cls, void **dst, n)  how many came off
 *                                  into dst (the top ones), in one sequence
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
