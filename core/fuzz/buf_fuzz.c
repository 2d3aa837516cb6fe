/*
 * buf_fuzz: operations on pooled buffers (npool_buf.h) against a byte-array
 * model.
 *
 * Input: byte 0 picks the allocator's page size and caches, then operations:
 * an opcode byte, a handle byte (which buffer or view) and operands. Up to 4
 * buffers ("families": a root and its views) live at once, 8 handles in all.
 * The model of a family is its memory (bytes, and which of them are known:
 * np_buf_alloc and growth leave new bytes undefined), its count, its
 * capacity and max capacity; of a handle, its kind (root, duplicate, slice),
 * window and its own reader and writer index.
 *
 * Checked after every call: the return code is what npool_buf.h says (a
 * failing call changes nothing), every value read equals the model's bytes,
 * the indices and capacities agree, growth keeps the bytes below the old
 * capacity and never passes the max, views see the root's memory after it
 * moved, and a released family's handles are refused (NP_ERR_REFCNT) until
 * their objects are handed out again. Any difference is abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npool.h"
#include "npool_buf.h"
#include "fuzz_support.h"

#define MAX_FAM 4
#define MAX_HANDLES 8
#define MAX_CAP 65536

enum { ROOT, DUP, SLICE };

typedef struct family {
  int live;
  uint32_t count;
  size_t cap, max;
  uint8_t mem[MAX_CAP];
  uint8_t known[MAX_CAP];
} family;

typedef struct handle {
  np_buf *b;
  int fam, kind;
  size_t off, len; /* slices: the window in root coordinates */
  size_t reader, writer;
} handle;

static family fams[MAX_FAM];
static handle hs[MAX_HANDLES];
static unsigned n_h;
/* Handles of released families: refused until any buffer object is made. */
static np_buf *dead[MAX_HANDLES * 4];
static unsigned n_dead;
static np_allocator *A;

static size_t cap_of(const handle *h) { return h->kind == SLICE ? h->len : fams[h->fam].cap; }
static size_t max_of(const handle *h) { return h->kind == SLICE ? h->len : fams[h->fam].max; }
static size_t base_of(const handle *h) { return h->kind == SLICE ? h->off : 0; }

static void expect_rc(int rc, int want, const char *what) {
  FZ_CHECK(rc == want, "%s: %s, model %s", what, np_strerror(rc), np_strerror(want));
}

static void expect_state(const handle *h) {
  size_t v;
  expect_rc(np_buf_reader_index(h->b, &v), NP_OK, "reader_index");
  FZ_CHECK(v == h->reader, "reader index %zu, model %zu", v, h->reader);
  expect_rc(np_buf_writer_index(h->b, &v), NP_OK, "writer_index");
  FZ_CHECK(v == h->writer, "writer index %zu, model %zu", v, h->writer);
  expect_rc(np_buf_capacity(h->b, &v), NP_OK, "capacity");
  FZ_CHECK(v == cap_of(h), "capacity %zu, model %zu (kind %d)", v, cap_of(h), h->kind);
  expect_rc(np_buf_max_capacity(h->b, &v), NP_OK, "max_capacity");
  FZ_CHECK(v == max_of(h), "max capacity %zu, model %zu", v, max_of(h));
  expect_rc(np_buf_readable_bytes(h->b, &v), NP_OK, "readable_bytes");
  FZ_CHECK(v == h->writer - h->reader, "readable bytes");
  expect_rc(np_buf_writable_bytes(h->b, &v), NP_OK, "writable_bytes");
  FZ_CHECK(v == cap_of(h) - h->writer, "writable bytes");
  uint32_t c;
  expect_rc(np_buf_refcnt(h->b, &c), NP_OK, "refcnt");
  FZ_CHECK(c == fams[h->fam].count, "count %u, model %u", c, fams[h->fam].count);
}

/* Compares n bytes of the buffer at handle index i with the model. */
FZ_NO_COVERAGE static void expect_bytes(const handle *h, size_t i, const uint8_t *got, size_t n, const char *what) {
  const family *f = &fams[h->fam];
  for (size_t k = 0; k < n; k++) {
    size_t at = base_of(h) + i + k;
    if (f->known[at]) FZ_CHECK(got[k] == f->mem[at], "%s: byte %zu (root %zu) is %u, model %u", what, i + k, at,
                               got[k], f->mem[at]);
  }
}

FZ_NO_COVERAGE static void model_put(const handle *h, size_t i, const uint8_t *src, size_t n) {
  family *f = &fams[h->fam];
  memmove(f->mem + base_of(h) + i, src, n);
  memset(f->known + base_of(h) + i, 1, n);
}

/* What a write of n bytes at the writer index must do: 0 if it fits or may
 * grow, else the error. Then, after npool did it, the model's growth. */
static int write_rc(const handle *h, size_t n) {
  if (h->writer + n > max_of(h)) return NP_ERR_MAX_CAPACITY;
  return NP_OK;
}

static void after_growth(handle *h, size_t need, size_t old_cap) {
  if (h->kind == SLICE) return;
  family *f = &fams[h->fam];
  size_t v;
  np_buf_capacity(h->b, &v);
  if (need <= old_cap) {
    FZ_CHECK(v == old_cap, "capacity changed from %zu to %zu without need", old_cap, v);
    return;
  }
  FZ_CHECK(v >= need && v <= f->max, "grew to %zu for %zu (max %zu)", v, need, f->max);
  memset(f->known + old_cap, 0, v - old_cap);
  f->cap = v;
}

static void new_handle(np_buf *b, int fam, int kind, size_t off, size_t len, size_t r, size_t w) {
  n_dead = 0; /* objects may be recycled from here on */
  hs[n_h++] = (handle){b, fam, kind, off, len, r, w};
}

/* The family's count reached 0: its handles must all be refused now. */
static void family_died(int fam) {
  fams[fam].live = 0;
  for (unsigned i = 0; i < n_h;) {
    if (hs[i].fam != fam) {
      i++;
      continue;
    }
    np_buf *b = hs[i].b;
    uint32_t c = 7;
    expect_rc(np_buf_refcnt(b, &c), NP_OK, "refcnt after release");
    FZ_CHECK(c == 0, "count %u after release", c);
    uint8_t v;
    size_t s;
    expect_rc(np_buf_write_u8(b, 1), NP_ERR_REFCNT, "write after release");
    expect_rc(np_buf_get_u8(b, 0, &v), NP_ERR_REFCNT, "get after release");
    expect_rc(np_buf_capacity(b, &s), NP_ERR_REFCNT, "capacity after release");
    expect_rc(np_buf_release(b), NP_ERR_REFCNT, "release after release");
    expect_rc(np_buf_retain(b), NP_ERR_REFCNT, "retain after release");
    if (n_dead < sizeof dead / sizeof dead[0]) dead[n_dead++] = b;
    hs[i] = hs[--n_h];
  }
}

static size_t pick_index(fz_in *in, size_t cap) {
  uint8_t k = fz_u8(in);
  uint16_t v = fz_u16(in);
  switch (k % 8) {
    case 0: return cap;
    case 1: return cap ? cap - 1 : 0;
    case 2: return (size_t)PTRDIFF_MAX + 1 + v; /* a negative int converted */
    case 3: return SIZE_MAX - v % 16;
    default: return cap ? v % (cap + 9) : v % 9;
  }
}

static void int_op(handle *h, fz_in *in, unsigned op) {
  static const unsigned widths[] = {1, 2, 2, 4, 4, 8, 8};
  unsigned kind = op % 7, w = widths[kind], le = kind && kind % 2 == 0;
  unsigned mode = (op / 7) % 4; /* 0 get, 1 set, 2 read, 3 write */
  uint64_t v = fz_u32(in) | (uint64_t)fz_u32(in) << 32;
  uint8_t bytes[8];
  for (unsigned k = 0; k < w; k++) bytes[k] = (uint8_t)(le ? v >> (8 * k) : v >> (8 * (w - 1 - k)));
  if (w < 8) v &= ((uint64_t)1 << (8 * w)) - 1;
  size_t cap = cap_of(h);
  int rc, want;
  uint64_t got = 0;
  size_t idx = mode < 2 ? pick_index(in, cap) : 0;
  int in_range = mode < 2 ? idx <= cap && w <= cap - idx : 0;
#define GETSET(sfx, T)                                                                       \
  do {                                                                                       \
    T x = 0;                                                                                 \
    if (mode == 0) rc = np_buf_get_##sfx(h->b, idx, &x);                                     \
    else if (mode == 1) rc = np_buf_set_##sfx(h->b, idx, (T)v);                              \
    else if (mode == 2) rc = np_buf_read_##sfx(h->b, &x);                                    \
    else rc = np_buf_write_##sfx(h->b, (T)v);                                                \
    got = x;                                                                                 \
  } while (0)
  switch (kind) {
    case 0: GETSET(u8, uint8_t); break;
    case 1: GETSET(u16, uint16_t); break;
    case 2: GETSET(u16_le, uint16_t); break;
    case 3: GETSET(u32, uint32_t); break;
    case 4: GETSET(u32_le, uint32_t); break;
    case 5: GETSET(u64, uint64_t); break;
    default: GETSET(u64_le, uint64_t); break;
  }
#undef GETSET
  uint8_t gb[8];
  for (unsigned k = 0; k < w; k++) gb[k] = (uint8_t)(le ? got >> (8 * k) : got >> (8 * (w - 1 - k)));
  switch (mode) {
    case 0:
      expect_rc(rc, in_range ? NP_OK : NP_ERR_INDEX, "get");
      if (rc == NP_OK) expect_bytes(h, idx, gb, w, "get");
      break;
    case 1:
      expect_rc(rc, in_range ? NP_OK : NP_ERR_INDEX, "set");
      if (rc == NP_OK) model_put(h, idx, bytes, w);
      break;
    case 2:
      want = h->writer - h->reader >= w ? NP_OK : NP_ERR_INDEX;
      expect_rc(rc, want, "read");
      if (rc == NP_OK) {
        expect_bytes(h, h->reader, gb, w, "read");
        h->reader += w;
      }
      break;
    default: {
      want = write_rc(h, w);
      expect_rc(rc, want, "write");
      if (rc == NP_OK) {
        after_growth(h, h->writer + w, cap);
        model_put(h, h->writer, bytes, w);
        h->writer += w;
      }
    }
  }
}

static void bytes_op(handle *h, fz_in *in, unsigned op) {
  uint8_t buf[2048];
  size_t len = fz_u16(in) % sizeof buf;
  for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)(k * 31 + op);
  size_t cap = cap_of(h);
  int rc;
  switch (op % 5) {
    case 0: { /* get_bytes */
      size_t idx = pick_index(in, cap);
      rc = np_buf_get_bytes(h->b, idx, buf, len);
      expect_rc(rc, idx <= cap && len <= cap - idx ? NP_OK : NP_ERR_INDEX, "get_bytes");
      if (rc == NP_OK) expect_bytes(h, idx, buf, len, "get_bytes");
      break;
    }
    case 1: { /* set_bytes */
      size_t idx = pick_index(in, cap);
      rc = np_buf_set_bytes(h->b, idx, buf, len);
      expect_rc(rc, idx <= cap && len <= cap - idx ? NP_OK : NP_ERR_INDEX, "set_bytes");
      if (rc == NP_OK) model_put(h, idx, buf, len);
      break;
    }
    case 2: /* read_bytes */
      rc = np_buf_read_bytes(h->b, buf, len);
      expect_rc(rc, h->writer - h->reader >= len ? NP_OK : NP_ERR_INDEX, "read_bytes");
      if (rc == NP_OK) {
        expect_bytes(h, h->reader, buf, len, "read_bytes");
        h->reader += len;
      }
      break;
    case 3: /* write_bytes */
      rc = np_buf_write_bytes(h->b, buf, len);
      expect_rc(rc, write_rc(h, len), "write_bytes");
      if (rc == NP_OK) {
        after_growth(h, h->writer + len, cap);
        model_put(h, h->writer, buf, len);
        h->writer += len;
      }
      break;
    default: { /* set_bytes from the buffer itself (overlapping) */
      struct iovec iov;
      int count;
      expect_rc(np_buf_readable_iov(h->b, &iov, 1, &count), NP_OK, "readable_iov");
      FZ_CHECK(count == (h->writer > h->reader), "readable_iov count %d", count);
      if (count == 0) break;
      FZ_CHECK(iov.iov_len == h->writer - h->reader, "readable_iov length");
      expect_bytes(h, h->reader, iov.iov_base, iov.iov_len, "readable_iov");
      size_t idx = len % (cap - iov.iov_len + 1);
      uint8_t copy[MAX_CAP];
      memcpy(copy, iov.iov_base, iov.iov_len);
      expect_rc(np_buf_set_bytes(h->b, idx, iov.iov_base, iov.iov_len), NP_OK, "set_bytes (self)");
      model_put(h, idx, copy, iov.iov_len);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  memset(fams, 0, sizeof fams);
  n_h = n_dead = 0;
  np_config c = np_config_default();
  uint8_t setup = fz_u8(&in);
  c.page_size = (size_t)4096 << (setup % 3);
  c.small_cache_size = (setup & 8) ? 0 : 16;
  c.normal_cache_size = (setup & 16) ? 0 : 4;
  c.leak_detection = (setup & 32) ? NP_LEAK_PARANOID : NP_LEAK_DISABLED;
  FZ_CHECK(np_allocator_create(&c, &A) == NP_OK, "create");

  for (unsigned ops = 0; !fz_done(&in) && ops < 2000; ops++) {
    uint8_t op = fz_u8(&in), sel = fz_u8(&in);
    handle *h = n_h ? &hs[sel % n_h] : NULL;
    int rc;
    if (op < 16 || h == NULL) { /* np_buf_alloc */
      int fam = -1;
      for (int i = 0; i < MAX_FAM; i++)
        if (!fams[i].live) fam = i;
      size_t init = fz_u16(&in) % (MAX_CAP + 2), max = fz_u16(&in) % (MAX_CAP + 1);
      if (op & 1) max = MAX_CAP;
      if (fam < 0 || n_h == MAX_HANDLES) continue;
      errno = 0;
      np_buf *b = np_buf_alloc(A, init, max);
      if (init > max) {
        FZ_CHECK(b == NULL && errno == EINVAL, "np_buf_alloc(%zu, %zu) accepted", init, max);
        continue;
      }
      FZ_CHECK(b != NULL, "np_buf_alloc(%zu, %zu): errno %d", init, max, errno);
      family *f = &fams[fam];
      f->live = 1;
      f->count = 1;
      f->cap = init;
      f->max = max;
      memset(f->known, 0, sizeof f->known);
      new_handle(b, fam, ROOT, 0, 0, 0, 0);
      expect_state(&hs[n_h - 1]);
      continue;
    }
    family *f = &fams[h->fam];
    if (op < 16 + 112) {
      int_op(h, &in, op - 16);
    } else if (op < 128 + 40) {
      bytes_op(h, &in, op);
    } else {
      switch (op % 20) {
        case 0: { /* set_reader_index */
          size_t i = pick_index(&in, h->writer);
          expect_rc(np_buf_set_reader_index(h->b, i), i <= h->writer ? NP_OK : NP_ERR_INDEX, "set_reader_index");
          if (i <= h->writer) h->reader = i;
          break;
        }
        case 1: { /* set_writer_index */
          size_t i = pick_index(&in, cap_of(h));
          int ok = h->reader <= i && i <= cap_of(h);
          expect_rc(np_buf_set_writer_index(h->b, i), ok ? NP_OK : NP_ERR_INDEX, "set_writer_index");
          if (ok) h->writer = i;
          break;
        }
        case 2: { /* set_index */
          size_t r = pick_index(&in, cap_of(h)), w = pick_index(&in, cap_of(h));
          int ok = r <= w && w <= cap_of(h);
          expect_rc(np_buf_set_index(h->b, r, w), ok ? NP_OK : NP_ERR_INDEX, "set_index");
          if (ok) h->reader = r, h->writer = w;
          break;
        }
        case 3:
          expect_rc(np_buf_clear(h->b), NP_OK, "clear");
          h->reader = h->writer = 0;
          break;
        case 4: { /* discard_read_bytes: the readable bytes move to 0 */
          expect_rc(np_buf_discard_read_bytes(h->b), NP_OK, "discard_read_bytes");
          size_t base = base_of(h), n = h->writer - h->reader;
          memmove(f->mem + base, f->mem + base + h->reader, n);
          memmove(f->known + base, f->known + base + h->reader, n);
          h->writer = n;
          h->reader = 0;
          break;
        }
        case 5: { /* ensure_writable */
          size_t n = fz_u8(&in) & 0x80 ? pick_index(&in, MAX_CAP) : fz_u16(&in) % 5000;
          size_t cap = cap_of(h);
          rc = np_buf_ensure_writable(h->b, n);
          if (n > (size_t)PTRDIFF_MAX)
            FZ_CHECK(rc == NP_ERR_INDEX || rc == NP_ERR_MAX_CAPACITY, "ensure_writable(%zu): %s", n, np_strerror(rc));
          else
            expect_rc(rc, write_rc(h, n), "ensure_writable");
          if (rc == NP_OK) after_growth(h, h->writer + n, cap);
          break;
        }
        case 6: { /* writable_iov + fill + advance_writer */
          size_t n = fz_u16(&in) % 3000, cap = cap_of(h);
          struct iovec iov;
          int count = -1;
          rc = np_buf_writable_iov(h->b, n, &iov, 1, &count);
          expect_rc(rc, write_rc(h, n), "writable_iov");
          if (rc != NP_OK) break;
          after_growth(h, h->writer + n, cap);
          size_t room = cap_of(h) - h->writer;
          FZ_CHECK(count == (room > 0) && (!count || iov.iov_len == room), "writable_iov: %d, %zu for %zu", count,
                   count ? iov.iov_len : 0, room);
          size_t fillb = room < n ? room : n;
          for (size_t k = 0; k < fillb; k++) ((uint8_t *)iov.iov_base)[k] = (uint8_t)(k ^ op);
          uint8_t tmp[3000];
          for (size_t k = 0; k < fillb; k++) tmp[k] = (uint8_t)(k ^ op);
          model_put(h, h->writer, tmp, fillb);
          size_t adv = fz_u16(&in) % (room + 3);
          rc = np_buf_advance_writer(h->b, adv);
          expect_rc(rc, adv <= room ? NP_OK : NP_ERR_INDEX, "advance_writer");
          if (rc == NP_OK) h->writer += adv;
          break;
        }
        case 7: { /* advance_reader */
          size_t n = fz_u16(&in) % (h->writer - h->reader + 3);
          rc = np_buf_advance_reader(h->b, n);
          expect_rc(rc, n <= h->writer - h->reader ? NP_OK : NP_ERR_INDEX, "advance_reader");
          if (rc == NP_OK) h->reader += n;
          break;
        }
        case 8:
        case 9:
        case 10: { /* slice, slice_readable, read_slice */
          if (n_h == MAX_HANDLES) break;
          np_buf *v = NULL;
          size_t idx, len, cap = cap_of(h);
          int kind = op % 20;
          if (kind == 8) {
            idx = pick_index(&in, cap);
            len = fz_u16(&in) % (cap + 2);
            rc = np_buf_slice(h->b, idx, len, &v);
            expect_rc(rc, idx <= cap && len <= cap - idx ? NP_OK : NP_ERR_INDEX, "slice");
          } else if (kind == 9) {
            idx = h->reader;
            len = h->writer - h->reader;
            expect_rc(rc = np_buf_slice_readable(h->b, &v), NP_OK, "slice_readable");
          } else {
            idx = h->reader;
            len = fz_u16(&in) % (h->writer - h->reader + 2);
            rc = np_buf_read_slice(h->b, len, &v);
            expect_rc(rc, len <= h->writer - h->reader ? NP_OK : NP_ERR_INDEX, "read_slice");
            if (rc == NP_OK) h->reader += len;
          }
          if (rc != NP_OK) break;
          handle parent = *h;
          new_handle(v, parent.fam, SLICE, base_of(&parent) + idx, len, 0, len);
          expect_state(&hs[n_h - 1]);
          break;
        }
        case 11: { /* duplicate */
          if (n_h == MAX_HANDLES) break;
          np_buf *v = NULL;
          expect_rc(np_buf_duplicate(h->b, &v), NP_OK, "duplicate");
          handle parent = *h;
          new_handle(v, parent.fam, parent.kind == SLICE ? SLICE : DUP, parent.off, parent.len, parent.reader,
                     parent.writer);
          expect_state(&hs[n_h - 1]);
          break;
        }
        case 12:
        case 13: { /* retain, retain_n */
          uint32_t n = op % 20 == 12 ? 1 : fz_u8(&in) % 4;
          rc = op % 20 == 12 ? np_buf_retain(h->b) : np_buf_retain_n(h->b, n);
          expect_rc(rc, n == 0 ? NP_ERR_REFCNT : NP_OK, "retain");
          if (rc == NP_OK) f->count += n;
          break;
        }
        case 14:
        case 15:
        case 16: { /* release, release_n */
          uint32_t n = op % 20 == 14 ? 1 : fz_u8(&in) % 5;
          int fam = h->fam;
          rc = op % 20 == 14 ? np_buf_release(h->b) : np_buf_release_n(h->b, n);
          expect_rc(rc, n == 0 || n > f->count ? NP_ERR_REFCNT : NP_OK, "release");
          if (rc != NP_OK) break;
          f->count -= n;
          if (f->count == 0) {
            family_died(fam);
            continue;
          }
          break;
        }
        case 17: { /* a released family's handle: refused */
          if (n_dead == 0) break;
          np_buf *b = dead[sel % n_dead];
          size_t v;
          uint8_t u;
          expect_rc(np_buf_reader_index(b, &v), NP_ERR_REFCNT, "stale reader_index");
          expect_rc(np_buf_read_u8(b, &u), NP_ERR_REFCNT, "stale read");
          expect_rc(np_buf_set_u8(b, 0, 1), NP_ERR_REFCNT, "stale set");
          expect_rc(np_buf_release_n(b, 1), NP_ERR_REFCNT, "stale release_n");
          np_buf *out = NULL;
          expect_rc(np_buf_duplicate(b, &out), NP_ERR_REFCNT, "stale duplicate");
          FZ_CHECK(out == NULL, "stale duplicate wrote out");
          break;
        }
        case 18:
          expect_rc(np_buf_touch(h->b, (op & 1) ? "fuzz" : NULL), NP_OK, "touch");
          break;
        default: { /* the whole readable range against the model */
          size_t n = h->writer - h->reader;
          uint8_t *tmp = malloc(n + 1);
          expect_rc(np_buf_get_bytes(h->b, h->reader, tmp, n), NP_OK, "get_bytes (readable)");
          expect_bytes(h, h->reader, tmp, n, "readable");
          free(tmp);
        }
      }
    }
    if (n_h) expect_state(&hs[sel % n_h]);
  }
  /* Release what is left (the allocator must outlive its buffers). */
  while (n_h) {
    handle *h = &hs[0];
    int fam = h->fam;
    expect_state(h);
    expect_rc(np_buf_release_n(h->b, fams[fam].count), NP_OK, "final release");
    fams[fam].count = 0;
    family_died(fam);
  }
  np_stats s;
  FZ_CHECK(np_allocator_stats(A, &s) == NP_OK, "stats");
  FZ_CHECK(s.small.active + s.normal.active + s.huge.active == 0, "%llu blocks left after every release",
           (unsigned long long)(s.small.active + s.normal.active + s.huge.active));
  np_allocator_destroy(A);
  return 0;
}
