/*
 * Cross-CPU maintenance for the rseq strategy, and why per-CPU caches may be
 * off. To change another CPU's stacks while threads run on it: take that
 * CPU's maintenance word (maintainers exclude each other with it), stop each
 * of its stacks ({end, floor} = {0, NP_PERCPU_STOPPED_FLOOR}: sequences that
 * start after it find every stack empty and full), then have the kernel
 * restart every sequence in flight on that CPU with membarrier's
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ. After that no sequence can commit to
 * the CPU's stacks until they are restarted.
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

static void stop_stacks(np_percpu *pc, unsigned cpu) {
  np_percpu_stack *s = np_percpu_stacks_of(pc, cpu);
  for (unsigned c = 0; c < pc->n_classes; c++) {
    uint64_t old = __atomic_exchange_n(np_percpu_end_floor_of(&s[c]),
                                       np_percpu_end_floor_word(0, NP_PERCPU_STOPPED_FLOOR), __ATOMIC_SEQ_CST);
    __atomic_store_n(&s[c].stopped_end, (uint32_t)old, __ATOMIC_RELAXED);
  }
}

static void restart_stacks(np_percpu *pc, unsigned cpu) {
  np_percpu_stack *s = np_percpu_stacks_of(pc, cpu);
  for (unsigned c = 0; c < pc->n_classes; c++)
    __atomic_store_n(np_percpu_end_floor_of(&s[c]),
                     np_percpu_end_floor_word(__atomic_load_n(&s[c].stopped_end, __ATOMIC_RELAXED), s[c].begin),
                     __ATOMIC_RELEASE);
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
  stop_stacks(pc, cpu);
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, (int)cpu) != 0) {
    restart_stacks(pc, cpu);
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
    return -1;
  }
  return 0;
}

void np_percpu_unlock_cpu(np_percpu *pc, unsigned cpu) {
  restart_stacks(pc, cpu);
  __atomic_store_n(&pc->locks[cpu * 16], 0, __ATOMIC_RELEASE);
}

#if defined(__x86_64__)
int np_percpu_switch_cpu(np_percpu *pc, np_percpu_cpu *cur) {
  uint32_t cpu = (uint32_t)np_percpu_current_cpu(); /* (-1 before rseq knows it: out of range) */
  if (cpu >= pc->n_cpus || pc->regions == NULL) return 0;
  if (__atomic_load_n(&cur->cpu, __ATOMIC_RELAXED) == cpu) return 1;
  /* The pair must never name one CPU with another's region, whatever a
   * signal handler on this thread does in between: while `switching` is
   * set a handler's switch does nothing (its sequences miss: the arena),
   * and the CPU is NP_PERCPU_NO_CPU while the region changes. */
  if (__atomic_load_n(&cur->switching, __ATOMIC_RELAXED)) return 0;
  __atomic_store_n(&cur->switching, 1, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n(&cur->cpu, NP_PERCPU_NO_CPU, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n(&cur->stacks, np_percpu_stacks_of(pc, cpu), __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n(&cur->cpu, cpu, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n(&cur->switching, 0, __ATOMIC_RELAXED);
  return 1;
}
#endif
