/*
 * Per-CPU caches: the cache policy for strategies that change per-CPU stacks
 * in restartable sequences (the rseq strategy). One stack per (CPU, cached
 * class), capacities from small_cache_size / normal_cache_size:
 *
 *   alloc: pop this CPU's stack; on a miss, take a batch of blocks from this
 *          CPU's arena (arenas[cpu % arenas]), push all but one, return one
 *   free:  push on this CPU's stack; when full, drain half of it to the
 *          arenas first
 *   trim:  every cache_trim_interval lookups of a thread, half of what each
 *          class holds on that thread's CPU goes back to the arenas
 *   flush: every CPU, from any thread, while others run: the CPU's stacks are
 *          locked (np_percpu_lock_cpu) and emptied; where the strategy cannot
 *          lock another CPU, the flushing thread moves onto that CPU instead
 *
 * The strategy's np_percpu_pop/push are the only code that touches a stack
 * of a CPU that is not locked. Counters go to the calling thread's np_tcache
 * (hits, pushes, refills, flushes), so stats work as for thread caches.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "internal.h"

#define REFILL_BATCH_MAX 32

int np_cpu_cache_init(np_allocator *a) {
  np_percpu *pc = &a->percpu;
  if (!np_percpu_available() || a->n_cached == 0) return NP_OK;
  pc->n_cpus = (uint32_t)get_nprocs_conf();
  pc->n_classes = a->n_cached;
  size_t n = (size_t)pc->n_cpus * pc->n_classes;
  size_t slots = 0;
  for (unsigned c = 0; c < a->n_cached; c++) slots += a->cache_cap[c];
  a->percpu_bytes = n * sizeof(np_percpu_stack) + (size_t)pc->n_cpus * 64 +
                    (size_t)pc->n_cpus * slots * sizeof(np_percpu_entry);
  char *mem = np_os_map(a->percpu_bytes);
  if (mem == NULL) return NP_ERR_NO_MEMORY;
  pc->stacks = (np_percpu_stack *)mem;
  pc->locks = (uint32_t *)(mem + n * sizeof(np_percpu_stack));
  np_percpu_entry *slot = (np_percpu_entry *)(mem + n * sizeof(np_percpu_stack) + (size_t)pc->n_cpus * 64);
  for (uint32_t cpu = 0; cpu < pc->n_cpus; cpu++)
    for (unsigned c = 0; c < a->n_cached; c++) {
      np_percpu_stack *s = &pc->stacks[cpu * pc->n_classes + c];
      s->slots = slot;
      s->cap = a->cache_cap[c];
      s->lock = &pc->locks[cpu * 16];
      slot += a->cache_cap[c];
    }
  a->percpu_active = 1;
  return NP_OK;
}

void np_cpu_cache_destroy(np_allocator *a) {
  if (a->percpu_active) np_os_unmap(a->percpu.stacks, a->percpu_bytes);
}

/* ---- Moving blocks between the caches and the arenas ----------------------------- */

static void free_to_arena(np_allocator *a, np_tcache *tc, unsigned idx, void *p) {
  np_region *r = np_registry_get(&a->registry, p);
  np_arena_free(r->arena, r, p, 1);
  if (tc) NP_STORE(&tc->classes[idx].flushed, tc->classes[idx].flushed + 1);
}

/* Pops up to n blocks of class idx from the current CPU and frees them. */
static void drain_current(np_allocator *a, np_tcache *tc, unsigned idx, intptr_t n) {
  np_percpu_entry e;
  while (n-- > 0 && np_percpu_pop(&a->percpu, idx, &e)) free_to_arena(a, tc, idx, e.ptr);
}

np_arena *np_cpu_cache_arena(np_allocator *a) {
  return &a->arenas[(unsigned)np_percpu_current_cpu() % a->n_arenas];
}

void *np_cpu_cache_alloc(np_allocator *a, np_tcache *tc, unsigned idx) {
  np_cache_class *cc = &tc->classes[idx];
  if (++tc->lookups >= tc->trim_interval) {
    tc->lookups = 0;
    np_cpu_cache_trim_current(a, tc);
  }
  np_percpu_entry e;
  if (np_percpu_pop(&a->percpu, idx, &e)) {
    NP_STORE((np_block_tag *)e.tag, 0);
    NP_STORE(&cc->hits, cc->hits + 1);
    return e.ptr;
  }
  /* Miss: a batch from this CPU's arena; one for the caller, the rest cached. */
  void *batch[REFILL_BATCH_MAX];
  unsigned want = a->cache_cap[idx] / 2;
  if (want > REFILL_BATCH_MAX) want = REFILL_BATCH_MAX;
  if (want == 0) want = 1;
  unsigned got = np_arena_alloc_batch(np_cpu_cache_arena(a), idx, batch, want);
  if (got == 0) return NULL;
  for (unsigned i = 1; i < got; i++) {
    np_block_tag *tag = np_block_tag_of(a, batch[i]);
    NP_STORE(tag, NP_TAG_CACHED);
    if (np_percpu_push(&a->percpu, idx, batch[i], tag)) {
      NP_STORE(&cc->refilled, cc->refilled + 1);
    } else { /* full meanwhile (another thread on this CPU refilled too) */
      NP_STORE(&cc->refilled, cc->refilled + 1);
      free_to_arena(a, tc, idx, batch[i]); /* counted as refilled, then flushed */
    }
  }
  return batch[0];
}

int np_cpu_cache_free(np_allocator *a, np_tcache *tc, void *ptr, const np_block_ref *ref,
                      np_block_tag tag) {
  unsigned idx = ref->size_idx;
  if (a->cache_cap[idx] == 0 || tc == NULL) return 0;
  np_cache_class *cc = &tc->classes[idx];
  NP_STORE(ref->tag, (np_block_tag)(tag | NP_TAG_CACHED));
  for (int attempt = 0; attempt < 2; attempt++) {
    if (np_percpu_push(&a->percpu, idx, ptr, ref->tag)) {
      NP_STORE(&cc->pushes, cc->pushes + 1);
      return 1;
    }
    drain_current(a, tc, idx, a->cache_cap[idx] / 2 ? a->cache_cap[idx] / 2 : 1);
  }
  NP_STORE(ref->tag, tag); /* the CPU is under maintenance: the arena */
  return 0;
}

void np_cpu_cache_trim_current(np_allocator *a, np_tcache *tc) {
  int cpu = np_percpu_current_cpu();
  if (cpu < 0 || (uint32_t)cpu >= a->percpu.n_cpus) return;
  for (unsigned c = 0; c < a->n_cached; c++) {
    intptr_t n = NP_LOAD(&a->percpu.stacks[(uint32_t)cpu * a->percpu.n_classes + c].count);
    if (n > 0) drain_current(a, tc, c, (n + 1) / 2);
  }
}

/* Empties one CPU's stacks from another thread. */
static void flush_cpu(np_allocator *a, np_tcache *tc, unsigned cpu) {
  np_percpu *pc = &a->percpu;
  if (np_percpu_lock_cpu(pc, cpu) == 0) {
    for (unsigned c = 0; c < pc->n_classes; c++) {
      np_percpu_stack *s = &pc->stacks[cpu * pc->n_classes + c];
      while (s->count > 0) free_to_arena(a, tc, c, s->slots[--s->count].ptr);
    }
    np_percpu_unlock_cpu(pc, cpu);
    return;
  }
  /* No way to stop that CPU's sequences: run there and pop like its threads. */
  cpu_set_t old, one;
  if (sched_getaffinity(0, sizeof old, &old) != 0) return;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) == 0) {
    for (unsigned c = 0; c < pc->n_classes; c++) drain_current(a, tc, c, INTPTR_MAX);
    sched_setaffinity(0, sizeof old, &old);
  }
}

void np_cpu_cache_flush_all(np_allocator *a, np_tcache *tc) {
  for (unsigned cpu = 0; cpu < a->percpu.n_cpus; cpu++) flush_cpu(a, tc, cpu);
}
