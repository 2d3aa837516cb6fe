/* Anonymous mappings from the system, the only source of npool's memory. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/base/base.h"

#ifdef NP_FAULT_INJECTION
/* Test builds only (fault_inject.h): the nth map of a kind fails, and every
 * byte mapped and unmapped is counted. */

#include "core/base/fault_inject.h"

static NP_ATOMIC(long) fault_countdown[NP_FAULT_KINDS];
static NP_ATOMIC(int) fault_fired;
static NP_ATOMIC(int64_t) fault_mapped;

void np_fault_arm(np_fault_kind kind, long n) {
  for (int k = 0; k < NP_FAULT_KINDS; k++) atomic_store(&fault_countdown[k], 0);
  atomic_store(&fault_fired, 0);
  atomic_store(&fault_countdown[kind], n);
}

int np_fault_fired(void) { return atomic_load(&fault_fired); }
int64_t np_fault_mapped_bytes(void) { return atomic_load(&fault_mapped); }
void np_fault_account(int64_t bytes) { atomic_fetch_add(&fault_mapped, bytes); }

int np_fault_hit(np_fault_kind kind) {
  if (atomic_load(&fault_countdown[kind]) <= 0) return 0;
  if (atomic_fetch_sub(&fault_countdown[kind], 1) != 1) return 0;
  atomic_store(&fault_fired, 1);
  return 1;
}
#define NP_FAULT_HIT(kind) np_fault_hit(kind)
#define NP_FAULT_ACCOUNT(bytes) np_fault_account(bytes)
#else
#define NP_FAULT_HIT(kind) 0
#define NP_FAULT_ACCOUNT(bytes) ((void)0)
#endif

void *np_os_map(size_t size) {
  if (NP_FAULT_HIT(NP_FAULT_MAP)) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  NP_FAULT_ACCOUNT((int64_t)size);
  return p;
}

void np_os_unmap(void *p, size_t size) {
  if (p) {
    munmap(p, size);
    NP_FAULT_ACCOUNT(-(int64_t)size);
  }
}

size_t np_os_page_size(void) {
  static NP_ATOMIC(size_t) page; /* the same value from every thread that sets it */
  size_t p = atomic_load_explicit(&page, memory_order_relaxed);
  if (p == 0) atomic_store_explicit(&page, p = (size_t)sysconf(_SC_PAGESIZE), memory_order_relaxed);
  return p;
}

/* A mapping whose start is a multiple of alignment (a power of two >= the
 * system page): map size + alignment and trim both ends. */
void *np_os_map_aligned(size_t size, size_t alignment) {
  if (size > SIZE_MAX - alignment) return NULL;
  void *p = np_os_map(size);
  if (p == NULL) return NULL;
  if (((uintptr_t)p & (alignment - 1)) == 0) return p;
  np_os_unmap(p, size);
  char *raw = np_os_map(size + alignment);
  if (raw == NULL) return NULL;
  char *aligned = (char *)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
  if (aligned > raw) np_os_unmap(raw, (size_t)(aligned - raw));
  size_t tail = (size_t)(raw + size + alignment - (aligned + size));
  if (tail) np_os_unmap(aligned + size, tail);
  return aligned;
}
