/*
 * mutex strategy: Netty's design with pthread mutexes. Arena and small-class
 * locks are mutexes; a block freed by another thread reaches its owner's
 * cache through a mutex-guarded ring. No per-CPU caches.
 */
#ifndef NP_STRATEGY_IMPL_H
#define NP_STRATEGY_IMPL_H

#define NP_STRATEGY_NAME "mutex"

#include "locked_mpsc.h"
#include "no_percpu.h"
#include "pthread_lock.h"

#endif
