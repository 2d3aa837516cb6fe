// 1000 blocks of 1 MiB allocated, written, freed; 6 rounds; ns per block of rounds 2-6.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
  enum { N = 1000, SZ = 1 << 20 };
  static char *p[N];
  double t0 = 0;
  for (int r = 0; r < 6; r++) {
    if (r == 1) t0 = now();
    for (int i = 0; i < N; i++) { p[i] = malloc(SZ); if (!p[i]) return 1; for (int o = 0; o < SZ; o += 4096) p[i][o] = (char)i; }
    for (int i = 0; i < N; i++) free(p[i]);
  }
  printf("%.0f ns per block\n", (now() - t0) / (5.0 * N) * 1e9);
  return 0;
}
