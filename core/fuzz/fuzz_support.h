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

/* The harness's own hot loops (patterns, model scans) need no coverage
 * feedback: without it they run several times faster. */
#define FZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))

/* The pattern byte at offset off of the block named id. */
static inline uint8_t fz_pattern_byte(uint64_t id, size_t off) {
  uint64_t x = (id * 0x9E3779B97F4A7C15ull) ^ (off * 0xBF58476D1CE4E5B9ull);
  return (uint8_t)(x >> 56);
}

#endif /* NP_FUZZ_SUPPORT_H */
