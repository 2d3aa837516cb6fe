/*
 * np_remote as an intrusive list under a pthread mutex (mutex and rseq
 * strategies): a push links the block in front (its first word is the link)
 * in one short critical section, and the owner takes the whole list in
 * another, whatever its length. The owner checks an atomic count first, so an
 * empty list costs it no lock; a full one (limit blocks) refuses the push
 * before taking the lock.
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

static inline int np_remote_push(np_remote *r, void *block) {
  if (__atomic_load_n(&r->count, __ATOMIC_RELAXED) >= r->limit) return 0;
  int ok = 0;
  pthread_mutex_lock(&r->mutex);
  if (r->count < r->limit) {
    *(void **)block = r->head;
    r->head = block;
    __atomic_store_n(&r->count, r->count + 1, __ATOMIC_RELAXED);
    ok = 1;
  }
  pthread_mutex_unlock(&r->mutex);
  return ok;
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
