/*
 * Pooled buffers (npool_buf.h): the default allocator, allocation, the
 * reference count, indices, growth, views (slices, duplicates) and I/O
 * through iovecs. The typed accessors are in buffer_access.c, the objects'
 * recycling in recycler.c, the data in buffer_internal.h.
 *
 * Life of a buffer:
 *
 *   np_buf_alloc: object from the recycler (gen even -> odd), block from np_alloc,
 *   count 1
 *     | retain / release (CAS on the root's count; never from 0 back up)
 *     v
 *   count reaches 0 (the release that did it, on any thread):
 *     leak hook, np_free(block) (back to the allocating thread's cache),
 *     every view made of it and then the root: gen odd -> even, recycler
 *
 * Growth (Netty's ensureWritable): a write that does not fit takes the rest
 * of the block already held when that is enough (capacity = min(block size,
 * max capacity), no copy); otherwise np_buf_calculate_new_capacity gives the
 * new capacity, a new block is allocated, the old capacity's bytes copied and
 * the old block freed. Views address the root's memory through root->mem, so
 * they follow a move.
 */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "buffer_internal.h"

/* ---- Allocation and growth policy ------------------------------------------------ */

int np_buf_calculate_new_capacity(size_t min_new_capacity, size_t max_capacity, size_t *out) {
  if (out == NULL) return NP_ERR_NULL_ARGUMENT;
  if (min_new_capacity > max_capacity) return NP_ERR_MAX_CAPACITY;
  const size_t threshold = NP_BUF_GROWTH_THRESHOLD;
  size_t cap;
  if (min_new_capacity == threshold) {
    cap = threshold;
  } else if (min_new_capacity > threshold) {
    /* Above the threshold: the next multiple of it (not doubling). */
    cap = min_new_capacity / threshold * threshold;
    cap = cap > max_capacity - threshold ? max_capacity : cap + threshold;
  } else {
    cap = 64; /* 64 <= a power of two <= threshold */
    while (cap < min_new_capacity) cap <<= 1;
    if (cap > max_capacity) cap = max_capacity;
  }
  *out = cap;
  return NP_OK;
}

/* gen + 1 (even -> odd when handed out, odd -> even when retired). Its
 * writer holds the object alone (just out of a recycler, or its count just
 * reached 0; others only read gen), so a store does: no locked instruction on
 * a line that the thread which released the object last wrote (the recycler
 * brings objects home across threads). */
static void gen_advance(np_buf *b) {
  uint32_t g = atomic_load_explicit(&b->gen, memory_order_relaxed);
  atomic_store_explicit(&b->gen, g + 1, memory_order_release);
}

np_buf *np_buf_alloc(np_allocator *a, size_t initial_capacity, size_t max_capacity) {
  if (a == NULL || initial_capacity > max_capacity || initial_capacity > PTRDIFF_MAX) {
    errno = EINVAL;
    return NULL;
  }
  np_buf *b = np_recycler_get();
  if (b == NULL) return NULL;
  char *mem = np_alloc(a, initial_capacity);
  if (mem == NULL) {
    np_recycler_put(b); /* still free: gen even */
    errno = ENOMEM;
    return NULL;
  }
  b->root = b;
  b->root_gen = 0;
  b->kind = NP_BUF_ROOT;
  b->offset = 0;
  b->capacity = initial_capacity;
  b->max_capacity = max_capacity;
  b->reader = b->writer = 0;
  b->alloc = a;
  b->mem = mem;
  b->block_size = np_good_size(a, initial_capacity);
  b->next = NULL;
  b->leak = NULL;
  atomic_store_explicit(&b->derived, NULL, memory_order_relaxed);
  atomic_store_explicit(&b->refcnt, 1, memory_order_relaxed);
  gen_advance(b); /* now odd: live */
  np_leak_on_create(b, a, __builtin_return_address(0));
  return b;
}

int np_buf_ensure(np_buf *b, np_buf *r, size_t n) {
  size_t cap = np_buf_cap(b, r), max = np_buf_max_cap(b, r);
  if (n > PTRDIFF_MAX) return NP_ERR_INDEX; /* a negative length, converted */
  if (n <= cap - b->writer) return NP_OK;
  if (n > max - b->writer) return NP_ERR_MAX_CAPACITY;
  /* Only roots and duplicates get here (a slice's max is its capacity), and
   * both index the root from 0. */
  size_t target = b->writer + n;
  if (target <= r->block_size) { /* the block already held has room */
    r->capacity = r->block_size < r->max_capacity ? r->block_size : r->max_capacity;
    return NP_OK;
  }
  size_t new_cap = target; /* target <= max: the call below cannot fail */
  (void)np_buf_calculate_new_capacity(target, r->max_capacity, &new_cap);
  char *mem = np_alloc(r->alloc, new_cap);
  if (mem == NULL) return NP_ERR_NO_MEMORY;
  memcpy(mem, r->mem, r->capacity);
  np_free(r->alloc, r->mem);
  r->mem = mem;
  r->block_size = np_good_size(r->alloc, new_cap);
  r->capacity = new_cap;
  return NP_OK;
}

/* ---- Reference count ------------------------------------------------------------- */

/* gen odd -> even, then the calling thread's recycler. */
static void retire(np_buf *o) {
  gen_advance(o);
  np_recycler_put(o);
}

/* The count of r reached 0: its memory, then its views and itself. */
static void deallocate(np_buf *r) {
  np_leak_on_free(r);
  np_free(r->alloc, r->mem);
  r->mem = NULL;
  np_buf *v = atomic_exchange_explicit(&r->derived, NULL, memory_order_acquire);
  while (v) {
    np_buf *next = v->next;
    retire(v);
    v = next;
  }
  retire(r);
}

int np_buf_retain_n(np_buf *b, uint32_t n) {
  NP_BUF_ENTER(b, r);
  if (n == 0) return NP_ERR_REFCNT;
  uint32_t cur = atomic_load_explicit(&r->refcnt, memory_order_relaxed);
  do {
    if (cur == 0 || n > UINT32_MAX - cur) return NP_ERR_REFCNT; /* released, or overflow */
  } while (!atomic_compare_exchange_weak_explicit(&r->refcnt, &cur, cur + n, memory_order_relaxed,
                                                  memory_order_relaxed));
  return NP_OK;
}

int np_buf_retain(np_buf *b) { return np_buf_retain_n(b, 1); }

int np_buf_release_n(np_buf *b, uint32_t n) {
  NP_BUF_ENTER(b, r);
  if (n == 0) return NP_ERR_REFCNT;
  uint32_t cur = atomic_load_explicit(&r->refcnt, memory_order_relaxed);
  do {
    if (n > cur) return NP_ERR_REFCNT; /* below 0 (or already 0) */
  } while (!atomic_compare_exchange_weak_explicit(&r->refcnt, &cur, cur - n, memory_order_acq_rel,
                                                  memory_order_relaxed));
  if (cur == n) deallocate(r);
  return NP_OK;
}

int np_buf_release(np_buf *b) { return np_buf_release_n(b, 1); }

int np_buf_refcnt(const np_buf *b, uint32_t *out) {
  if (out == NULL) return NP_ERR_NULL_ARGUMENT;
  np_buf *r;
  int rc = np_buf_live(b, &r);
  if (rc == NP_ERR_REFCNT) {
    *out = 0; /* released: Netty's refCnt() says 0 */
    return NP_OK;
  }
  if (rc != NP_OK) return rc;
  *out = atomic_load_explicit(&r->refcnt, memory_order_relaxed);
  return NP_OK;
}

int np_buf_touch(np_buf *b, const char *hint) {
  np_buf *r;
  int rc = np_buf_live(b, &r);
  if (rc == NP_OK) np_leak_on_touch(r, hint);
  return rc;
}

/* ---- Indices and capacity ------------------------------------------------------------ */

#define GETTER(name, expr)                               \
  int np_buf_##name(const np_buf *b, size_t *out) {      \
    NP_BUF_ENTER(b, r);                                  \
    if (out == NULL) return NP_ERR_NULL_ARGUMENT;        \
    *out = (expr);                                       \
    return NP_OK;                                        \
  }

GETTER(capacity, np_buf_cap(b, r))
GETTER(max_capacity, np_buf_max_cap(b, r))
GETTER(reader_index, b->reader)
GETTER(writer_index, b->writer)
GETTER(readable_bytes, b->writer - b->reader)
GETTER(writable_bytes, np_buf_cap(b, r) - b->writer)

int np_buf_set_reader_index(np_buf *b, size_t index) {
  NP_BUF_ENTER(b, r);
  if (index > b->writer) return NP_ERR_INDEX;
  b->reader = index;
  return NP_OK;
}

int np_buf_set_writer_index(np_buf *b, size_t index) {
  NP_BUF_ENTER(b, r);
  if (index < b->reader || index > np_buf_cap(b, r)) return NP_ERR_INDEX;
  b->writer = index;
  return NP_OK;
}

int np_buf_set_index(np_buf *b, size_t reader, size_t writer) {
  NP_BUF_ENTER(b, r);
  if (reader > writer || writer > np_buf_cap(b, r)) return NP_ERR_INDEX;
  b->reader = reader;
  b->writer = writer;
  return NP_OK;
}

int np_buf_clear(np_buf *b) {
  NP_BUF_ENTER(b, r);
  b->reader = b->writer = 0;
  return NP_OK;
}

int np_buf_discard_read_bytes(np_buf *b) {
  NP_BUF_ENTER(b, r);
  if (b->reader == 0) return NP_OK;
  if (b->reader != b->writer)
    memmove(np_buf_addr(b, r, 0), np_buf_addr(b, r, b->reader), b->writer - b->reader);
  b->writer -= b->reader;
  b->reader = 0;
  return NP_OK;
}

int np_buf_ensure_writable(np_buf *b, size_t n) {
  NP_BUF_ENTER(b, r);
  return np_buf_ensure(b, r, n);
}

/* ---- Views ---------------------------------------------------------------------------- */

static int make_view(np_buf *r, np_buf_kind kind, size_t offset, size_t capacity, size_t reader,
                     size_t writer, np_buf **out) {
  np_buf *v = np_recycler_get();
  if (v == NULL) return NP_ERR_NO_MEMORY;
  v->root = r;
  v->root_gen = atomic_load_explicit(&r->gen, memory_order_relaxed);
  v->kind = kind;
  v->offset = offset;
  v->capacity = kind == NP_BUF_SLICE ? capacity : 0;
  v->max_capacity = v->capacity;
  v->reader = reader;
  v->writer = writer;
  v->alloc = NULL;
  v->mem = NULL;
  v->block_size = 0;
  v->leak = NULL;
  atomic_store_explicit(&v->derived, NULL, memory_order_relaxed);
  atomic_store_explicit(&v->refcnt, 0, memory_order_relaxed);
  gen_advance(v); /* odd: live */
  /* Onto the root's list, freed with it; views may be made on several
   * threads that each hold a reference. */
  np_buf *head = atomic_load_explicit(&r->derived, memory_order_relaxed);
  do v->next = head;
  while (!atomic_compare_exchange_weak_explicit(&r->derived, &head, v, memory_order_release,
                                                memory_order_relaxed));
  *out = v;
  return NP_OK;
}

/* A slice of b's [index, index + length), in root coordinates. */
static int slice_of(np_buf *b, np_buf *r, size_t index, size_t length, np_buf **out) {
  if (out == NULL) return NP_ERR_NULL_ARGUMENT;
  if (!np_range_ok(index, length, np_buf_cap(b, r))) return NP_ERR_INDEX;
  return make_view(r, NP_BUF_SLICE, b->offset + index, length, 0, length, out);
}

int np_buf_slice(np_buf *b, size_t index, size_t length, np_buf **out) {
  NP_BUF_ENTER(b, r);
  return slice_of(b, r, index, length, out);
}

int np_buf_slice_readable(np_buf *b, np_buf **out) {
  NP_BUF_ENTER(b, r);
  return slice_of(b, r, b->reader, b->writer - b->reader, out);
}

int np_buf_read_slice(np_buf *b, size_t length, np_buf **out) {
  NP_BUF_ENTER(b, r);
  if (out == NULL) return NP_ERR_NULL_ARGUMENT;
  if (length > b->writer - b->reader) return NP_ERR_INDEX;
  int rc = slice_of(b, r, b->reader, length, out);
  if (rc == NP_OK) b->reader += length;
  return rc;
}

int np_buf_duplicate(np_buf *b, np_buf **out) {
  NP_BUF_ENTER(b, r);
  if (out == NULL) return NP_ERR_NULL_ARGUMENT;
  /* A duplicate of a slice sees the slice's window: it is a slice itself. */
  np_buf_kind kind = b->kind == NP_BUF_SLICE ? NP_BUF_SLICE : NP_BUF_DUPLICATE;
  return make_view(r, kind, b->offset, b->capacity, b->reader, b->writer, out);
}

/* ---- I/O through iovecs ------------------------------------------------------------------ */

int np_buf_readable_iov(np_buf *b, struct iovec *iov, int max, int *count) {
  NP_BUF_ENTER(b, r);
  if (iov == NULL || count == NULL) return NP_ERR_NULL_ARGUMENT;
  if (max < 1) return NP_ERR_INDEX;
  size_t n = b->writer - b->reader;
  *count = n ? 1 : 0;
  if (n) iov[0] = (struct iovec){np_buf_addr(b, r, b->reader), n};
  return NP_OK;
}

int np_buf_writable_iov(np_buf *b, size_t min_writable, struct iovec *iov, int max, int *count) {
  NP_BUF_ENTER(b, r);
  if (iov == NULL || count == NULL) return NP_ERR_NULL_ARGUMENT;
  if (max < 1) return NP_ERR_INDEX;
  int rc = np_buf_ensure(b, r, min_writable);
  if (rc != NP_OK) return rc;
  size_t n = np_buf_cap(b, r) - b->writer;
  *count = n ? 1 : 0;
  if (n) iov[0] = (struct iovec){np_buf_addr(b, r, b->writer), n};
  return NP_OK;
}

int np_buf_advance_reader(np_buf *b, size_t n) {
  NP_BUF_ENTER(b, r);
  if (n > b->writer - b->reader) return NP_ERR_INDEX;
  b->reader += n;
  return NP_OK;
}

int np_buf_advance_writer(np_buf *b, size_t n) {
  NP_BUF_ENTER(b, r);
  if (n > np_buf_cap(b, r) - b->writer) return NP_ERR_INDEX;
  b->writer += n;
  return NP_OK;
}
