/*
 * npool buffers: Netty's pooled ByteBuf in C. A buffer is a block of pooled
 * memory with a reference count, a reader and a writer index, a capacity that
 * grows on demand up to a max capacity, and typed accessors.
 *
 *   np_buf *b = np_buf_alloc(np_default_allocator(), 256, NP_BUF_DEFAULT_MAX_CAPACITY);
 *   if (b == NULL) { perror("np_buf_alloc"); ... }   // errno ENOMEM or EINVAL
 *   np_buf_write_u32(b, 10);                          // big-endian, grows as needed
 *   uint32_t v;
 *   int rc = np_buf_read_u32(b, &v);                  // NP_OK, v == 10
 *   np_buf_release(b);                                // count 1 -> 0: memory back to the pool
 *   rc = np_buf_write_u32(b, 11);                     // NP_ERR_REFCNT: used after release
 *
 *   +-------------------+------------------+------------------+
 *   | discardable bytes |  readable bytes  |  writable bytes  |
 *   +-------------------+------------------+------------------+
 *   0      <=      reader index   <=   writer index   <=   capacity  <=  max capacity
 *
 * Conventions
 * - Every function but np_buf_alloc returns NP_OK or an np_error code
 *   (np_strerror names it); values come back through out-parameters. A call
 *   that fails changes nothing: no index moves, no byte of the buffer (or of
 *   an out-parameter) is written, the count stays as it was.
 * - get_* / set_* take an absolute index and leave the indices alone; they
 *   may touch any byte below the capacity (NP_ERR_INDEX beyond it).
 *   read_* take from the reader index and advance it (NP_ERR_INDEX past the
 *   writer index); write_* put at the writer index and advance it, growing
 *   the buffer when needed (NP_ERR_MAX_CAPACITY past the max capacity).
 * - Multi-byte values are big-endian (network order); the _le variants are
 *   little-endian. Floats and doubles travel as their IEEE-754 bit patterns.
 *   Signed integers: convert to and from the unsigned type of the same width.
 * - Lengths and indices are size_t: a length above PTRDIFF_MAX (a negative
 *   int converted) or a range whose end overflows is NP_ERR_INDEX.
 *
 * Reference counting (thread-safe): a new buffer's count is 1; retain adds,
 * release subtracts and at 0 returns the memory to the pool. Every operation
 * on a released buffer, and a release below 0, is refused with NP_ERR_REFCNT
 * (Netty's IllegalReferenceCountException). The buffer object itself is never
 * unmapped, so this check is safe: see "Buffer objects" below for its limit.
 *
 * Threads: the count may be changed from any thread, and a buffer may be
 * released on a thread other than the one that allocated it (its memory goes
 * back to the allocating thread's cache). Everything else on one buffer (and
 * on views of the same memory: a write may grow and move it) must not run on
 * two threads at once, as for Netty's ByteBuf; hand a buffer over with the
 * usual synchronisation (a queue, a mutex).
 *
 * Slices and duplicates ("views") share the memory and the reference count
 * of the buffer they come from: retain and release on a view act on that
 * count, and every view becomes unusable (NP_ERR_REFCNT) when the count
 * reaches 0. A view has its own reader and writer index. A slice sees a fixed
 * window (capacity = max capacity = its length: it cannot grow); a duplicate
 * sees the whole buffer, and writing past its capacity grows the buffer. A
 * view of a view is a view of the original buffer. Views cost no memory copy;
 * their objects live until the count reaches 0.
 *
 * Buffer objects: np_buf objects come from np_alloc (a private allocator,
 * never destroyed) and are recycled, Netty's Recycler: a released object goes
 * to the releasing thread's free list (spilling to a shared depot past 1024),
 * and np_buf_alloc takes the most recent one first, so allocating right after
 * a release on the same thread returns the same object. Objects are never
 * freed: a stale pointer always points at an np_buf, whose state says
 * whether it is live. The limit: once a released object has been handed out
 * again, a stale pointer to it is indistinguishable from the new buffer (as
 * in Netty, where a recycled ByteBuf is reused the same way). Views of a
 * released buffer are recycled with it and stay refused until reused.
 *
 * Growth (Netty's ensureWritable and calculateNewCapacity): writing n bytes
 * that do not fit first takes the rest of the block already held, when the
 * block (np_usable_size) has room: capacity becomes min(block size, max
 * capacity), in place. Otherwise the new capacity is
 * np_buf_calculate_new_capacity(writer index + n, max capacity): the next
 * power of two of at least 64 up to 4 MiB, then the next multiple of 4 MiB;
 * the bytes below the old capacity are copied to a new block and the old one
 * is freed.
 *
 * I/O without copies: np_buf_readable_iov / np_buf_writable_iov describe the
 * readable or writable bytes as struct iovec for writev(2) / readv(2), send,
 * recv, memcpy...; np_buf_advance_reader / np_buf_advance_writer then move
 * the index by what was consumed or filled.
 */
#ifndef NPOOL_BUF_H
#define NPOOL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h> /* struct iovec */

#include "npool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct np_buf np_buf;

/* Netty's default max capacity (Integer.MAX_VALUE). */
#define NP_BUF_DEFAULT_MAX_CAPACITY ((size_t)INT32_MAX)
/* Growth doubles up to this, then steps by it (Netty's CALCULATE_THRESHOLD). */
#define NP_BUF_GROWTH_THRESHOLD ((size_t)4 << 20)

/* ---- Allocation ------------------------------------------------------------ */

/* np_default_allocator() (npool.h) is the process-wide allocator. */

/* A buffer with capacity initial_capacity (reader and writer index 0, count
 * 1) that may grow up to max_capacity, its memory from a. Returns NULL with
 * errno EINVAL (a NULL, initial_capacity > max_capacity, or initial_capacity
 * above PTRDIFF_MAX: a negative int converted) or ENOMEM. The allocator must
 * outlive the buffer (release every buffer before np_allocator_destroy). */
NP_API np_buf *np_buf_alloc(np_allocator *a, size_t initial_capacity, size_t max_capacity);

/* Netty's growth policy: the capacity a buffer needing min_new_capacity bytes
 * grows to (see "Growth" above). NP_ERR_MAX_CAPACITY when min_new_capacity >
 * max_capacity. */
NP_API int np_buf_calculate_new_capacity(size_t min_new_capacity, size_t max_capacity, size_t *out);

/* ---- Reference count (thread-safe) ---------------------------------------------
 * On a view these act on the count of the buffer it was made from. */
NP_API int np_buf_retain(np_buf *b);                /* count + 1 */
NP_API int np_buf_retain_n(np_buf *b, uint32_t n);  /* count + n; NP_ERR_REFCNT for n = 0 or
                                                     * past UINT32_MAX (nothing changes) */
NP_API int np_buf_release(np_buf *b);               /* count - 1; at 0 the memory goes back */
NP_API int np_buf_release_n(np_buf *b, uint32_t n); /* count - n; NP_ERR_REFCNT for n = 0 or
                                                     * n > count (nothing changes) */
/* The current count: 0 for a released buffer (NP_OK, as Netty's refCnt()). */
NP_API int np_buf_refcnt(const np_buf *b, uint32_t *out);

/* Records hint as this buffer's latest access for the leak detector (Netty's
 * touch(hint)); changes nothing else. hint may be NULL. */
NP_API int np_buf_touch(np_buf *b, const char *hint);

/* ---- Leak detection (Netty's ResourceLeakDetector) ---------------------------------
 * The level is the buffer's allocator's np_config.leak_detection (the default
 * allocator: NPOOL_CONF, e.g. "leak_detection:paranoid"): disabled; simple
 * (default) records where 1 buffer in leak_sampling_interval (default 128) was
 * created; advanced records that for the same sample and the last 4 touches
 * (every public call names itself, np_buf_touch gives its hint) with a
 * backtrace of the latest; paranoid does so for every buffer. A tracked
 * buffer never released is reported when its allocator is destroyed, or at
 * process exit for allocators never destroyed (np_default_allocator()): one
 * report per buffer, "LEAK: ..." with the symbolised creation backtrace (link
 * with -rdynamic for function names) and, at advanced and paranoid, the touches.
 * Reports go to stderr, or to report(ctx, text) once set here (NULL: stderr
 * again); report may be called on any thread that destroys an allocator, or
 * at exit. Thread-safe. */
NP_API void np_leak_set_reporter(void (*report)(void *ctx, const char *report), void *ctx);

/* ---- Indices and capacity -------------------------------------------------------- */
NP_API int np_buf_capacity(const np_buf *b, size_t *out);
NP_API int np_buf_max_capacity(const np_buf *b, size_t *out);
NP_API int np_buf_reader_index(const np_buf *b, size_t *out);
NP_API int np_buf_writer_index(const np_buf *b, size_t *out);
NP_API int np_buf_readable_bytes(const np_buf *b, size_t *out); /* writer - reader */
NP_API int np_buf_writable_bytes(const np_buf *b, size_t *out); /* capacity - writer */
/* NP_ERR_INDEX unless index <= writer index. */
NP_API int np_buf_set_reader_index(np_buf *b, size_t index);
/* NP_ERR_INDEX unless reader index <= index <= capacity. */
NP_API int np_buf_set_writer_index(np_buf *b, size_t index);
/* Both at once: NP_ERR_INDEX unless reader <= writer <= capacity. */
NP_API int np_buf_set_index(np_buf *b, size_t reader, size_t writer);
/* Reader and writer index to 0 (the bytes stay). */
NP_API int np_buf_clear(np_buf *b);
/* Moves the readable bytes to index 0: writer -= reader, reader = 0. */
NP_API int np_buf_discard_read_bytes(np_buf *b);
/* Makes at least n bytes writable, growing as a write of n bytes would.
 * NP_ERR_MAX_CAPACITY if writer index + n would pass the max capacity,
 * NP_ERR_INDEX if n > PTRDIFF_MAX, NP_ERR_NO_MEMORY if the pool had no
 * memory (in every case the buffer is unchanged). */
NP_API int np_buf_ensure_writable(np_buf *b, size_t n);

/* ---- Integers, floats, doubles: absolute get ------------------------------------- */
NP_API int np_buf_get_u8(const np_buf *b, size_t index, uint8_t *out);
NP_API int np_buf_get_u16(const np_buf *b, size_t index, uint16_t *out);
NP_API int np_buf_get_u16_le(const np_buf *b, size_t index, uint16_t *out);
NP_API int np_buf_get_u32(const np_buf *b, size_t index, uint32_t *out);
NP_API int np_buf_get_u32_le(const np_buf *b, size_t index, uint32_t *out);
NP_API int np_buf_get_u64(const np_buf *b, size_t index, uint64_t *out);
NP_API int np_buf_get_u64_le(const np_buf *b, size_t index, uint64_t *out);
NP_API int np_buf_get_float(const np_buf *b, size_t index, float *out);
NP_API int np_buf_get_float_le(const np_buf *b, size_t index, float *out);
NP_API int np_buf_get_double(const np_buf *b, size_t index, double *out);
NP_API int np_buf_get_double_le(const np_buf *b, size_t index, double *out);

/* ---- absolute set (no growth: index + size <= capacity) ---------------------------- */
NP_API int np_buf_set_u8(np_buf *b, size_t index, uint8_t v);
NP_API int np_buf_set_u16(np_buf *b, size_t index, uint16_t v);
NP_API int np_buf_set_u16_le(np_buf *b, size_t index, uint16_t v);
NP_API int np_buf_set_u32(np_buf *b, size_t index, uint32_t v);
NP_API int np_buf_set_u32_le(np_buf *b, size_t index, uint32_t v);
NP_API int np_buf_set_u64(np_buf *b, size_t index, uint64_t v);
NP_API int np_buf_set_u64_le(np_buf *b, size_t index, uint64_t v);
NP_API int np_buf_set_float(np_buf *b, size_t index, float v);
NP_API int np_buf_set_float_le(np_buf *b, size_t index, float v);
NP_API int np_buf_set_double(np_buf *b, size_t index, double v);
NP_API int np_buf_set_double_le(np_buf *b, size_t index, double v);

/* ---- relative read (from the reader index, which advances) ------------------------- */
NP_API int np_buf_read_u8(np_buf *b, uint8_t *out);
NP_API int np_buf_read_u16(np_buf *b, uint16_t *out);
NP_API int np_buf_read_u16_le(np_buf *b, uint16_t *out);
NP_API int np_buf_read_u32(np_buf *b, uint32_t *out);
NP_API int np_buf_read_u32_le(np_buf *b, uint32_t *out);
NP_API int np_buf_read_u64(np_buf *b, uint64_t *out);
NP_API int np_buf_read_u64_le(np_buf *b, uint64_t *out);
NP_API int np_buf_read_float(np_buf *b, float *out);
NP_API int np_buf_read_float_le(np_buf *b, float *out);
NP_API int np_buf_read_double(np_buf *b, double *out);
NP_API int np_buf_read_double_le(np_buf *b, double *out);

/* ---- relative write (at the writer index, which advances; grows) ------------------- */
NP_API int np_buf_write_u8(np_buf *b, uint8_t v);
NP_API int np_buf_write_u16(np_buf *b, uint16_t v);
NP_API int np_buf_write_u16_le(np_buf *b, uint16_t v);
NP_API int np_buf_write_u32(np_buf *b, uint32_t v);
NP_API int np_buf_write_u32_le(np_buf *b, uint32_t v);
NP_API int np_buf_write_u64(np_buf *b, uint64_t v);
NP_API int np_buf_write_u64_le(np_buf *b, uint64_t v);
NP_API int np_buf_write_float(np_buf *b, float v);
NP_API int np_buf_write_float_le(np_buf *b, float v);
NP_API int np_buf_write_double(np_buf *b, double v);
NP_API int np_buf_write_double_le(np_buf *b, double v);

/* ---- Byte ranges (dst/src may be NULL only when len is 0; src may lie in the
 * buffer itself) ------------------------------------------------------------------- */
NP_API int np_buf_get_bytes(const np_buf *b, size_t index, void *dst, size_t len);
NP_API int np_buf_set_bytes(np_buf *b, size_t index, const void *src, size_t len);
NP_API int np_buf_read_bytes(np_buf *b, void *dst, size_t len);
NP_API int np_buf_write_bytes(np_buf *b, const void *src, size_t len);

/* ---- Views: slices and duplicates (share memory and count; see above) -------------- */
/* A slice of [index, index + length) (index + length <= capacity), its reader
 * index 0 and writer index length. The count does not change (Netty's slice). */
NP_API int np_buf_slice(np_buf *b, size_t index, size_t length, np_buf **out);
/* The readable bytes as a slice (Netty's slice()). */
NP_API int np_buf_slice_readable(np_buf *b, np_buf **out);
/* A slice of the next length readable bytes; the reader index moves past them
 * (Netty's readSlice). NP_ERR_INDEX if fewer are readable. */
NP_API int np_buf_read_slice(np_buf *b, size_t length, np_buf **out);
/* A view of the whole buffer with the same indices (Netty's duplicate()). */
NP_API int np_buf_duplicate(np_buf *b, np_buf **out);

/* ---- I/O through plain pointers ------------------------------------------------------
 * The memory described stays valid until the buffer grows (a write or
 * np_buf_ensure_writable past the capacity may move it) or is released. */

/* Fills iov[0..*count) with the readable bytes, in order (*count 0 when none
 * is readable). A buffer is one contiguous block today, so one entry is
 * enough, but callers should accept up to max. NP_ERR_INDEX if max < 1.
 * After consuming n of them (writev, send, memcpy), np_buf_advance_reader. */
NP_API int np_buf_readable_iov(np_buf *b, struct iovec *iov, int max, int *count);
/* First makes at least min_writable bytes writable (as np_buf_ensure_writable),
 * then fills iov[0..*count) with every writable byte (capacity - writer index).
 * After filling n of them (readv, recv, memcpy), np_buf_advance_writer. */
NP_API int np_buf_writable_iov(np_buf *b, size_t min_writable, struct iovec *iov, int max,
                               int *count);
/* reader index += n; NP_ERR_INDEX if n > readable bytes (Netty's skipBytes). */
NP_API int np_buf_advance_reader(np_buf *b, size_t n);
/* writer index += n; NP_ERR_INDEX if n > writable bytes (no growth). */
NP_API int np_buf_advance_writer(np_buf *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* NPOOL_BUF_H */
