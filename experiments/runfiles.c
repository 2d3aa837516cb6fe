#include "experiments/runfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *np_runfiles_dir(const char *argv0, const char *sub) {
  static char buf[4096];
  const char *envs[] = {"RUNFILES_DIR", "TEST_SRCDIR"};
  for (int i = 0; i < 2; i++) {
    const char *r = getenv(envs[i]);
    if (r && *r) {
      snprintf(buf, sizeof buf, "%s/npool/%s", r, sub);
      if (is_dir(buf)) return buf;
    }
  }
  snprintf(buf, sizeof buf, "%s.runfiles/npool/%s", argv0, sub);
  return is_dir(buf) ? buf : NULL;
}
