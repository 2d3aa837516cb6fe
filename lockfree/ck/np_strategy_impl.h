/*
 * ck strategy: Netty's cache design made lock-free with Concurrency Kit.
 *
 * - Arena and small-class locks are ck spinlocks (fetch-and-store), which
 *   yield the CPU after a while: on a machine with more threads than cores a
 *   pure spin would burn the lock holder's time slice.
 * - A block freed by another thread goes back to its owner's cache through
 *   a ck_stack used as an intrusive multi-producer list (the link is the
 *   freed block's first word): ck_stack_push_upmc's CAS from any thread,
 *   ck_stack_batch_pop_upmc (one fetch-and-store) by the owner, which takes
 *   every block at once: mimalloc's thread-delayed free lists and
 *   snmalloc's message queues work this way. It replaced a ck_ring
 *   (ck_ring_enqueue_mpsc), whose producers reserve a slot and then wait for
 *   every earlier producer to publish: one preempted in between stalled the
 *   others, so a producer that saw another in flight gave its block to the
 *   arena instead, and the ring's capacity was a hard limit.
 * - The freeing side batches as snmalloc's message passing does: a thread
 *   collects up to NP_REMOTE_HANDOVER_BATCH blocks per (owner, class) in its
 *   outbox (core/cache/remote_outbox.c) and pushes the chain with one CAS, so
 *   a remote free costs a fraction of a locked instruction instead of two.
 *
 * Preemption and fork: a push is one CAS on the head, retried when another
 * push or the owner's take won. A producer preempted anywhere delays nobody;
 * one caught by fork has either pushed or not, and the child's list works.
 * A count beside the head (incremented after the push, reset by the take)
 * bounds the list at `limit` blocks, approximately: pushes racing a take can
 * leave it off by the number of producers at that moment.
 */
#ifndef NP_STRATEGY_IMPL_H
#define NP_STRATEGY_IMPL_H

#include <ck_md.h>
#include <stddef.h>

#include "no_percpu.h"

#define NP_STRATEGY_NAME "ck"

/* ck's headers are C only (C++ rejects some of their inline functions), but
 * the C++ tests must see the same struct layouts. So the types below mirror
 * ck's, and the C build checks that they match. */
typedef struct np_lock {
  unsigned int value; /* ck_spinlock_fas_t */
} np_lock;

/* A push is one CAS whatever the chain's length: blocks go over in batches
 * of this many (per owner and class; visible to the C++ tests). */
#define NP_REMOTE_HANDOVER_BATCH 32

typedef struct np_remote {
  struct { /* ck_stack_t */
    void *head;
    char *generation;
  } stack;
  unsigned int count; /* blocks pushed since the last take (approximate) */
  unsigned int limit;
} np_remote;

#ifndef __cplusplus
#include <ck_pr.h>
#include <ck_stack.h>
#include <ck_spinlock.h>
#include <sched.h>

#include "tsan_annotations.h"

_Static_assert(sizeof(np_lock) == sizeof(ck_spinlock_fas_t), "np_lock mirrors ck_spinlock_fas_t");
_Static_assert(sizeof(((np_remote *)0)->stack) == sizeof(ck_stack_t), "np_remote mirrors ck_stack_t");
_Static_assert(offsetof(ck_stack_t, head) == offsetof(np_remote, stack.head) - offsetof(np_remote, stack),
               "ck_stack_t layout");

#define NP_CK_LOCK(l) ((ck_spinlock_fas_t *)&(l)->value)
#define NP_CK_STACK(r) ((ck_stack_t *)&(r)->stack)

static inline void np_lock_init(np_lock *l) { ck_spinlock_fas_init(NP_CK_LOCK(l)); }
static inline void np_lock_destroy(np_lock *l) { (void)l; }
static inline void np_lock_acquire(np_lock *l) {
  unsigned spins = 0;
  while (!ck_spinlock_fas_trylock(NP_CK_LOCK(l))) {
    if (++spins < 64) ck_pr_stall();
    else sched_yield();
  }
  NP_TSAN_ACQUIRE(l);
}
static inline void np_lock_release(np_lock *l) {
  NP_TSAN_RELEASE(l);
  ck_spinlock_fas_unlock(NP_CK_LOCK(l));
}

static inline void np_remote_init(np_remote *r, unsigned limit) {
  ck_stack_init(NP_CK_STACK(r));
  r->count = 0;
  r->limit = limit;
}

static inline void np_remote_destroy(np_remote *r) { (void)r; }

/* As many of the chain's first blocks as fit (by the approximate count), with
 * one CAS: ck_stack_push_upmc's loop, with TSan's release between the link's
 * store and the CAS that publishes it (TSan cannot see ck's inline assembly;
 * a release before the call would not cover the store, one after it could come
 * too late for an owner that already took the block). *rest: the blocks that
 * did not fit. */
static inline unsigned np_remote_push_chain(np_remote *r, void *first, unsigned n, void **rest) {
  unsigned count = ck_pr_load_uint(&r->count);
  unsigned k = count < r->limit ? r->limit - count : 0;
  if (k > n) k = n;
  *rest = first;
  if (k == 0) return 0;
  ck_stack_entry_t *cut = (ck_stack_entry_t *)first;
  for (unsigned i = 1; i < k; i++) cut = cut->next;
  *rest = k < n ? cut->next : NULL; /* (the chain is n long: the last link is not read) */
  ck_stack_t *s = NP_CK_STACK(r);
  ck_stack_entry_t *head = ck_pr_load_ptr(&s->head);
  do {
    cut->next = head;
    ck_pr_fence_store();
    NP_TSAN_RELEASE(r);
  } while (!ck_pr_cas_ptr_value(&s->head, head, (ck_stack_entry_t *)first, &head));
  ck_pr_add_uint(&r->count, k);
  return k;
}

/* The whole list (the owner; or a producer that found the owner dead). An
 * empty list gets its count back to 0: a producer adds its count after its
 * CAS, so a take between the two leaves the count of a batch already taken,
 * and a list whose limit is about a batch would refuse every push for good. */
static inline void *np_remote_take_all(np_remote *r) {
  if (ck_pr_load_ptr(&r->stack.head) == NULL) {
    if (ck_pr_load_uint(&r->count) != 0) ck_pr_store_uint(&r->count, 0);
    return NULL;
  }
  void *list = ck_stack_batch_pop_upmc(NP_CK_STACK(r));
  ck_pr_store_uint(&r->count, 0);
  NP_TSAN_ACQUIRE(r);
  return list;
}

static inline void *np_remote_next(const void *block) {
  return ((const ck_stack_entry_t *)block)->next;
}

/* fork(): nothing to hold (a push is one CAS). */
static inline void np_remote_fork_lock(np_remote *r) { (void)r; }
static inline void np_remote_fork_unlock(np_remote *r) { (void)r; }
#endif /* !__cplusplus */

#endif
