/* For remote_outbox_test: the strategy's np_remote driven from C (ck's list
 * operations are inline C that C++ cannot include). */
#include "core/cache/cache_internal.h"

/* A list whose count says full while it holds nothing (ck: a producer adds
 * its count after its CAS, so an owner's take between the two leaves the
 * count of a batch it already took) must take pushes again after the owner's
 * next take finds it empty. 0 if it does, else the step that failed. */
int np_probe_remote_stale_count(void) {
  np_remote r;
  np_remote_init(&r, 2);
  _Alignas(16) void *block[2] = {NULL, NULL}; /* a 16-byte block: its first word links */
  void *rest = NULL;
  int failed = 0;
  r.count = 2; /* the state the late count leaves */
  if (np_remote_push_chain(&r, block, 1, &rest) != 0 || rest != block) failed = 1; /* refused while "full" */
  else if (np_remote_take_all(&r) != NULL) failed = 2;
  else if (np_remote_push_chain(&r, block, 1, &rest) != 1) failed = 3; /* the empty take gave the room back */
  else if (np_remote_take_all(&r) != (void *)block) failed = 4;
  else if (np_remote_take_all(&r) != NULL) failed = 5;
  np_remote_destroy(&r);
  return failed;
}
