/*
 * ThreadSanitizer cannot see the ordering that Concurrency Kit's inline
 * assembly provides, so the strategies tell it: a release where a lock is
 * dropped or a pointer is published, an acquire where it is taken. Nothing
 * in other builds.
 */
#ifndef NP_TSAN_ANNOTATIONS_H
#define NP_TSAN_ANNOTATIONS_H

#if defined(__SANITIZE_THREAD__)
#define NP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NP_TSAN 1
#endif
#endif

#ifdef NP_TSAN
#ifdef __cplusplus
extern "C" {
#endif
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#ifdef __cplusplus
}
#endif
#define NP_TSAN_ACQUIRE(addr) __tsan_acquire((void *)(addr))
#define NP_TSAN_RELEASE(addr) __tsan_release((void *)(addr))
#else
#define NP_TSAN_ACQUIRE(addr) ((void)0)
#define NP_TSAN_RELEASE(addr) ((void)0)
#endif

#endif
