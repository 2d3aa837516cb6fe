/* A new folder for each sweep run (see run_dir.h). */
#include "experiments/run_dir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int run_dir_name(char *buf, size_t len, const char *kind, time_t t) {
  struct tm tm;
  char when[32];
  if (kind == NULL || localtime_r(&t, &tm) == NULL ||
      strftime(when, sizeof when, "%Y-%m-%dT%H%M%S", &tm) == 0)
    return -1;
  int n = snprintf(buf, len, "%s-%s", kind, when);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

int run_dir_mkdirs(const char *path) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int run_dir_create_new(const char *parent, const char *kind, time_t t, char *out, size_t len) {
  char name[256];
  if (run_dir_name(name, sizeof name, kind, t) != 0) {
    errno = EINVAL;
    return -1;
  }
  if (run_dir_mkdirs(parent) != 0) return -1;
  for (int n = 1; n < 10000; n++) {
    int w = n == 1 ? snprintf(out, len, "%s/%s", parent, name)
                   : snprintf(out, len, "%s/%s-%d", parent, name, n);
    if (w < 0 || (size_t)w >= len) {
      errno = ENAMETOOLONG;
      return -1;
    }
    if (mkdir(out, 0777) == 0) return 0;
    if (errno != EEXIST) return -1;
  }
  errno = EEXIST;
  return -1;
}
