/*
 * np_remote as an intrusive list under a pthread mutex (mutex and rseq
 * strategies): a push links the block in front (its first word is the link)
 * in one short critical section, and the owner takes the whole list in
 * another, whatever its length. The owner checks an atomic count first, so an
 * empty list costs it no lock; a full one (limit blocks) refuses the push
 * before taking the lock.
 *
 * A lock acquisition per freed block is what Netty's design costs, so the
 * freeing side batches: it collects up to NP_REMOTE_HANDOVER_BATCH blocks for
 * one owner class (core/cache/remote_outbox.c) and hands them over with one
 * np_remote_push_chain, one critical section per batch.
 */
#ifndef NP_LOCKED_REMOTE_H
#define NP_LOCKED_REMOTE_H

#include <pthread.h>
#include <stddef.h>

typedef struct np_remote {
  pthread_mutex_t mutex;
  void *head;     /* under mutex */
  unsigned count; /* under mutex; also read without it (atomic) */
  unsigned limit;
} np_remote;

static inline void np_remote_init(np_remote *r, unsigned limit) {
  pthread_mutex_init(&r->mutex, NULL);
  r->head = NULL;
  r->count = 0;
  r->limit = limit;
}

static inline void np_remote_destroy(np_remote *r) { pthread_mutex_destroy(&r->mutex); }

#define NP_REMOTE_HANDOVER_BATCH 32

/* As many of the chain's first blocks as fit (n blocks from first, linked by
 * their first words) in one critical section; *rest: the ones that did not. */
static inline unsigned np_remote_push_chain(np_remote *r, void *first, unsigned n, void **rest) {
  *rest = first;
  if (__atomic_load_n(&r->count, __ATOMIC_RELAXED) >= r->limit) return 0;
  pthread_mutex_lock(&r->mutex);
  unsigned k = r->count < r->limit ? r->limit - r->count : 0;
  if (k > n) k = n;
  if (k) {
    void *cut = first;
    for (unsigned i = 1; i < k; i++) cut = *(void **)cut;
    *rest = k < n ? *(void **)cut : NULL; /* (the chain is n long: the last link is not read) */
    *(void **)cut = r->head;
    r->head = first;
    __atomic_store_n(&r->count, r->count + k, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&r->mutex);
  return k;
}

static inline void *np_remote_take_all(np_remote *r) {
  if (__atomic_load_n(&r->count, __ATOMIC_RELAXED) == 0) return NULL;
  pthread_mutex_lock(&r->mutex);
  void *list = r->head;
  r->head = NULL;
  __atomic_store_n(&r->count, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&r->mutex);
  return list;
}

static inline void *np_remote_next(const void *block) { return *(void *const *)block; }

/* fork(): keeps every producer and the owner out while the process forks. */
static inline void np_remote_fork_lock(np_remote *r) { pthread_mutex_lock(&r->mutex); }
static inline void np_remote_fork_unlock(np_remote *r) { pthread_mutex_unlock(&r->mutex); }

#endif
