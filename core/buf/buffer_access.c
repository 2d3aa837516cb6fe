/*
 * Typed access to pooled buffers (npool_buf.h): get / set at an absolute
 * index, read / write at the reader / writer index, for 8-, 16-, 32- and
 * 64-bit integers, floats and doubles in both byte orders, and byte ranges.
 *
 * Every accessor is one of four moves over raw bytes, after the liveness
 * check, with the value converted between the host's order and the wire's:
 *
 *   get_at   [index, index + n) within the capacity      -> copy out
 *   set_at   [index, index + n) within the capacity      <- copy in
 *   read_at  n <= writer - reader: copy out, reader += n
 *   write_at np_buf_ensure(n) (may grow): copy in, writer += n
 *
 * A failed check returns before any byte moves. Floats and doubles travel as
 * the bit pattern of the unsigned integer of their width.
 */
#include <string.h>

#include "buffer_internal.h"

/* ---- Byte order ---------------------------------------------------------------- */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BE16(x) __builtin_bswap16(x)
#define BE32(x) __builtin_bswap32(x)
#define BE64(x) __builtin_bswap64(x)
#define LE16(x) (x)
#define LE32(x) (x)
#define LE64(x) (x)
#else
#define BE16(x) (x)
#define BE32(x) (x)
#define BE64(x) (x)
#define LE16(x) __builtin_bswap16(x)
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#endif
#define SAME8(x) (x)

/* ---- The four moves (b live, r its root) ------------------------------------------ */

static int get_at(const np_buf *b, const np_buf *r, size_t index, void *dst, size_t n) {
  if (!np_range_ok(index, n, np_buf_cap(b, r))) return NP_ERR_INDEX;
  if (n) memmove(dst, np_buf_addr(b, r, index), n); /* dst may lie in the buffer */
  return NP_OK;
}

static int set_at(np_buf *b, const np_buf *r, size_t index, const void *src, size_t n) {
  if (!np_range_ok(index, n, np_buf_cap(b, r))) return NP_ERR_INDEX;
  if (n) memmove(np_buf_addr(b, r, index), src, n); /* src may lie in the buffer */
  return NP_OK;
}

static int read_at(np_buf *b, const np_buf *r, void *dst, size_t n) {
  if (n > b->writer - b->reader) return NP_ERR_INDEX;
  if (n) memmove(dst, np_buf_addr(b, r, b->reader), n);
  b->reader += n;
  return NP_OK;
}

static int write_at(np_buf *b, np_buf *r, const void *src, size_t n) {
  /* src may lie in the buffer's own block, which growth may move and free. */
  uintptr_t old = (uintptr_t)r->mem, s = (uintptr_t)src;
  size_t old_block = r->block_size;
  int rc = np_buf_ensure(b, r, n);
  if (rc != NP_OK) return rc;
  if ((uintptr_t)r->mem != old && s - old < old_block) src = r->mem + (s - old);
  if (n) memmove(np_buf_addr(b, r, b->writer), src, n);
  b->writer += n;
  return NP_OK;
}

/* ---- Typed accessors ------------------------------------------------------------------
 * ACCESSORS(name, T, U, conv): np_buf_{get,set,read,write}_<name> for values
 * of type T stored as the unsigned U converted by conv (an involution: host
 * to wire order and back). */
#define ACCESSORS(name, T, U, conv)                                  \
  int np_buf_get_##name(const np_buf *b, size_t index, T *out) {     \
    NP_BUF_ENTER(b, r);                                              \
    if (out == NULL) return NP_ERR_NULL_ARGUMENT;                    \
    U u;                                                             \
    int rc = get_at(b, r, index, &u, sizeof u);                      \
    if (rc != NP_OK) return rc;                                      \
    u = conv(u);                                                     \
    memcpy(out, &u, sizeof u);                                       \
    return NP_OK;                                                    \
  }                                                                  \
  int np_buf_set_##name(np_buf *b, size_t index, T v) {              \
    NP_BUF_ENTER(b, r);                                              \
    U u;                                                             \
    memcpy(&u, &v, sizeof u);                                        \
    u = conv(u);                                                     \
    return set_at(b, r, index, &u, sizeof u);                        \
  }                                                                  \
  int np_buf_read_##name(np_buf *b, T *out) {                        \
    NP_BUF_ENTER(b, r);                                              \
    if (out == NULL) return NP_ERR_NULL_ARGUMENT;                    \
    U u;                                                             \
    int rc = read_at(b, r, &u, sizeof u);                            \
    if (rc != NP_OK) return rc;                                      \
    u = conv(u);                                                     \
    memcpy(out, &u, sizeof u);                                       \
    return NP_OK;                                                    \
  }                                                                  \
  int np_buf_write_##name(np_buf *b, T v) {                          \
    NP_BUF_ENTER(b, r);                                              \
    U u;                                                             \
    memcpy(&u, &v, sizeof u);                                        \
    u = conv(u);                                                     \
    return write_at(b, r, &u, sizeof u);                             \
  }

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE-754 single and double");

ACCESSORS(u8, uint8_t, uint8_t, SAME8)
ACCESSORS(u16, uint16_t, uint16_t, BE16)
ACCESSORS(u16_le, uint16_t, uint16_t, LE16)
ACCESSORS(u32, uint32_t, uint32_t, BE32)
ACCESSORS(u32_le, uint32_t, uint32_t, LE32)
ACCESSORS(u64, uint64_t, uint64_t, BE64)
ACCESSORS(u64_le, uint64_t, uint64_t, LE64)
ACCESSORS(float, float, uint32_t, BE32)
ACCESSORS(float_le, float, uint32_t, LE32)
ACCESSORS(double, double, uint64_t, BE64)
ACCESSORS(double_le, double, uint64_t, LE64)

/* ---- Byte ranges ------------------------------------------------------------------------ */

int np_buf_get_bytes(const np_buf *b, size_t index, void *dst, size_t len) {
  NP_BUF_ENTER(b, r);
  if (dst == NULL && len) return NP_ERR_NULL_ARGUMENT;
  return get_at(b, r, index, dst, len);
}

int np_buf_set_bytes(np_buf *b, size_t index, const void *src, size_t len) {
  NP_BUF_ENTER(b, r);
  if (src == NULL && len) return NP_ERR_NULL_ARGUMENT;
  return set_at(b, r, index, src, len);
}

int np_buf_read_bytes(np_buf *b, void *dst, size_t len) {
  NP_BUF_ENTER(b, r);
  if (dst == NULL && len) return NP_ERR_NULL_ARGUMENT;
  return read_at(b, r, dst, len);
}

int np_buf_write_bytes(np_buf *b, const void *src, size_t len) {
  NP_BUF_ENTER(b, r);
  if (src == NULL && len) return NP_ERR_NULL_ARGUMENT;
  return write_at(b, r, src, len);
}
