/*
 * Pooled buffers' data (npool_buf.h is the API): the buffer object, the
 * liveness check every public function starts with, and the recycler that
 * hands out and takes back objects.
 *
 *   root buffer R (kind ROOT)                     its block of pooled memory
 *   gen odd, refcnt n, mem ──────────────────────> [..........................]
 *   derived ──> slice S ──> duplicate D ──> NULL       ^ S: offset, capacity
 *               root R, root_gen               (views read R->mem + offset, so
 *               own reader / writer             a growth that moves R's memory
 *                                               moves every view with it)
 *
 * Liveness: `gen` is odd while an object is handed out and even while it sits
 * in a recycler; it is bumped on both transitions. A view records its root's
 * gen when it is made. A call on b proceeds only if b's gen is odd, b's root
 * still has the gen b saw (a view of an earlier incarnation is refused) and
 * the root's count is not 0. Objects are never freed, so reading gen and
 * refcnt through a stale pointer is always a read of an np_buf.
 *
 * C only (C11 atomics in the struct); the tests use the public API.
 */
#ifndef NP_BUFFER_INTERNAL_H
#define NP_BUFFER_INTERNAL_H

#include <stdatomic.h>

#include "npool.h"
#include "npool_buf.h"

/* Pooled buffers are a library on npool's public API (npool.h): nothing of
 * the allocator's internals is visible here. Built with -fvisibility=hidden,
 * so what is declared below stays inside libnpool. */
#define NP_BUF_TLS __thread __attribute__((tls_model("initial-exec")))

typedef enum np_buf_kind {
  NP_BUF_ROOT = 1,      /* owns a block of pooled memory and the count */
  NP_BUF_SLICE = 2,     /* fixed window [offset, offset + capacity) of its root */
  NP_BUF_DUPLICATE = 3  /* the root's whole memory; capacity is the root's */
} np_buf_kind;

struct np_buf {
  /* Read by the liveness check in every state (atomics: a stale pointer may be
   * checked while the object is reused elsewhere). */
  _Atomic(uint32_t) gen;    /* odd: handed out; even: in a recycler */
  _Atomic(uint32_t) refcnt; /* roots: the reference count; views: unused */
  np_buf *root;               /* itself for a root */
  uint32_t root_gen;          /* views: the root's gen when made */
  uint32_t kind;              /* np_buf_kind */
  /* The view: indices and window. */
  size_t offset;              /* of index 0 in the root's memory (0 for roots and duplicates) */
  size_t capacity;            /* roots and slices; duplicates use the root's */
  size_t max_capacity;        /* roots; slices: = capacity; duplicates use the root's */
  size_t reader, writer;
  /* Links: the root's derived list while handed out, a recycler list while free. */
  np_buf *next;
  void *leak;                 /* the leak detector's record; NULL: not tracked */
  union {
    struct {                  /* roots, while handed out */
      np_allocator *alloc;
      char *mem;
      size_t block_size;      /* np_good_size: room for growth in place */
      _Atomic(np_buf *) derived; /* views made of it (pushed lock-free), recycled with it */
    };
    struct {                  /* the first object of a batch in the recycler's depot */
      np_buf *batch_next;
      size_t batch_len;
    };
  };
};

/* The leak detector's hooks see the struct above. */
#include "leak_hooks.h"

/* Capacity and max capacity as the view b sees them (r: its root). */
static inline size_t np_buf_cap(const np_buf *b, const np_buf *r) {
  return b->kind == NP_BUF_DUPLICATE ? r->capacity : b->capacity;
}
static inline size_t np_buf_max_cap(const np_buf *b, const np_buf *r) {
  return b->kind == NP_BUF_DUPLICATE ? r->max_capacity : b->max_capacity;
}
/* The address of b's byte at index. */
static inline char *np_buf_addr(const np_buf *b, const np_buf *r, size_t index) {
  return r->mem + b->offset + index;
}
/* [index, index + len) within [0, limit), without overflow. */
static inline int np_range_ok(size_t index, size_t len, size_t limit) {
  return len <= limit && index <= limit - len;
}

/* NP_OK with *root set when b is live (see the top of this file), else
 * NP_ERR_NULL_ARGUMENT or NP_ERR_REFCNT. Touches nothing but gen and refcnt
 * until it knows b is handed out. */
static inline int np_buf_live(const np_buf *b, np_buf **root) {
  if (b == NULL) return NP_ERR_NULL_ARGUMENT;
  if (!(atomic_load_explicit(&b->gen, memory_order_acquire) & 1)) return NP_ERR_REFCNT;
  np_buf *r = b->root;
  if (r != b && atomic_load_explicit(&r->gen, memory_order_acquire) != b->root_gen) return NP_ERR_REFCNT;
  if (atomic_load_explicit(&r->refcnt, memory_order_acquire) == 0) return NP_ERR_REFCNT;
  *root = r;
  return NP_OK;
}

/* The start of every public function on a buffer: declares r, the root of b,
 * and returns the error when b is not live; then the leak detector's touch. */
#define NP_BUF_ENTER(b, r)                      \
  np_buf *r;                                    \
  do {                                          \
    int enter_rc_ = np_buf_live((b), &r);       \
    if (enter_rc_ != NP_OK) return enter_rc_;   \
    np_leak_on_touch(r, __func__);              \
  } while (0)

/* buffer.c: makes at least n bytes writable at b's writer index, growing
 * the root (in place, or by moving its memory) within the max capacity:
 * NP_OK, NP_ERR_MAX_CAPACITY or NP_ERR_NO_MEMORY (nothing changed). */
int np_buf_ensure(np_buf *b, np_buf *r, size_t n);

/* recycler.c: buffer objects (type-stable: never freed).
 * np_recycler_get: an object with an even gen (free), the calling thread's
 * most recently recycled first; NULL with errno ENOMEM.
 * np_recycler_put: takes back an object whose gen the caller made even. */
np_buf *np_recycler_get(void);
void np_recycler_put(np_buf *b);
/* The private allocator the objects come from (NULL if it could not be made). */
np_allocator *np_recycler_allocator(void);

/* private_allocator.c: an allocator of the library's own (buffer objects,
 * leak records) in *slot, made on first use: one arena, no thread caches
 * (its blocks are freed on any thread, or never), no leak tracking. A
 * creation that fails (no memory) leaves *slot NULL, so a later call tries
 * again; two threads racing keep one and destroy the other. NULL with errno
 * ENOMEM when it cannot be made now. */
np_allocator *np_private_allocator(np_allocator **slot);

#endif
