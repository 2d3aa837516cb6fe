/*
 * mutex strategy: Netty's design with pthread mutexes. Arena and small-class
 * locks are mutexes; a block freed by another thread reaches its owner's
 * cache through a mutex-guarded intrusive list (common/locked_remote.h), which
 * the owner takes whole. No per-CPU caches.
 */
#ifndef NP_STRATEGY_IMPL_H
#define NP_STRATEGY_IMPL_H

#define NP_STRATEGY_NAME "mutex"

#include "locked_remote.h"
#include "no_percpu.h"
#include "pthread_lock.h"

#endif
