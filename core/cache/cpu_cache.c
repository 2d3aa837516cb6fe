/*
 * Per-CPU caches: the cache policy for strategies that change per-CPU stacks
 * in restartable sequences (the rseq strategy). One stack per (CPU, cached
 * class), capacities from small_cache_size / normal_cache_size:
 *
 *   alloc: pop this CPU's stack; on a miss, take a batch from the transfer
 *          cache (transfer_cache.c: what other CPUs gave up), or else from
 *          this CPU's arena (arenas[cpu % arenas]) with one acquisition of its
 *          locks; return one and push the rest in one sequence
 *   free:  push on this CPU's stack; when full, double its capacity while
 *          cache_grow_bytes allows (cache_capacity.c), or else pop half of it
 *          in one sequence and hand that to the transfer cache (the arenas
 *          take what does not fit) first; while the CPU's stacks hold
 *          cache_max_bytes, the class holding the most gives half too
 *   trim:  every cache_trim_interval lookups of a thread, each class on that
 *          thread's CPU gives back its low-water mark (what sat unused since
 *          the last trim; with trim_low_water off, half of what it holds);
 *          a grown class that had unused entries halves its capacity; and one
 *          other CPU, in turn, that no thread trimmed for dirty_decay_ms is
 *          emptied (an idle CPU's caches decay like free pages)
 *   flush: every CPU, from any thread, while others run: the CPU's stacks are
 *          locked (np_percpu_lock_cpu) and emptied; where the strategy cannot
 *          lock another CPU, the flushing thread moves onto that CPU instead;
 *          then the transfer cache is emptied
 *
 * The strategy's np_percpu_* operations are the only code that touches a
 * stack of a CPU that is not locked. Blocks on the stacks carry their free
 * marks (np_free claimed them, or the refill marked them). Counters go to the
 * calling thread's np_tcache (hits, refills, flushes), so stats work as for
 * thread caches; pushes are not counted (the stats count the blocks on the
 * stacks and in the transfer cache instead: np_cpu_cache_blocks).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "core/cache/cache_internal.h"

#define BATCH_MAX 64

int np_cpu_cache_init(np_caches *caches) {
  np_percpu *pc = &caches->percpu;
  if (!np_percpu_available() || caches->n_cached == 0) return NP_OK;
  pc->n_cpus = (uint32_t)get_nprocs_conf();
  pc->n_classes = caches->n_cached;
  /* A CPU's region: its stacks, then every class's slots, for what the class
   * may grow to (in words from the region's start). */
  const size_t first_slot = (size_t)pc->n_classes * sizeof(np_percpu_stack) / sizeof(void *);
  size_t words = first_slot;
  for (unsigned c = 0; c < caches->n_cached; c++) words += caches->cache_max_cap[c];
  if (words >= UINT32_MAX) return NP_ERR_NO_MEMORY;
  pc->region_bytes = (words * sizeof(void *) + 63) & ~(size_t)63;
  size_t regions_bytes = (size_t)pc->n_cpus * pc->region_bytes, locks_bytes = (size_t)pc->n_cpus * 64;
  size_t grown_bytes = (size_t)pc->n_cpus * sizeof(intptr_t);
  size_t trimmed_bytes = (size_t)pc->n_cpus * sizeof(uint64_t);
  caches->percpu_bytes = regions_bytes + locks_bytes + grown_bytes + trimmed_bytes;
  char *mem = np_os_map(caches->percpu_bytes);
  if (mem == NULL) return NP_ERR_NO_MEMORY;
  pc->regions = mem;
  pc->locks = (uint32_t *)(mem + regions_bytes);
  caches->percpu_grown = (intptr_t *)(mem + regions_bytes + locks_bytes);
  caches->percpu_trimmed_ns = (uint64_t *)(mem + regions_bytes + locks_bytes + grown_bytes);
  uint64_t now = np_clock_ns();
  for (uint32_t cpu = 0; cpu < pc->n_cpus; cpu++) caches->percpu_trimmed_ns[cpu] = now;
  for (uint32_t cpu = 0; cpu < pc->n_cpus; cpu++) {
    np_percpu_stack *s = np_percpu_stacks_of(pc, cpu);
    uint32_t w = (uint32_t)first_slot;
    for (unsigned c = 0; c < caches->n_cached; c++) {
      s[c].begin = s[c].floor = s[c].low_water = w;
      s[c].top = w;
      s[c].end = w + caches->cache_cap[c];
      w += caches->cache_max_cap[c];
    }
  }
  if (np_transfer_init(caches) != NP_OK) {
    np_os_unmap(mem, caches->percpu_bytes);
    return NP_ERR_NO_MEMORY;
  }
  caches->percpu_active = 1;
  return NP_OK;
}

void np_cpu_cache_destroy(np_caches *caches) {
  if (caches->percpu_active) np_os_unmap(caches->percpu.regions, caches->percpu_bytes);
  np_transfer_destroy(caches);
}

/* ---- Moving blocks between the caches and the arenas ----------------------------- */

static void count_flushed(np_tcache *tc, unsigned idx, unsigned n) {
  if (tc) NP_STORE(&tc->classes[idx].flushed, tc->classes[idx].flushed + n);
}

/* Pops up to n blocks of class idx from the current CPU, a batch per
 * sequence, and gives them back: to the transfer cache first when another CPU
 * may want them soon (an overflow), to the arenas (a trim: unused memory). */
static void drain_current(np_caches *caches, np_tcache *tc, unsigned idx, intptr_t n, int to_transfer) {
  void *batch[BATCH_MAX];
  np_percpu_cpu none = {NP_PERCPU_NO_CPU, 0, NULL};
  np_percpu_cpu *cur = tc ? &tc->percpu_cpu : &none;
  while (n > 0) {
    unsigned got = np_percpu_pop_batch(&caches->percpu, cur, idx, batch, n < BATCH_MAX ? (unsigned)n : BATCH_MAX);
    if (got == 0) return;
    unsigned kept = to_transfer ? np_transfer_insert(caches, idx, batch, got) : 0;
    if (kept < got) {
      np_arena_free_cached(caches->pool, batch + kept, got - kept);
      count_flushed(tc, idx, got - kept);
    }
    n -= got;
  }
}

np_arena *np_cpu_cache_arena(np_caches *caches) {
  return &caches->pool->arenas[(unsigned)np_percpu_current_cpu() % caches->pool->n_arenas];
}

/* A miss: a batch from the transfer cache (blocks still cached, marked free)
 * or else from this CPU's arena; one for the caller, the rest cached. */
__attribute__((noinline)) static void *refill(np_caches *caches, np_tcache *tc, unsigned idx) {
  np_cache_class *cc = &tc->classes[idx];
  void *batch[BATCH_MAX];
  unsigned got = np_transfer_remove(caches, idx, batch, caches->refill_count[idx]);
  if (got == 0) {
    got = np_arena_alloc_batch(np_cpu_cache_arena(caches), idx, batch, caches->refill_count[idx], 0);
    if (got == 0) return NULL;
    for (unsigned i = 1; i < got; i++) np_block_mark(caches, batch[i]);
    NP_STORE(&cc->refilled, cc->refilled + got);
  }
  unsigned pushed = got > 1 ? np_percpu_push_batch(&caches->percpu, &tc->percpu_cpu, idx, batch + 1, got - 1) : 0;
  NP_STORE(&cc->hits, cc->hits + 1);
  if (pushed < got - 1) { /* full meanwhile (another thread on this CPU refilled too) */
    np_arena_free_cached(caches->pool, batch + 1 + pushed, got - 1 - pushed);
    count_flushed(tc, idx, got - 1 - pushed);
  }
  np_block_unmark(batch[0]);
  return batch[0];
}

static void trim_current_cpu(np_caches *caches, np_tcache *tc);

__attribute__((noinline)) static void trim_now(np_caches *caches, np_tcache *tc) {
  tc->until_trim = caches->cfg->cache_trim_interval;
  trim_current_cpu(caches, tc);
}

void *np_cpu_cache_alloc(np_caches *caches, np_tcache *tc, unsigned idx) {
  np_percpu_switch_cpu(&caches->percpu, &tc->percpu_cpu); /* (the pop may have missed for that) */
  if (tc->until_trim <= 1) trim_now(caches, tc);
  void *p = np_cpu_cache_pop(caches, tc, idx);
  if (p) return p;
  tc->until_trim--; /* a lookup that found nothing */
  return refill(caches, tc, idx);
}

static np_percpu_stack *stack_of(np_caches *caches, unsigned cpu, unsigned idx) {
  return &np_percpu_stacks_of(&caches->percpu, cpu)[idx];
}

/* Sets a CPU's class capacity from `from` to `to` (cache_capacity.c decides
 * them), from whichever thread runs there (or ran there a moment ago: a CAS,
 * so that a change is counted in the CPU's growth once, and that fails while
 * the CPU is stopped); the sequences read the capacity afresh, and the storage
 * is for the largest one. 1 if it changed. */
static int set_cap(np_caches *caches, unsigned cpu, unsigned idx, uint32_t from, uint32_t to) {
  np_percpu_stack *s = stack_of(caches, cpu, idx);
  uint64_t expected = np_percpu_end_floor_word(s->begin + from, s->begin);
  if (to == from || !__atomic_compare_exchange_n(np_percpu_end_floor_of(s), &expected,
                                                 np_percpu_end_floor_word(s->begin + to, s->begin), 0,
                                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    return 0;
  intptr_t *grown = &caches->percpu_grown[cpu];
  intptr_t bytes = (intptr_t)np_cache_capacity_growth_bytes(caches, idx, to > from ? to - from : from - to);
  __atomic_fetch_add(grown, to > from ? bytes : -bytes, __ATOMIC_RELAXED);
  return 1;
}

static int current_cpu(np_caches *caches) {
  int cpu = np_percpu_current_cpu();
  return cpu >= 0 && (uint32_t)cpu < caches->percpu.n_cpus ? cpu : -1;
}

/* Bytes of blocks on a CPU's stacks, and the class other than idx holding
 * the most (idx if none holds any). */
static size_t held_bytes(np_caches *caches, unsigned cpu, unsigned idx, unsigned *fullest) {
  size_t held = 0, most = 0;
  *fullest = idx;
  for (unsigned c = 0; c < caches->n_cached; c++) {
    size_t bytes = np_cache_capacity_bytes(caches, c, np_percpu_count(stack_of(caches, cpu, c)));
    held += bytes;
    if (c != idx && bytes > most) {
      most = bytes;
      *fullest = c;
    }
  }
  return held;
}

/* Halves the capacity of class idx on the current CPU (the thread runs on
 * cpu, or did a moment ago); what no longer fits goes to the transfer cache. */
static void give_up_capacity(np_caches *caches, np_tcache *tc, unsigned cpu, unsigned idx) {
  np_percpu_stack *s = stack_of(caches, cpu, idx);
  uint32_t cap = np_percpu_cap(s), to = np_cache_capacity_given_up(cap);
  if (!set_cap(caches, cpu, idx, cap, to)) return;
  intptr_t over = (intptr_t)np_percpu_count(s) - (intptr_t)to;
  if (over > 0) drain_current(caches, tc, idx, over, 1);
}

bool np_cpu_cache_free(np_caches *caches, np_tcache *tc, void *ptr, unsigned idx) {
  if (caches->cache_cap[idx] == 0 || tc == NULL) return 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    np_percpu_switch_cpu(&caches->percpu, &tc->percpu_cpu); /* (a push misses on another CPU) */
    if (np_cpu_cache_push(caches, tc, idx, ptr)) return 1;
    int cpu = current_cpu(caches);
    unsigned fullest;
    if (cpu >= 0 && np_cache_over_budget(caches, idx, held_bytes(caches, (unsigned)cpu, idx, &fullest))) {
      /* The CPU holds its budget: no growth; the other class holding the
       * most gives up half its capacity, and so does this one if it alone
       * may hold more than the budget. */
      if (fullest != idx) give_up_capacity(caches, tc, (unsigned)cpu, fullest);
      if (np_cache_capacity_over_budget(caches, idx, np_percpu_cap(stack_of(caches, (unsigned)cpu, idx))))
        give_up_capacity(caches, tc, (unsigned)cpu, idx);
    } else if (cpu >= 0) { /* room for the burst, if the CPU's growth allows */
      uint32_t cap = np_percpu_cap(stack_of(caches, (unsigned)cpu, idx));
      intptr_t grown = __atomic_load_n(&caches->percpu_grown[cpu], __ATOMIC_RELAXED);
      if (set_cap(caches, (unsigned)cpu, idx, cap, np_cache_capacity_grown(caches, idx, cap, grown)))
        continue;
    }
    /* (half of what it holds now: a class may have given up capacity) */
    intptr_t held = cpu >= 0 ? (intptr_t)np_percpu_count(stack_of(caches, (unsigned)cpu, idx))
                             : (intptr_t)caches->cache_cap[idx];
    drain_current(caches, tc, idx, held > 1 ? held / 2 : 1, 1);
  }
  return 0; /* the CPU is under maintenance: the arena */
}

static void drain_idle_cpu(np_caches *caches, np_tcache *tc, unsigned self, uint64_t now);

static void trim_current_cpu(np_caches *caches, np_tcache *tc) {
  int cpu = current_cpu(caches);
  if (cpu < 0) return;
  uint64_t now = np_clock_ns();
  __atomic_store_n(&caches->percpu_trimmed_ns[cpu], now, __ATOMIC_RELAXED);
  drain_idle_cpu(caches, tc, (unsigned)cpu, now);
  for (unsigned c = 0; c < caches->n_cached; c++) {
    np_percpu_stack *s = stack_of(caches, (unsigned)cpu, c);
    uint32_t unused = NP_LOAD(&s->low_water) - s->begin;
    intptr_t n = caches->cfg->trim_low_water ? (intptr_t)unused : ((intptr_t)np_percpu_count(s) + 1) / 2;
    if (n > 0) drain_current(caches, tc, c, n, 0);
    /* The thread's hits stand for the CPU's: per-CPU stacks count none. */
    np_cache_class *cc = &tc->classes[c];
    uint64_t used = cc->hits - cc->hits_at_trim;
    cc->hits_at_trim = cc->hits;
    uint32_t cap = np_percpu_cap(s), to = np_cache_capacity_shrunk(caches, c, cap, unused, used);
    if (set_cap(caches, (unsigned)cpu, c, cap, to)) { /* (to, not a re-read: 0 if a maintainer stops the CPU) */
      intptr_t over = (intptr_t)np_percpu_count(s) - (intptr_t)to;
      if (over > 0) drain_current(caches, tc, c, over, 0);
    }
    NP_STORE(&s->low_water, (uint32_t)NP_LOAD(&s->top));
  }
}

/* Empties one CPU's stacks from another thread, its sequences stopped; 0 if
 * the strategy cannot stop them. */
static int empty_stopped_cpu(np_caches *caches, np_tcache *tc, unsigned cpu) {
  np_percpu *pc = &caches->percpu;
  if (np_percpu_lock_cpu(pc, cpu) != 0) return 0;
  np_percpu_stack *stacks = np_percpu_stacks_of(pc, cpu);
  for (unsigned c = 0; c < pc->n_classes; c++) {
    np_percpu_stack *s = &stacks[c];
    unsigned n = np_percpu_count(s);
    np_arena_free_cached(caches->pool, np_percpu_entry(stacks, s->begin), n);
    count_flushed(tc, c, n);
    NP_STORE(&s->top, (intptr_t)s->begin);
    s->low_water = s->begin;
  }
  np_percpu_unlock_cpu(pc, cpu);
  return 1;
}

/* One other CPU per trim, in turn: when no thread has trimmed it for
 * dirty_decay_ms and it holds blocks, its stacks are emptied, so that a CPU
 * whose threads went away (or only free there) keeps its blocks no longer
 * than the arenas keep free pages. */
static void drain_idle_cpu(np_caches *caches, np_tcache *tc, unsigned self, uint64_t now) {
  unsigned turn = __atomic_fetch_add(&caches->percpu_idle_next, 1, __ATOMIC_RELAXED);
  unsigned cpu = turn % caches->percpu.n_cpus;
  if (cpu == self) return;
  uint64_t last = __atomic_load_n(&caches->percpu_trimmed_ns[cpu], __ATOMIC_RELAXED);
  unsigned fullest;
  if (last >= now || now - last < caches->pool->decay_ns) return;
  if (held_bytes(caches, cpu, 0, &fullest) == 0) return;
  __atomic_store_n(&caches->percpu_trimmed_ns[cpu], now, __ATOMIC_RELAXED);
  empty_stopped_cpu(caches, tc, cpu); /* (never by moving there: this is someone's np_alloc) */
}

/* Empties one CPU's stacks from another thread. */
static void flush_cpu(np_caches *caches, np_tcache *tc, unsigned cpu) {
  np_percpu *pc = &caches->percpu;
  if (empty_stopped_cpu(caches, tc, cpu)) return;
  /* No way to stop that CPU's sequences: run there and pop like its threads. */
  cpu_set_t old, one;
  if (sched_getaffinity(0, sizeof old, &old) != 0) return;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) == 0) {
    for (unsigned c = 0; c < pc->n_classes; c++) drain_current(caches, tc, c, INTPTR_MAX, 0);
    sched_setaffinity(0, sizeof old, &old);
  }
}

void np_cpu_cache_flush_all(np_caches *caches, np_tcache *tc) {
  for (unsigned cpu = 0; cpu < caches->percpu.n_cpus; cpu++) flush_cpu(caches, tc, cpu);
  for (unsigned c = 0; c < caches->n_cached; c++) count_flushed(tc, c, np_transfer_flush(caches, c));
}

uint64_t np_cpu_cache_blocks(np_caches *caches, unsigned idx) {
  uint64_t n = np_transfer_count(caches, idx);
  for (unsigned cpu = 0; cpu < caches->percpu.n_cpus; cpu++)
    n += np_percpu_count(stack_of(caches, cpu, idx));
  return n;
}

/* ---- fork() (fork.c calls these in its order) ---------------------------------- */

void np_cpu_cache_fork_lock(np_caches *caches) {
  /* Where the strategy cannot lock a CPU (-1, the same answer for every CPU)
   * no thread ever holds these locks: nothing to take. Should a later CPU
   * refuse, the ones taken are given back (unlock restarts only what was
   * stopped). */
  caches->fork_percpu_locked = 0;
  if (!np_percpu_on(caches)) return;
  for (unsigned cpu = 0; cpu < caches->percpu.n_cpus; cpu++)
    if (np_percpu_lock_cpu(&caches->percpu, cpu) != 0) {
      while (cpu-- > 0) np_percpu_unlock_cpu(&caches->percpu, cpu);
      return;
    }
  caches->fork_percpu_locked = caches->percpu.n_cpus > 0;
}

void np_cpu_cache_fork_unlock(np_caches *caches) {
  if (caches->fork_percpu_locked)
    for (unsigned cpu = 0; cpu < caches->percpu.n_cpus; cpu++) np_percpu_unlock_cpu(&caches->percpu, cpu);
}
