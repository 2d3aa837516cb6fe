/*
 * Cross-CPU maintenance for the rseq strategy, and why per-CPU caches may be
 * off. To change another CPU's stacks while threads run on it: raise that
 * CPU's lock word (sequences that start after it give up), then have the
 * kernel restart every sequence in flight on that CPU with membarrier's
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ. After that no sequence can commit to
 * the CPU's stacks until the lock word drops.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "np_strategy_impl.h"

static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;
static int membarrier_ok;

static int membarrier(int cmd, unsigned flags, int cpu) {
  return (int)syscall(__NR_membarrier, cmd, flags, cpu);
}

static void register_membarrier(void) {
  int cmds = membarrier(MEMBARRIER_CMD_QUERY, 0, 0);
  membarrier_ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) &&
                  membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) == 0;
}

const char *np_percpu_unavailable_reason(void) {
#if defined(__x86_64__)
  if (__rseq_size == 0)
    return "rseq is not registered (GLIBC_TUNABLES=glibc.pthread.rseq=0, valgrind or an old "
           "kernel): per-thread caches instead";
  return "";
#else
  return "no rseq assembly for this architecture: per-thread caches instead";
#endif
}

int np_percpu_lock_cpu(np_percpu *pc, unsigned cpu) {
  pthread_once(&membarrier_once, register_membarrier);
  if (!membarrier_ok || cpu >= pc->n_cpus) return -1;
  uint32_t *lock = &pc->locks[cpu * 16];
  uint32_t expected = 0;
  while (!__atomic_compare_exchange_n(lock, &expected, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
    expected = 0;
    sched_yield();
  }
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, (int)cpu) != 0) {
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
    return -1;
  }
  return 0;
}

void np_percpu_unlock_cpu(np_percpu *pc, unsigned cpu) {
  __atomic_store_n(&pc->locks[cpu * 16], 0, __ATOMIC_RELEASE);
}
