/* np_lock as a pthread mutex (mutex and rseq strategies). */
#ifndef NP_PTHREAD_LOCK_H
#define NP_PTHREAD_LOCK_H

#include <pthread.h>

typedef struct np_lock {
  pthread_mutex_t mutex;
} np_lock;

static inline void np_lock_init(np_lock *l) { pthread_mutex_init(&l->mutex, NULL); }
static inline void np_lock_destroy(np_lock *l) { pthread_mutex_destroy(&l->mutex); }
static inline void np_lock_acquire(np_lock *l) { pthread_mutex_lock(&l->mutex); }
static inline void np_lock_release(np_lock *l) { pthread_mutex_unlock(&l->mutex); }

#endif
