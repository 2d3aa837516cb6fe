/*
 * config_fuzz: np_config_from_string (and NPOOL_CONF through
 * np_config_from_env) on arbitrary text.
 *
 * The input (up to its first NUL) is the string. A model splits it into
 * items as the README says (comma-separated key:value, blanks around key and
 * value ignored) and applies each with np_config_set to its own copy. Checked:
 * nothing crashes; every item either applies or is reported once through the
 * callback (so: reports == items the model saw fail); the result equals the
 * model's; the return code is the first failing item's. Then
 * np_allocator_create on the result either fails with an error code (and
 * leaves the out pointer alone) or gives an allocator whose alloc and free work.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npool.h"
#include "fuzz_support.h"

typedef struct reports {
  unsigned n;
  size_t chars;
} reports;

static void on_report(void *ctx, const char *msg) {
  reports *r = ctx;
  FZ_CHECK(msg != NULL && msg[0] != '\0', "empty report");
  r->n++;
  r->chars += strlen(msg);
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* [b, e) without blanks at either end into out (cap bytes); 0 if too long. */
static int trimmed(const char *b, const char *e, char *out, size_t cap) {
  while (b < e && is_blank(*b)) b++;
  while (e > b && is_blank(e[-1])) e--;
  size_t len = (size_t)(e - b);
  if (len >= cap) return 0;
  memcpy(out, b, len);
  out[len] = '\0';
  return 1;
}

static void expect_same(const np_config *x, const np_config *y) {
#define SAME(f) FZ_CHECK(x->f == y->f, "field " #f " differs")
  SAME(page_size);
  SAME(max_order);
  SAME(alignment);
  SAME(arenas);
  SAME(release_empty_init_chunks);
  SAME(small_cache_size);
  SAME(normal_cache_size);
  SAME(max_cached_buffer_capacity);
  SAME(cache_trim_interval);
  SAME(trim_low_water);
  SAME(cache_refill_batch);
  SAME(leak_detection);
  SAME(leak_sampling_interval);
  SAME(stats_print);
  SAME(invalid_free);
  SAME(large_cache_bytes);
  SAME(dirty_decay_ms);
  SAME(background_purge);
  SAME(retained_max);
  SAME(run_placement);
  SAME(cache_grow_bytes);
  SAME(cache_max_bytes);
  SAME(transfer_cache_bytes);
#undef SAME
}

/* What np_config_from_string should do: the model's own split and parse. */
static int model_apply(np_config *cfg, const char *s, unsigned *failed) {
  int first = NP_OK;
  *failed = 0;
  for (const char *p = s; *p;) {
    const char *e = strchr(p, ',');
    if (e == NULL) e = p + strlen(p);
    char item[4096];
    int rc = NP_OK;
    const char *c = memchr(p, ':', (size_t)(e - p));
    size_t len = (size_t)(e - p);
    int blank = 1;
    for (size_t i = 0; i < len; i++) blank &= is_blank(p[i]);
    if (blank) {
      rc = NP_OK;
    } else if (c == NULL) {
      rc = NP_ERR_CONFIG_VALUE;
    } else {
      char key[128], value[128];
      if (!trimmed(p, c, key, sizeof key)) {
        rc = NP_ERR_CONFIG_KEY;
      } else {
        np_config probe = *cfg;
        int krc = np_config_set(&probe, key, "");
        if (krc == NP_ERR_CONFIG_KEY) rc = NP_ERR_CONFIG_KEY;
        else if (!trimmed(c + 1, e, value, sizeof value)) rc = NP_ERR_CONFIG_VALUE;
        else rc = np_config_set(cfg, key, value) == NP_OK ? NP_OK : NP_ERR_CONFIG_VALUE;
      }
    }
    (void)item;
    if (rc != NP_OK) ++*failed;
    if (first == NP_OK) first = rc;
    p = *e ? e + 1 : e;
  }
  return first;
}

static void try_allocator(const np_config *cfg) {
  np_config c = *cfg;
  /* Keep one input's memory small: every setting's full range is still
   * validated by create below, only the sizes actually used are capped. */
  if (c.arenas > 8 || c.arenas == 0) c.arenas = 1 + c.arenas % 8;
  if (c.max_order > 11) c.max_order = 11;
  if (c.page_size > (64u << 10)) c.page_size = 64u << 10;
  c.stats_print = 0;
  np_allocator *a = (np_allocator *)(uintptr_t)0x1;
  int rc = np_allocator_create(&c, &a);
  if (rc != NP_OK) {
    FZ_CHECK(rc > NP_OK && rc < NP_ERR__COUNT, "create: code %d out of range", rc);
    FZ_CHECK(a == (np_allocator *)(uintptr_t)0x1, "create failed (%s) but wrote *out", np_strerror(rc));
    FZ_CHECK(np_strerror(rc) != NULL && np_strerror(rc)[0] != '\0', "no message for %d", rc);
    return;
  }
  FZ_CHECK(a != NULL, "create gave NP_OK and NULL");
  static const size_t sizes[] = {0, 1, 17, 500, 4096, 9000, 70000, 5u << 20};
  void *p[sizeof sizes / sizeof sizes[0]];
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    p[i] = np_alloc(a, sizes[i]);
    FZ_CHECK(p[i] != NULL, "np_alloc(%zu) failed: errno %d", sizes[i], errno);
    FZ_CHECK(np_usable_size(a, p[i]) >= sizes[i], "usable size below the request");
    if (c.alignment) FZ_CHECK((uintptr_t)p[i] % c.alignment == 0, "block not aligned to %zu", c.alignment);
    memset(p[i], 0xA5, sizes[i]);
  }
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    FZ_CHECK(np_free(a, p[i]) == NP_OK, "np_free of a live block refused");
  np_stats s;
  FZ_CHECK(np_allocator_stats(a, &s) == NP_OK, "stats");
  FZ_CHECK(s.small.active + s.normal.active + s.huge.active == 0, "active blocks after freeing all");
  np_allocator_destroy(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';

  np_config cfg = np_config_default(), model = np_config_default();
  reports r = {0, 0};
  unsigned failed;
  int expect = model_apply(&model, s, &failed);
  int rc = np_config_from_string(&cfg, s, on_report, &r);
  FZ_CHECK(rc == expect, "returned %d (%s), model %d (%s)", rc, np_strerror(rc), expect, np_strerror(expect));
  FZ_CHECK(r.n == failed, "%u reports for %u failing items", r.n, failed);
  expect_same(&cfg, &model);

  /* NPOOL_CONF: the same string through the environment (reports go to
   * stderr there, so only for some inputs: it is slow). */
  if (size > 0 && data[0] % 16 == 0) {
    setenv("NPOOL_CONF", s, 1);
    np_config env = np_config_from_env();
    unsetenv("NPOOL_CONF");
    expect_same(&env, &cfg);
  }

  try_allocator(&cfg);
  free(s);
  return 0;
}
