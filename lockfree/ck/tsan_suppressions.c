/*
 * Under ThreadSanitizer only: ck_ring copies an entry into its slot after the
 * producer's release annotation and publishes it with an inline-assembly
 * store TSan cannot see, so the slot copy inside ck looks racy. Those two ck
 * functions are trusted; every access of npool's own data stays checked (the
 * annotations in np_strategy_impl.h order it).
 */
#include "tsan_annotations.h"

#ifdef NP_TSAN
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) {
  return "race:_ck_ring_enqueue_mp\n"
         "race:_ck_ring_dequeue_sc\n";
}
#endif
