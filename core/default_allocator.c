/*
 * The process-wide allocator: np_default_allocator() (Netty's
 * PooledByteBufAllocator.DEFAULT) and the allocator behind npool's malloc
 * (malloc.c). Made on first use from NPOOL_CONF, never destroyed; with
 * stats_print set, its stats go to stderr when the process exits.
 *
 * Made without pthread_once: as malloc it is first called from deep inside the
 * C library (the dynamic loader, pthread_create, stdio), and anything it calls
 * while it is being made may call malloc again on the same thread, which
 * pthread_once would deadlock. Such a nested call gets NULL, and
 * np_default_allocator_creating() says why (malloc.c serves it from a static
 * reserve); other threads wait for the first to finish.
 *
 *   state: 0 (none) --first caller--> its pid (being made) --> MADE
 *          (np_default_alloc set), or back to 0 when there was no memory
 *          for it (that call gets NULL, ENOMEM; the next one tries again)
 *
 * The pid is for fork() while another thread is making it: the child then
 * sees the parent's pid and no thread that will finish, so it starts over
 * (what the parent's thread had made so far is left unused; it is on no list,
 * see np_tcaches_publish).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

np_allocator *np_default_alloc; /* __atomic; internal.h: npool's malloc reads it inline */
#define MADE (-1L)
static NP_ATOMIC(long) state;
static NP_TLS int creating; /* this thread is making it */

/* stats_print: a copy of stderr taken when the allocator is made, because
 * programs close stderr in their own exit handlers (gnulib's close_stdout,
 * in coreutils, does), and those run before this one. */
static int stats_fd = -1;

static void print_stats_at_exit(void) {
  np_allocator *a = __atomic_load_n(&np_default_alloc, __ATOMIC_ACQUIRE);
  FILE *out = stats_fd >= 0 ? fdopen(stats_fd, "w") : NULL;
  np_stats_print(a, out ? out : stderr, 0);
  if (out) fclose(out);
}

static np_allocator *create(void) {
  np_allocator *a = NULL;
  np_config cfg = np_config_from_env(); /* reports bad NPOOL_CONF items itself */
  int rc = np_allocator_create(&cfg, &a);
  if (rc == NP_ERR_NO_MEMORY) return NULL; /* not the settings' fault: tried again later */
  if (rc != NP_OK) {
    /* Settings that parse but do not combine (np_allocator_create checks those). */
    fprintf(stderr, "npool: NPOOL_CONF: %s; the default allocator uses the defaults\n",
            np_strerror(rc));
    cfg = np_config_default();
    if (np_allocator_create(&cfg, &a) != NP_OK) a = NULL;
  }
  return a;
}

static np_allocator *default_slow(void) {
  for (;;) {
    long s = atomic_load_explicit(&state, memory_order_acquire);
    if (s == MADE) break;
    if (s != 0 && creating) return NULL; /* called from inside create() */
    long me = (long)getpid();
    if (s != 0 && s != me) { /* forked while the parent was making it: start over */
      atomic_compare_exchange_strong(&state, &s, 0);
      continue;
    }
    long expected = 0;
    if (s == 0 && atomic_compare_exchange_strong(&state, &expected, me)) {
      creating = 1;
      np_allocator *a = create();
      if (a == NULL) { /* no memory now: the next call tries again */
        atomic_store_explicit(&state, 0, memory_order_release);
        creating = 0;
        errno = ENOMEM;
        return NULL;
      }
      __atomic_store_n(&np_default_alloc, a, __ATOMIC_RELEASE);
      atomic_store_explicit(&state, MADE, memory_order_release);
      creating = 0;
      /* After it is made: atexit may itself call malloc. */
      if (a && a->cfg.stats_print) {
        stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        atexit(print_stats_at_exit);
      }
      break;
    }
    sched_yield(); /* another thread is making it */
  }
  np_allocator *a = __atomic_load_n(&np_default_alloc, __ATOMIC_ACQUIRE);
  if (a == NULL) errno = ENOMEM;
  return a;
}

np_allocator *np_default_allocator(void) {
  np_allocator *a = __atomic_load_n(&np_default_alloc, __ATOMIC_ACQUIRE);
  return a ? a : default_slow();
}

bool np_default_allocator_creating(void) { return creating; }
