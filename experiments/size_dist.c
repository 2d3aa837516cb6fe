/* Size distributions of the workloads (see size_dist.h). */
#include "experiments/size_dist.h"

#include <math.h>
#include <string.h>

static const char *const names[DIST_COUNT] = {"fixed64", "small", "net", "mixed", "large", "invsq"};

int size_dist_parse(const char *name) {
  for (int d = 0; d < DIST_COUNT; d++)
    if (name && !strcmp(name, names[d])) return d;
  return -1;
}

const char *size_dist_name(size_dist d) { return (unsigned)d < DIST_COUNT ? names[d] : "?"; }

const char *size_dist_all(void) { return "fixed64,small,net,mixed,large,invsq"; }

/* Uniform in [0, 1). */
static double unit(uint64_t *s) { return (double)(bench_splitmix64(s) >> 11) * 0x1.0p-53; }

static uint32_t uniform(uint64_t *s, uint32_t lo, uint32_t hi) {
  return lo + (uint32_t)(unit(s) * (double)(hi - lo + 1));
}

/* Density proportional to 1/x^2 over [lo, hi]: the inverse of its CDF,
 * (1/lo - 1/x) / (1/lo - 1/hi). */
static uint32_t inverse_square(uint64_t *s, double lo, double hi) {
  double x = 1.0 / (1.0 / lo - unit(s) * (1.0 / lo - 1.0 / hi));
  uint32_t r = (uint32_t)x;
  if (r < (uint32_t)lo) r = (uint32_t)lo;
  if (r > (uint32_t)hi) r = (uint32_t)hi;
  return r;
}

static uint32_t log_uniform(uint64_t *s, double lo, double hi) {
  double v = exp2(log2(lo) + (log2(hi) - log2(lo)) * unit(s));
  uint32_t r = (uint32_t)v;
  if (r < (uint32_t)lo) r = (uint32_t)lo;
  if (r > (uint32_t)hi) r = (uint32_t)hi;
  return r;
}

void size_dist_fill(size_dist d, uint64_t seed, uint32_t *sizes, size_t n) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) {
    double u;
    switch (d) {
      case DIST_FIXED64:
        sizes[i] = 64;
        break;
      case DIST_SMALL:
        sizes[i] = uniform(&s, 16, 512);
        break;
      case DIST_NET:
        u = unit(&s);
        sizes[i] = u < 0.92 ? log_uniform(&s, 256, 16384) : log_uniform(&s, 65537, 1 << 20);
        break;
      case DIST_LARGE:
        sizes[i] = log_uniform(&s, 1 << 20, 32u << 20);
        break;
      case DIST_INVSQ:
        sizes[i] = inverse_square(&s, 4, 32768);
        break;
      default: /* DIST_MIXED */
        u = unit(&s);
        if (u < 0.89) sizes[i] = uniform(&s, 16, 512);
        else if (u < 0.99) sizes[i] = log_uniform(&s, 8192, 1 << 20);
        else sizes[i] = uniform(&s, 5u << 20, 8u << 20);
        break;
    }
  }
}
