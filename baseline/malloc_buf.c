/* Buffers for the malloc baselines: a malloc'd block filled by memcpy, freed
 * by the consumer (the same work as npool's np_buf path, minus the buffer
 * object and its reference count). */
#include <stdlib.h>
#include <string.h>

#include "baseline/bench_alloc.h"

typedef struct malloc_buf {
  size_t len;
  unsigned char data[];
} malloc_buf;

void *bench_buf_make(size_t n, const unsigned char *pattern, size_t pattern_len) {
  malloc_buf *b = malloc(sizeof *b + n);
  if (b == NULL) return NULL;
  b->len = n;
  for (size_t off = 0; off < n; off += pattern_len) {
    size_t k = n - off < pattern_len ? n - off : pattern_len;
    memcpy(b->data + off, pattern, k);
  }
  return b;
}

uint64_t bench_buf_consume(void *buf, size_t *len) {
  malloc_buf *b = buf;
  *len = b->len;
  uint64_t sum = b->len ? (uint64_t)b->data[0] + b->data[b->len - 1] : 0;
  free(b);
  return sum;
}

void *bench_alloc(size_t n) { return malloc(n); }
void bench_free(void *p) { free(p); }
int bench_alloc_finish(void) { return 0; }

/* A malloc cannot say where its bytes are through this interface. */
int bench_alloc_breakdown(bench_breakdown *out) {
  (void)out;
  return 0;
}
