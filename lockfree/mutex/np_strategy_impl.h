/* mutex strategy: Netty's locking, with pthread mutexes. */
#ifndef NP_STRATEGY_IMPL_H
#define NP_STRATEGY_IMPL_H

#include <pthread.h>

#define NP_STRATEGY_NAME "mutex"

typedef struct np_lock {
  pthread_mutex_t mutex;
} np_lock;

static inline void np_lock_init(np_lock *l) { pthread_mutex_init(&l->mutex, NULL); }
static inline void np_lock_destroy(np_lock *l) { pthread_mutex_destroy(&l->mutex); }
static inline void np_lock_acquire(np_lock *l) { pthread_mutex_lock(&l->mutex); }
static inline void np_lock_release(np_lock *l) { pthread_mutex_unlock(&l->mutex); }

#endif
