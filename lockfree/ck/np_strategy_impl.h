/*
 * ck strategy: Netty's cache design made lock-free with Concurrency Kit.
 *
 * - Arena and small-class locks are ck spinlocks (fetch-and-store), which
 *   yield the CPU after a while: on a machine with more threads than cores a
 *   pure spin would burn the lock holder's time slice.
 * - A block freed by another thread goes back to its owner's cache through a
 *   ck_ring: ck_ring_enqueue_mpsc from any thread, ck_ring_dequeue_mpsc by the
 *   owner only.
 *
 * Preemption inside the enqueue: ck's multi-producer enqueue reserves a slot
 * (CAS on p_head), writes it, then waits until every earlier producer has
 * published (p_tail) before publishing its own. A producer preempted between
 * the two makes every later producer spin until it runs again. So a producer
 * that sees another enqueue in flight (p_head != p_tail) does not join the
 * wait: np_mpsc_enqueue reports "full" and the caller frees the block to the
 * arena instead. Only producers that start in the same instant can still wait
 * on each other, and only for as long as the other needs to write one slot.
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

typedef struct np_mpsc {
  struct { /* ck_ring_t */
    unsigned int c_head;
    char pad[CK_MD_CACHELINE - sizeof(unsigned int)];
    unsigned int p_tail;
    unsigned int p_head;
    char _pad[CK_MD_CACHELINE - sizeof(unsigned int) * 2];
    unsigned int size;
    unsigned int mask;
  } ring;
  void *buffer; /* ck_ring_buffer_t[size] */
} np_mpsc;

#ifndef __cplusplus
#include <ck_pr.h>
#include <ck_ring.h>
#include <ck_spinlock.h>
#include <sched.h>

#include "tsan_annotations.h"

_Static_assert(sizeof(np_lock) == sizeof(ck_spinlock_fas_t), "np_lock mirrors ck_spinlock_fas_t");
_Static_assert(sizeof(((np_mpsc *)0)->ring) == sizeof(ck_ring_t), "np_mpsc mirrors ck_ring_t");
_Static_assert(offsetof(ck_ring_t, p_head) == offsetof(np_mpsc, ring.p_head), "ck_ring_t layout");
_Static_assert(offsetof(ck_ring_t, mask) == offsetof(np_mpsc, ring.mask), "ck_ring_t layout");

#define NP_CK_LOCK(l) ((ck_spinlock_fas_t *)&(l)->value)
#define NP_CK_RING(q) ((ck_ring_t *)&(q)->ring)
#define NP_CK_BUFFER(q) ((ck_ring_buffer_t *)(q)->buffer)

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

/* A ck ring of capacity slots holds capacity - 1 entries. */
static inline size_t np_mpsc_storage_bytes(unsigned capacity) {
  return capacity * sizeof(ck_ring_buffer_t);
}

static inline void np_mpsc_init(np_mpsc *q, void *storage, unsigned capacity) {
  ck_ring_init(NP_CK_RING(q), capacity);
  q->buffer = storage;
}

static inline void np_mpsc_destroy(np_mpsc *q) { (void)q; }

static inline int np_mpsc_enqueue(np_mpsc *q, void *p) {
  /* Another producer between reserve and publish: do not wait behind it. */
  if (ck_pr_load_uint(&q->ring.p_head) != ck_pr_load_uint(&q->ring.p_tail)) return 0;
  NP_TSAN_RELEASE(q);
  return ck_ring_enqueue_mpsc(NP_CK_RING(q), NP_CK_BUFFER(q), p);
}

static inline void *np_mpsc_dequeue(np_mpsc *q) {
  void *p;
  if (!ck_ring_dequeue_mpsc(NP_CK_RING(q), NP_CK_BUFFER(q), &p)) return NULL;
  NP_TSAN_ACQUIRE(q);
  return p;
}

static inline unsigned np_mpsc_size(np_mpsc *q) { return ck_ring_size(NP_CK_RING(q)); }

/* fork(): nothing to hold. A producer caught between reserving and publishing
 * a slot leaves p_head != p_tail in the child: later enqueues report full (the
 * block goes to the arena) and the consumer never sees that slot. */
static inline void np_mpsc_fork_lock(np_mpsc *q) { (void)q; }
static inline void np_mpsc_fork_unlock(np_mpsc *q) { (void)q; }
#endif /* !__cplusplus */

#endif
