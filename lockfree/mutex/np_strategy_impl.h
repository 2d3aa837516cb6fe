/*
 * mutex strategy: Netty's design with pthread mutexes. Arena and small-class
 * locks are mutexes; a block freed by another thread reaches its owner's cache
 * through a ring guarded by a mutex (the owner checks an atomic count first,
 * so an empty queue costs it no lock).
 */
#ifndef NP_STRATEGY_IMPL_H
#define NP_STRATEGY_IMPL_H

#include <pthread.h>
#include <stddef.h>

#define NP_STRATEGY_NAME "mutex"

typedef struct np_lock {
  pthread_mutex_t mutex;
} np_lock;

static inline void np_lock_init(np_lock *l) { pthread_mutex_init(&l->mutex, NULL); }
static inline void np_lock_destroy(np_lock *l) { pthread_mutex_destroy(&l->mutex); }
static inline void np_lock_acquire(np_lock *l) { pthread_mutex_lock(&l->mutex); }
static inline void np_lock_release(np_lock *l) { pthread_mutex_unlock(&l->mutex); }

typedef struct np_mpsc {
  pthread_mutex_t mutex;
  void **slots;
  unsigned mask;
  unsigned head, tail; /* under mutex: dequeue at head, enqueue at tail */
  unsigned count;      /* also read without the mutex (atomic) */
} np_mpsc;

static inline size_t np_mpsc_storage_bytes(unsigned capacity) { return capacity * sizeof(void *); }

static inline void np_mpsc_init(np_mpsc *q, void *storage, unsigned capacity) {
  pthread_mutex_init(&q->mutex, NULL);
  q->slots = (void **)storage;
  q->mask = capacity - 1;
  q->head = q->tail = q->count = 0;
}

static inline void np_mpsc_destroy(np_mpsc *q) { pthread_mutex_destroy(&q->mutex); }

static inline int np_mpsc_enqueue(np_mpsc *q, void *p) {
  int ok = 0;
  pthread_mutex_lock(&q->mutex);
  if (q->count <= q->mask) {
    q->slots[q->tail++ & q->mask] = p;
    __atomic_store_n(&q->count, q->count + 1, __ATOMIC_RELAXED);
    ok = 1;
  }
  pthread_mutex_unlock(&q->mutex);
  return ok;
}

static inline void *np_mpsc_dequeue(np_mpsc *q) {
  if (__atomic_load_n(&q->count, __ATOMIC_RELAXED) == 0) return NULL;
  void *p = NULL;
  pthread_mutex_lock(&q->mutex);
  if (q->count) {
    p = q->slots[q->head++ & q->mask];
    __atomic_store_n(&q->count, q->count - 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&q->mutex);
  return p;
}

static inline unsigned np_mpsc_size(np_mpsc *q) { return __atomic_load_n(&q->count, __ATOMIC_RELAXED); }

#endif
