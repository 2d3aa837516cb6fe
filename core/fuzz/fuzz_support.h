/*
 * Shared by the fuzzers (core/fuzz/NAME_fuzz.c): a reader over libFuzzer's input
 * and a check that names what went wrong before it aborts.
 *
 * A fuzzer's input is a program: a few bytes of configuration, then
 * operations, each an opcode byte and its operands. When the input runs out
 * every read gives 0, so any byte string is a valid program.
 */
#ifndef NP_FUZZ_SUPPORT_H
#define NP_FUZZ_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_in {
  const uint8_t *p;
  size_t n;
} fz_in;

static inline int fz_done(const fz_in *in) { return in->n == 0; }

static inline uint8_t fz_u8(fz_in *in) {
  if (in->n == 0) return 0;
  in->n--;
  return *in->p++;
}

static inline uint16_t fz_u16(fz_in *in) {
  uint16_t lo = fz_u8(in);
  return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(fz_in *in) {
  uint32_t lo = fz_u16(in);
  return lo | (uint32_t)fz_u16(in) << 16;
}

/* Any difference between npool and the model: print it and crash, so that
 * libFuzzer keeps the input. */
#define FZ_CHECK(cond, ...)                                                        \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);    \
      fprintf(stderr, __VA_ARGS__);                                                \
      fputc('\n', stderr);                                                         \
      abort();                                                                     \
    }                                                                              \
  } while (0)

/* Fills or checks a block with a pattern that names it (id) and the offset:
 * small blocks whole, bigger ones at both ends and every 4 KiB. */
static inline uint8_t fz_pattern_byte(uint64_t id, size_t off) {
  uint64_t x = (id * 0x9E3779B97F4A7C15ull) ^ (off * 0xBF58476D1CE4E5B9ull);
  return (uint8_t)(x >> 56);
}

static inline int fz_pattern(uint8_t *p, size_t n, uint64_t id, int write, size_t *bad) {
  for (size_t off = 0; off < n;) {
    if (write) p[off] = fz_pattern_byte(id, off);
    else if (p[off] != fz_pattern_byte(id, off)) {
      *bad = off;
      return 0;
    }
    if (n <= 4096 || off < 64 || off + 64 >= n) off++;
    else if (off + 4096 < n - 64) off += 4096;
    else off = n - 64;
  }
  return 1;
}

#endif /* NP_FUZZ_SUPPORT_H */
