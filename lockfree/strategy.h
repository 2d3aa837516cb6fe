/*
 * The concurrency strategy interface: what core/ calls to make an arena safe
 * for many threads. A strategy supplies, in its np_strategy_impl.h:
 *
 *   np_lock                 a lock type embedded in arenas
 *   np_lock_init/destroy    set up / tear down a lock
 *   np_lock_acquire/release mutual exclusion for arena state
 *
 * core/ never tests which strategy is built; it only calls these.
 */
#ifndef NP_STRATEGY_H
#define NP_STRATEGY_H

#include "np_strategy_impl.h"

#endif
