/*
 * alloc_fuzz: a program of operations on one allocator against a shadow model.
 *
 * Input: 9 bytes of configuration, then operations (an opcode byte and its
 * operands; see the switch in LLVMFuzzerTestOneInput):
 *
 *   byte 0  page size        4k, 8k, 16k
 *   byte 1  max order        9, 9, 6, 5, 4, 3, 1, 0 (small chunks are rarer:
 *                            destroy scans a registry root that grows as the
 *                            chunk shrinks, 8 MiB for 4 KiB chunks; slow here)
 *   byte 2  arenas           1..4
 *   byte 3  small cache      0, 1, 2, 3, 4, 7, 16, 256 entries
 *   byte 4  normal cache     the same
 *   byte 5  refill batch     0..64
 *   byte 6  bit 0 trim_low_water, bit 1 release_empty_init_chunks,
 *           bits 2-4 alignment 0, 0, 0, 0, 16, 64, 256, page,
 *           bit 5 run_placement netty (else best_fit),
 *           bit 6 cache_grow_bytes 0 (Netty's fixed capacities; else 2 KiB:
 *           small caches grow, and run out of room, within a short input),
 *           bit 7 transfer_cache_bytes 0 (else 4 KiB: rseq's transfer cache
 *           fills within a short input)
 *   byte 7  cache trim interval 1, 2, 3, 7, 64, 8192
 *   byte 8  max cached buffer capacity page, 32k, 64k, 1m, 0
 *
 * The model keeps every live block (start, usable size, the id its pattern
 * is made of) and the last freed pointers. Checked on every call: a live
 * block's free gives NP_OK and its pattern is intact; an interior pointer
 * gives NP_ERR_NOT_BLOCK_START, a pointer npool never handed out
 * NP_ERR_FOREIGN_POINTER, a freed one NP_ERR_DOUBLE_FREE (or, once its memory
 * was reused or returned, NOT_BLOCK_START or FOREIGN_POINTER: never NP_OK);
 * blocks never overlap and are aligned; np_usable_size, np_realloc (contents
 * kept, a stale pointer refused with EINVAL) and np_calloc (zeroed) do what
 * npool.h says; np_allocator_stats agrees with the model (active blocks and
 * bytes, refused frees). Any difference is abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npool.h"
#include "fuzz_support.h"

#define MAX_LIVE 512
#define MAX_FREED 64
#define MAX_LIVE_BYTES (96u << 20)

typedef struct block {
  uint8_t *p;
  size_t usable;
  uint64_t id;
} block;

typedef struct model {
  np_allocator *a;
  np_config cfg;
  size_t chunk;
  block live[MAX_LIVE];
  unsigned n_live;
  size_t live_bytes;
  uint8_t *freed[MAX_FREED];
  unsigned n_freed, freed_next;
  uint64_t next_id, invalid;
} model;

static uint8_t foreign_static[256];

/* Offsets a pattern covers: every byte up to 4 KiB; above, both ends and
 * every 512 bytes (a big block is not touched whole). */
FZ_NO_COVERAGE static size_t next_off(size_t off, size_t n) {
  if (n <= 4096 || off < 64 || off + 65 >= n) return off + 1;
  if (off + 512 < n - 64) return (off + 512) & ~(size_t)511;
  return n - 64;
}

FZ_NO_COVERAGE static void fill(uint8_t *p, size_t n, uint64_t id) {
  for (size_t off = 0; off < n; off = next_off(off, n)) p[off] = fz_pattern_byte(id, off);
}

/* The pattern of a block of n bytes, checked over its first m bytes. */
FZ_NO_COVERAGE static void check(const uint8_t *p, size_t n, size_t m, uint64_t id, const char *what) {
  for (size_t off = 0; off < n && off < m; off = next_off(off, n))
    FZ_CHECK(p[off] == fz_pattern_byte(id, off), "%s: block %p (%zu bytes, id %llu) overwritten at %zu",
             what, (void *)p, n, (unsigned long long)id, off);
}

/* The live block that holds q (start or inside), or -1. */
FZ_NO_COVERAGE static int find_live(const model *m, const uint8_t *q) {
  for (unsigned i = 0; i < m->n_live; i++)
    if (q >= m->live[i].p && q < m->live[i].p + m->live[i].usable) return (int)i;
  return -1;
}

static void expect_stats(model *m) {
  np_stats s;
  FZ_CHECK(np_allocator_stats(m->a, &s) == NP_OK, "np_allocator_stats failed");
  uint64_t active = s.small.active + s.normal.active + s.huge.active;
  uint64_t bytes = s.small.active_bytes + s.normal.active_bytes + s.huge.active_bytes;
  FZ_CHECK(active == m->n_live, "stats: %llu active blocks, model %u", (unsigned long long)active, m->n_live);
  FZ_CHECK(bytes == m->live_bytes, "stats: %llu active bytes, model %zu", (unsigned long long)bytes,
           m->live_bytes);
  FZ_CHECK(s.invalid_frees == m->invalid, "stats: %llu invalid frees, model %llu",
           (unsigned long long)s.invalid_frees, (unsigned long long)m->invalid);
  FZ_CHECK(s.arenas == m->cfg.arenas, "stats: %u arenas, configured %u", s.arenas, m->cfg.arenas);
  for (unsigned i = 0; i < s.arenas; i++) {
    np_stats as;
    FZ_CHECK(np_allocator_arena_stats(m->a, i, &as) == NP_OK, "arena stats %u", i);
  }
  np_stats as;
  FZ_CHECK(np_allocator_arena_stats(m->a, s.arenas, &as) == NP_ERR_ARENA_INDEX, "arena index past the end");
}

/* A new block p of at least req bytes (align: 0 or what it must be aligned to). */
FZ_NO_COVERAGE static void add_block(model *m, void *ptr, size_t req, size_t align, const char *what) {
  uint8_t *p = ptr;
  FZ_CHECK(p != NULL, "%s(%zu) gave NULL, errno %d", what, req, errno);
  size_t usable = np_usable_size(m->a, p);
  FZ_CHECK(usable >= req && usable > 0, "%s(%zu): usable size %zu", what, req, usable);
  if (align) FZ_CHECK((uintptr_t)p % align == 0, "%s(%zu): %p not aligned to %zu", what, req, ptr, align);
  if (m->cfg.alignment)
    FZ_CHECK((uintptr_t)p % m->cfg.alignment == 0, "%s: %p not aligned to the configured %zu", what, ptr,
             m->cfg.alignment);
  for (unsigned i = 0; i < m->n_live; i++)
    FZ_CHECK(p + usable <= m->live[i].p || m->live[i].p + m->live[i].usable <= p,
             "%s: [%p, +%zu) overlaps live block [%p, +%zu)", what, ptr, usable, (void *)m->live[i].p,
             m->live[i].usable);
  /* A reused pointer is no longer a stale one. */
  for (unsigned i = 0; i < m->n_freed; i++)
    if (m->freed[i] >= p && m->freed[i] < p + usable) m->freed[i] = NULL;
  block b = {p, usable, ++m->next_id};
  fill(p, usable, b.id);
  m->live[m->n_live++] = b;
  m->live_bytes += usable;
}

static void remember_freed(model *m, uint8_t *p) {
  m->freed[m->freed_next] = p;
  m->freed_next = (m->freed_next + 1) % MAX_FREED;
  if (m->n_freed < MAX_FREED) m->n_freed++;
}

static void free_live(model *m, unsigned i) {
  block b = m->live[i];
  check(b.p, b.usable, b.usable, b.id, "free");
  FZ_CHECK(np_usable_size(m->a, b.p) == b.usable, "usable size of a live block changed");
  int rc = np_free(m->a, b.p);
  FZ_CHECK(rc == NP_OK, "np_free(live %p) = %s", (void *)b.p, np_strerror(rc));
  m->live[i] = m->live[--m->n_live];
  m->live_bytes -= b.usable;
  FZ_CHECK(np_usable_size(m->a, b.p) == 0, "usable size of a freed block not 0");
  remember_freed(m, b.p);
}

static size_t pick_size(model *m, fz_in *in) {
  uint8_t k = fz_u8(in);
  uint16_t v = fz_u16(in);
  size_t page = m->cfg.page_size;
  switch (k % 5) {
    case 0: return v % 513;                                  /* tiny, 0 included */
    case 1: return v % (4 * page + 1);                       /* small classes */
    case 2: return v * (m->chunk / 65536 + 1) % (m->chunk + 1); /* up to a chunk */
    case 3: return m->chunk + 1 + (size_t)v * 64;            /* huge */
    default: {                                               /* near a class edge */
      size_t base = (size_t)1 << (4 + v % 16);
      return base + (size_t)(int8_t)(v >> 8) % 9;
    }
  }
}

static int room(const model *m, size_t size) {
  return m->n_live < MAX_LIVE && m->live_bytes + size < MAX_LIVE_BYTES;
}

static const unsigned cache_sizes[] = {0, 1, 2, 3, 4, 7, 16, 256};
static const unsigned trim_intervals[] = {1, 2, 3, 7, 64, 8192};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static model m;
  fz_in in = {data, size};
  memset(&m, 0, sizeof m);
  np_config c = np_config_default();
  c.page_size = (size_t)4096 << (fz_u8(&in) % 3);
  static const unsigned orders[] = {9, 9, 6, 5, 4, 3, 1, 0};
  c.max_order = orders[fz_u8(&in) % 8];
  c.arenas = 1 + fz_u8(&in) % 4;
  c.small_cache_size = cache_sizes[fz_u8(&in) % 8];
  c.normal_cache_size = cache_sizes[fz_u8(&in) % 8];
  c.cache_refill_batch = fz_u8(&in) % 65;
  uint8_t flags = fz_u8(&in);
  c.trim_low_water = flags & 1;
  c.release_empty_init_chunks = (flags >> 1) & 1;
  c.run_placement = (flags >> 5) & 1 ? NP_PLACEMENT_NETTY : NP_PLACEMENT_BEST_FIT;
  c.cache_grow_bytes = (flags >> 6) & 1 ? 0 : 2048;
  c.transfer_cache_bytes = (flags >> 7) & 1 ? 0 : 4096;
  static const size_t aligns[] = {0, 0, 0, 0, 16, 64, 256, 0};
  c.alignment = (flags >> 2) % 8 == 7 ? c.page_size : aligns[(flags >> 2) % 8];
  c.cache_trim_interval = trim_intervals[fz_u8(&in) % 6];
  const size_t caps[] = {c.page_size, 32u << 10, 64u << 10, 1u << 20, 0};
  c.max_cached_buffer_capacity = caps[fz_u8(&in) % 5];
  c.leak_detection = NP_LEAK_DISABLED;
  m.cfg = c;
  m.chunk = c.page_size << c.max_order;
  int rc = np_allocator_create(&c, &m.a);
  FZ_CHECK(rc == NP_OK, "np_allocator_create: %s", np_strerror(rc));
  uint8_t *foreign = malloc(64);

  for (unsigned ops = 0; !fz_done(&in) && ops < 4000; ops++) {
    uint8_t op = fz_u8(&in);
    switch (op % 16) {
      case 0:
      case 1:
      case 2: { /* np_alloc */
        size_t n = pick_size(&m, &in);
        if (!room(&m, n)) break;
        add_block(&m, np_alloc(m.a, n), n, 0, "np_alloc");
        break;
      }
      case 3: { /* np_alloc_aligned: 1 to 64 KiB alignments */
        size_t align = (size_t)1 << (fz_u8(&in) % 17);
        size_t n = pick_size(&m, &in);
        if (!room(&m, n + align)) break;
        add_block(&m, np_alloc_aligned(m.a, align, n), n, align, "np_alloc_aligned");
        break;
      }
      case 4: { /* np_calloc */
        size_t count = fz_u8(&in) % 17, each = pick_size(&m, &in) / 8;
        size_t n = count * each;
        if (!room(&m, n)) break;
        uint8_t *p = np_calloc(m.a, count, each);
        FZ_CHECK(p != NULL, "np_calloc(%zu, %zu) gave NULL", count, each);
        for (size_t off = 0; off < n; off = next_off(off, n))
          FZ_CHECK(p[off] == 0, "np_calloc(%zu, %zu): byte %zu is %u", count, each, off, p[off]);
        add_block(&m, p, n, 0, "np_calloc");
        break;
      }
      case 5: { /* np_realloc of a live block (or NULL when none) */
        size_t n = pick_size(&m, &in);
        uint8_t sel = fz_u8(&in);
        if (!room(&m, n)) break;
        if (m.n_live == 0) {
          add_block(&m, np_realloc(m.a, NULL, n), n, 0, "np_realloc(NULL)");
          break;
        }
        unsigned i = sel % m.n_live;
        block b = m.live[i];
        uint8_t *p = np_realloc(m.a, b.p, n);
        FZ_CHECK(p != NULL, "np_realloc(%p, %zu) gave NULL, errno %d", (void *)b.p, n, errno);
        check(p, b.usable, n, b.id, "np_realloc");
        m.live[i] = m.live[--m.n_live];
        m.live_bytes -= b.usable;
        if (p != b.p) {
          FZ_CHECK(np_usable_size(m.a, b.p) == 0, "np_realloc moved the block but the old one is live");
          remember_freed(&m, b.p);
        }
        add_block(&m, p, n, 0, "np_realloc");
        break;
      }
      case 6:
      case 7:
      case 8: /* free a live block */
        if (m.n_live) free_live(&m, fz_u16(&in) % m.n_live);
        break;
      case 9: { /* free (or realloc) a freed pointer */
        uint8_t sel = fz_u8(&in);
        if (m.n_freed == 0) break;
        uint8_t *q = m.freed[sel % m.n_freed];
        if (q == NULL) break;
        int at = find_live(&m, q);
        FZ_CHECK(at < 0 || m.live[at].p != q, "a freed pointer is live: add_block should have dropped it");
        if (sel & 0x80) {
          errno = 0;
          void *r = np_realloc(m.a, q, 16);
          FZ_CHECK(r == NULL && errno == EINVAL, "np_realloc(freed %p) = %p, errno %d", (void *)q, r, errno);
          break;
        }
        rc = np_free(m.a, q);
        m.invalid++;
        if (at >= 0)
          FZ_CHECK(rc == NP_ERR_NOT_BLOCK_START, "np_free(freed %p, now inside a live block) = %s", (void *)q,
                   np_strerror(rc));
        else
          FZ_CHECK(rc == NP_ERR_DOUBLE_FREE || rc == NP_ERR_NOT_BLOCK_START || rc == NP_ERR_FOREIGN_POINTER,
                   "np_free(freed %p) = %s", (void *)q, np_strerror(rc));
        FZ_CHECK(np_usable_size(m.a, q) == 0, "usable size of a freed pointer not 0");
        break;
      }
      case 10: { /* free an interior pointer of a live block */
        uint16_t sel = fz_u16(&in), off = fz_u16(&in);
        if (m.n_live == 0) break;
        block b = m.live[sel % m.n_live];
        if (b.usable < 2) break;
        uint8_t *q = b.p + 1 + off % (b.usable - 1);
        FZ_CHECK(np_usable_size(m.a, q) == 0, "np_usable_size(interior %p) not 0", (void *)q);
        rc = np_free(m.a, q);
        m.invalid++;
        FZ_CHECK(rc == NP_ERR_NOT_BLOCK_START, "np_free(interior %p of %p) = %s", (void *)q, (void *)b.p,
                 np_strerror(rc));
        break;
      }
      case 11: { /* free a pointer npool never handed out */
        uint8_t sel = fz_u8(&in);
        uint8_t *q = sel % 3 == 0 ? foreign_static + sel % 64 : sel % 3 == 1 ? foreign + sel % 64 : (uint8_t *)&sel;
        rc = np_free(m.a, q);
        m.invalid++;
        FZ_CHECK(rc == NP_ERR_FOREIGN_POINTER, "np_free(foreign %p) = %s", (void *)q, np_strerror(rc));
        FZ_CHECK(np_realloc(m.a, q, 8) == NULL && errno == EINVAL, "np_realloc(foreign) accepted");
        break;
      }
      case 12: /* flush */
        np_thread_cache_flush(m.a);
        break;
      case 13: /* stats */
        expect_stats(&m);
        break;
      case 14: /* free everything (chunks empty out, may be released) */
        while (m.n_live) free_live(&m, m.n_live - 1);
        if (op & 0x80) np_thread_cache_flush(m.a);
        break;
      case 15: /* NULL: a no-op */
        FZ_CHECK(np_free(m.a, NULL) == NP_OK, "np_free(NULL)");
        FZ_CHECK(np_usable_size(m.a, NULL) == 0, "np_usable_size(NULL)");
        break;
    }
  }
  expect_stats(&m);
  np_thread_cache_flush(m.a);
  expect_stats(&m);
  while (m.n_live) free_live(&m, fz_u8(&in) % m.n_live);
  expect_stats(&m);
  np_allocator_destroy(m.a);
  free(foreign);
  return 0;
}
