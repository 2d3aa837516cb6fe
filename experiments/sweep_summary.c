/* The sweep's closing summary (see sweep_summary.h). */
#include "experiments/sweep_summary.h"

#include <stdio.h>
#include <string.h>

static int is_npool(const char *name) { return strncmp(name, "npool-", 6) == 0; }

sweep_best sweep_best_of(int n, const char *const names[], const double median[],
                         const int have[]) {
  sweep_best b = {-1, -1, 0.0};
  for (int i = 0; i < n; i++) {
    if (!have[i]) continue;
    int *best = is_npool(names[i]) ? &b.npool : &b.peer;
    if (*best < 0 || median[i] > median[*best]) *best = i;
  }
  if (b.npool >= 0 && b.peer >= 0 && median[b.peer] > 0) b.ratio = median[b.npool] / median[b.peer];
  return b;
}

char *sweep_best_format(char *buf, size_t len, const sweep_best *b, const char *const names[]) {
  if (b->npool < 0 || b->peer < 0 || b->ratio <= 0) snprintf(buf, len, "-");
  else snprintf(buf, len, "%s x%.2f %s", names[b->npool] + 6, b->ratio, names[b->peer]);
  return buf;
}
