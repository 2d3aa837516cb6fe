/* Anonymous mappings from the system, the only source of npool's memory. */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

void *np_os_map(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void np_os_unmap(void *p, size_t size) {
  if (p) munmap(p, size);
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
  if (aligned > raw) munmap(raw, (size_t)(aligned - raw));
  size_t tail = (size_t)(raw + size + alignment - (aligned + size));
  if (tail) munmap(aligned + size, tail);
  return aligned;
}
