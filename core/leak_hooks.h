/*
 * Where the leak detector plugs into pooled buffers: every hook it needs, in
 * one place. Today they are empty inline functions (the compiler removes the
 * calls); the leak detector (Netty's ResourceLeakDetector: levels disabled,
 * simple, advanced, paranoid, 1 in leak_sampling_interval buffers sampled)
 * replaces their bodies.
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
 * Included by buffer_internal.h right after struct np_buf, so the hooks may
 * use its fields (root->leak).
 */
#ifndef NP_LEAK_HOOKS_H
#define NP_LEAK_HOOKS_H

static inline void np_leak_on_create(np_buf *root, np_allocator *alloc, const void *caller) {
  (void)root;
  (void)alloc;
  (void)caller;
}

static inline void np_leak_on_touch(const np_buf *root, const char *hint) {
  (void)root;
  (void)hint;
}

static inline void np_leak_on_free(np_buf *root) { (void)root; }

#endif
