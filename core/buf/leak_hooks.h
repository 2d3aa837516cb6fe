/*
 * Where the leak detector plugs into pooled buffers: every hook it needs, in
 * one place: small inline functions that call the leak detector (leak.c;
 * Netty's ResourceLeakDetector: levels disabled, simple, advanced, paranoid,
 * 1 in leak_sampling_interval buffers sampled) only for tracked buffers.
 *
 *   np_buf_alloc ──> np_leak_on_create(root, alloc, caller)
 *                      decide whether to track (level, sampling) and keep a
 *                      record in root->leak (NULL: not tracked); caller is the
 *                      creation site (the return address of np_buf_alloc)
 *   every public call on a live buffer or view (retain, release, get, set,
 *   read, write, slice, duplicate, iov, np_buf_touch, ...)
 *                 ──> np_leak_on_touch(root, hint)
 *                      hint: the function's name, or np_buf_touch's hint;
 *                      the advanced levels keep the most recent ones
 *   count reaches 0 ──> np_leak_on_free(root)
 *                      before the memory and the object go back: close the
 *                      record (the buffer was released, it is not a leak)
 *
 * The hooks see the root buffer (views share its record); the object is live
 * (the liveness check passed) when they run. A leak is a record never closed:
 * the detector reports its creation site and last touches (for example when
 * the allocator or the process ends, or when records are scanned).
 *
 * leak.c has the detector (records, reports); the hooks here are its cheap
 * inline front.
 *
 * Included by buffer_internal.h right after struct np_buf, so the hooks may
 * use its fields (root->leak).
 */
#ifndef NP_LEAK_HOOKS_H
#define NP_LEAK_HOOKS_H

/* The bodies (leak.c). The inline parts below keep the cost of a buffer that
 * is not tracked to a load and a branch: the level of its allocator's config
 * (disabled: nothing else), a per-thread countdown for sampling (simple and
 * advanced: the slow path runs for 1 buffer in leak_sampling_interval, every
 * one at paranoid), and root->leak (NULL: touch and free do nothing). */
void np_leak_create_slow(np_buf *root, np_allocator *alloc, const void *caller);
void np_leak_touch_slow(const np_buf *root, const char *hint);
void np_leak_free_slow(np_buf *root);
/* Buffers of this thread left before the next sampled one (shared by every
 * allocator of the thread: a global counter per thread). */
extern NP_BUF_TLS unsigned np_leak_countdown;
/* always_inline (at -O0 too): the slow paths' backtraces then start with a
 * fixed number of npool frames (the public function, np_buf_alloc), which the
 * reports skip. */

static inline __attribute__((always_inline)) void np_leak_on_create(np_buf *root, np_allocator *alloc, const void *caller) {
  const np_config *cfg = np_allocator_config(alloc);
  np_leak_level level = cfg->leak_detection;
  if (level == NP_LEAK_DISABLED) return;
  if (level != NP_LEAK_PARANOID) {
    unsigned c = np_leak_countdown;
    if (c > 1) {
      np_leak_countdown = c - 1;
      return;
    }
    np_leak_countdown = cfg->leak_sampling_interval;
  }
  np_leak_create_slow(root, alloc, caller);
}

static inline __attribute__((always_inline)) void np_leak_on_touch(const np_buf *root, const char *hint) {
  if (__builtin_expect(root->leak != NULL, 0)) np_leak_touch_slow(root, hint);
}

static inline __attribute__((always_inline)) void np_leak_on_free(np_buf *root) {
  if (__builtin_expect(root->leak != NULL, 0)) np_leak_free_slow(root);
}

#endif
