/*
 * np_mpsc as a ring guarded by a pthread mutex (mutex and rseq strategies).
 * The owner checks an atomic count first, so an empty queue costs it no lock.
 */
#ifndef NP_LOCKED_MPSC_H
#define NP_LOCKED_MPSC_H

#include <pthread.h>
#include <stddef.h>

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

/* fork(): keeps every producer and the consumer out while the process forks. */
static inline void np_mpsc_fork_lock(np_mpsc *q) { pthread_mutex_lock(&q->mutex); }
static inline void np_mpsc_fork_unlock(np_mpsc *q) { pthread_mutex_unlock(&q->mutex); }

#endif
