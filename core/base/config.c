/*
 * Configuration: every np_config setting in one table (mimalloc's options
 * table is the model), read by np_config_default, np_config_set, the
 * "key:value,..." parser (jemalloc's MALLOC_CONF syntax) behind NPOOL_CONF, and
 * np_allocator_create's range checks.
 *
 *   NPOOL_CONF="page_size:16k,max_order:11,arenas:4,leak_detection:paranoid"
 *        │
 *        ├─ split at ','  ─>  "page_size:16k"  "max_order:11"  ...
 *        ├─ split at ':'  ─>  key "page_size", value "16k"
 *        ├─ key   ─> its np_option row (unknown: reported, skipped)
 *        └─ value ─> parsed by the row's type, checked against its own range
 *                    (bad: reported, the setting keeps what it had)
 *
 * A row knows only its own setting's range; how settings combine (chunk size
 * = page_size << max_order at most 1 GiB, alignment at most page_size) is
 * checked when the allocator is created.
 */
#define _GNU_SOURCE /* secure_getenv */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/base.h"

#define OPT(field, type, def, min, max, flags, error, description) \
  {#field, type, offsetof(np_config, field), def, min, max, flags, NULL, error, description}
/* An enum setting: its values are the indexes of `names`. */
#define OPT_ENUM(field, names, def, flags, error, description)                           \
  {#field, NP_OPT_ENUM, offsetof(np_config, field), def, 0, sizeof names / sizeof *names - 2, \
   flags, names, error, description}

static const char *const leak_names[] = {"disabled", "simple", "advanced", "paranoid", NULL};
static const char *const invalid_free_names[] = {"report", "abort", "ignore", NULL};
static const char *const placement_names[] = {"best_fit", "netty", NULL};
_Static_assert(sizeof(np_leak_level) == sizeof(int) && sizeof(np_invalid_free_mode) == sizeof(int) &&
                   sizeof(np_run_placement) == sizeof(int),
               "enum settings are stored as int");

const np_option np_options[] = {
    OPT(page_size, NP_OPT_SIZE, 8192, 4096, SIZE_MAX, NP_OPT_POW2, NP_ERR_PAGE_SIZE,
        "bytes per page"),
    OPT(max_order, NP_OPT_UINT, 9, 0, 14, 0, NP_ERR_MAX_ORDER,
        "chunk size = page_size << max_order (9: 4 MiB chunks; at most 1 GiB)"),
    OPT(alignment, NP_OPT_SIZE, 0, 0, SIZE_MAX, NP_OPT_POW2 | NP_OPT_OR_ZERO, NP_ERR_ALIGNMENT,
        "every block aligned to this, at most page_size (0: the size classes' own)"),
    OPT(arenas, NP_OPT_UINT, 0, 0, NP_MAX_ARENAS, 0, NP_ERR_ARENAS,
        "number of arenas (0: 2 x cores, capped so 3 chunks each fit in half the memory)"),
    OPT(release_empty_init_chunks, NP_OPT_BOOL, 0, 0, 1, 0, NP_ERR_CONFIG_VALUE,
        "also release a chunk that empties without leaving qInit (Netty keeps it)"),
    OPT(small_cache_size, NP_OPT_UINT, 256, 0, NP_MAX_CACHE_ENTRIES, 0, NP_ERR_CACHE,
        "thread-cache entries per small class (0: small blocks not cached)"),
    OPT(normal_cache_size, NP_OPT_UINT, 64, 0, NP_MAX_CACHE_ENTRIES, 0, NP_ERR_CACHE,
        "thread-cache entries per normal class (0: normal blocks not cached)"),
    OPT(max_cached_buffer_capacity, NP_OPT_SIZE, 32 * 1024, 0, SIZE_MAX, 0, NP_ERR_CACHE,
        "largest normal size the thread caches keep"),
    OPT(cache_trim_interval, NP_OPT_UINT, 8192, 1, UINT_MAX, 0, NP_ERR_CACHE,
        "cache lookups between two trims of a thread cache"),
    OPT(trim_low_water, NP_OPT_BOOL, 1, 0, 1, 0, NP_ERR_CONFIG_VALUE,
        "a trim frees at most the entries a class left unused since the last one (false: "
        "Netty's amount, capacity minus allocations)"),
    OPT(cache_refill_batch, NP_OPT_UINT, 0, 0, 64, 0, NP_ERR_CACHE,
        "blocks a cache miss takes from the arena at once (0: half the capacity, at most 64 "
        "small, 8 normal, and at most 32 KiB of blocks; 1: Netty's one)"),
    OPT(large_cache_bytes, NP_OPT_SIZE, 1024 * 1024, 0, SIZE_MAX, 0, NP_ERR_CACHE,
        "normal classes above max_cached_buffer_capacity up to this size are cached too, this "
        "many bytes of blocks per class (at least one; 0: not cached, Netty's)"),
    OPT_ENUM(leak_detection, leak_names, NP_LEAK_SIMPLE, NP_OPT_NUMBER_TOO, NP_ERR_LEAK_DETECTION,
             "leak detection of pooled buffers: disabled, simple, advanced, paranoid"),
    OPT(leak_sampling_interval, NP_OPT_UINT, 128, 1, UINT_MAX, 0, NP_ERR_LEAK_DETECTION,
        "simple and advanced leak detection track 1 buffer in this many"),
    OPT(stats_print, NP_OPT_BOOL, 0, 0, 1, 0, NP_ERR_CONFIG_VALUE,
        "print the stats (np_stats_print, human) to stderr when the allocator is destroyed "
        "(the default allocator: at process exit)"),
    OPT_ENUM(invalid_free, invalid_free_names, NP_INVALID_FREE_REPORT, 0, NP_ERR_CONFIG_VALUE,
        "npool's malloc given a pointer that is not a live block (double or invalid free): "
        "report (the first one, on stderr), abort (report it, then abort()) or ignore (count only)"),
    OPT(dirty_decay_ms, NP_OPT_UINT, 1000, 0, 3600000, 0, NP_ERR_CONFIG_VALUE,
        "milliseconds unused memory stays mapped and resident before it goes back to the system "
        "(emptied chunks and huge blocks: unmapped; free pages in chunks: madvised); 0: at once"),
    OPT(background_purge, NP_OPT_BOOL, 0, 0, 1, 0, NP_ERR_CONFIG_VALUE,
        "a background thread purges what is due (otherwise allocator activity does)"),
    OPT(retained_max, NP_OPT_SIZE, 256 * 1024 * 1024, 0, SIZE_MAX, 0, NP_ERR_CONFIG_VALUE,
        "bytes each arena keeps mapped for reuse (released chunks and huge blocks)"),
    OPT_ENUM(run_placement, placement_names, NP_PLACEMENT_BEST_FIT, 0, NP_ERR_CONFIG_VALUE,
             "where a run of pages goes: best_fit (the best-fitting free run of the arena, lowest "
             "address first: the fewest chunks) or netty (chunk lists q050, q025, q000, qInit, q075)"),
    OPT(cache_grow_bytes, NP_OPT_SIZE, 2 * 1024 * 1024, 0, SIZE_MAX, 0, NP_ERR_CACHE,
        "bytes of blocks a cache's classes may grow past their sizes when their stacks overflow "
        "(doubling, at most 8x; halved again by a trim that finds entries unused); 0: Netty's "
        "fixed capacities"),
    OPT(cache_max_bytes, NP_OPT_SIZE, 2 * 1024 * 1024, 0, SIZE_MAX, 0, NP_ERR_CACHE,
        "bytes of blocks one cache (a thread's, or a CPU's) may hold: a class that overflows past "
        "it does not grow and gives half back, and so does the class holding the most; 0: no bound "
        "but the classes' capacities"),
    OPT(transfer_cache_bytes, NP_OPT_SIZE, 64 * 1024, 0, SIZE_MAX, 0, NP_ERR_CACHE,
        "bytes of free blocks per size class kept between the per-CPU caches and the arenas "
        "(rseq: what one CPU's cache overflows with, another CPU's miss takes); 0: none"),
    OPT(exact_double_free, NP_OPT_BOOL, 0, 0, 1, 0, NP_ERR_CONFIG_VALUE,
        "two threads freeing one block at the same instant: exactly one succeeds (an atomic "
        "exchange per free; false: a plain load and store, which refuses every other double free)"),
};
const unsigned np_option_count = sizeof np_options / sizeof np_options[0];

const np_option *np_option_find(const char *name) {
  for (unsigned i = 0; i < np_option_count; i++)
    if (strcmp(np_options[i].name, name) == 0) return &np_options[i];
  return NULL;
}

uint64_t np_option_get(const np_config *c, const np_option *o) {
  const char *field = (const char *)c + o->offset;
  switch (o->type) {
    case NP_OPT_SIZE: return *(const size_t *)field;
    case NP_OPT_UINT: return *(const unsigned *)field;
    case NP_OPT_BOOL: return *(const int *)field != 0;
    case NP_OPT_ENUM: {
      int v = *(const int *)field;
      return v < 0 ? UINT64_MAX : (uint64_t)v;
    }
  }
  return 0;
}

static void option_put(np_config *c, const np_option *o, uint64_t v) {
  char *field = (char *)c + o->offset;
  switch (o->type) {
    case NP_OPT_SIZE: *(size_t *)field = (size_t)v; break;
    case NP_OPT_UINT: *(unsigned *)field = (unsigned)v; break;
    case NP_OPT_BOOL: *(int *)field = v != 0; break;
    case NP_OPT_ENUM: *(int *)field = (int)v; break;
  }
}

static int in_range(const np_option *o, uint64_t v) {
  if (v == 0 && (o->flags & NP_OPT_OR_ZERO)) return 1;
  if (v < o->min || v > o->max) return 0;
  return !(o->flags & NP_OPT_POW2) || np_is_pow2(v);
}

int np_config_check_each(const np_config *c) {
  for (unsigned i = 0; i < np_option_count; i++)
    if (!in_range(&np_options[i], np_option_get(c, &np_options[i]))) return np_options[i].error;
  return NP_OK;
}

np_config np_config_default(void) {
  np_config c;
  memset(&c, 0, sizeof c);
  for (unsigned i = 0; i < np_option_count; i++) option_put(&c, &np_options[i], np_options[i].def);
  return c;
}

/* ---- Reading values ------------------------------------------------------------ */

/* Decimal digits, then (sizes only) one of k K m M g G; nothing else. */
static int parse_number(const char *s, int suffix_ok, uint64_t *out) {
  uint64_t v = 0;
  const char *p = s;
  if (*p < '0' || *p > '9') return 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  if (*p && suffix_ok) {
    unsigned shift;
    switch (*p++) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      default: return 0;
    }
    if (v > (UINT64_MAX >> shift)) return 0;
    v <<= shift;
  }
  if (*p) return 0;
  *out = v;
  return 1;
}

static int parse_value(const np_option *o, const char *s, uint64_t *out) {
  uint64_t v;
  switch (o->type) {
    case NP_OPT_SIZE:
      if (!parse_number(s, 1, &v) || v > SIZE_MAX) return 0;
      break;
    case NP_OPT_UINT:
      if (!parse_number(s, 0, &v) || v > UINT_MAX) return 0;
      break;
    case NP_OPT_BOOL:
      if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) v = 1;
      else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) v = 0;
      else return 0;
      break;
    case NP_OPT_ENUM:
      for (v = 0; o->names[v]; v++)
        if (strcasecmp(s, o->names[v]) == 0) break;
      if (o->names[v] == NULL && !((o->flags & NP_OPT_NUMBER_TOO) && parse_number(s, 0, &v))) return 0;
      break;
    default: return 0;
  }
  if (!in_range(o, v)) return 0;
  *out = v;
  return 1;
}

int np_config_set(np_config *cfg, const char *key, const char *value) {
  if (cfg == NULL || key == NULL || value == NULL) return NP_ERR_NULL_ARGUMENT;
  const np_option *o = np_option_find(key);
  if (o == NULL) return NP_ERR_CONFIG_KEY;
  uint64_t v;
  if (!parse_value(o, value, &v)) return NP_ERR_CONFIG_VALUE;
  option_put(cfg, o, v);
  return NP_OK;
}

/* ---- Messages ------------------------------------------------------------------ */

static void format_value(const np_option *o, uint64_t v, char *buf, size_t n) {
  if (o->type == NP_OPT_BOOL) snprintf(buf, n, "%s", v ? "true" : "false");
  else if (o->type == NP_OPT_ENUM && v <= o->max) snprintf(buf, n, "%s", o->names[v]);
  else snprintf(buf, n, "%llu", (unsigned long long)v);
}

/* What a setting accepts, for a message: "a power of two, at least 4096". */
static void format_range(const np_option *o, char *buf, size_t n) {
  uint64_t type_max = o->type == NP_OPT_SIZE ? SIZE_MAX : UINT_MAX;
  const char *suffix = o->type == NP_OPT_SIZE ? "; k, m, g suffixes allowed" : "";
  if (o->type == NP_OPT_BOOL) snprintf(buf, n, "true, false, 1 or 0");
  else if (o->type == NP_OPT_ENUM) {
    size_t used = 0;
    buf[0] = 0;
    for (uint64_t i = 0; i <= o->max && used < n; i++)
      used += (size_t)snprintf(buf + used, n - used, "%s%s", i == 0 ? "" : i == o->max ? " or " : ", ",
                               o->names[i]);
  }
  else if (o->flags & NP_OPT_POW2) {
    char low[40] = "";
    if (o->min > 1) snprintf(low, sizeof low, ", at least %llu", (unsigned long long)o->min);
    snprintf(buf, n, "%sa power of two%s%s", o->flags & NP_OPT_OR_ZERO ? "0 or " : "", low, suffix);
  } else if (o->max == type_max) snprintf(buf, n, "a number, at least %llu%s", (unsigned long long)o->min, suffix);
  else snprintf(buf, n, "%llu to %llu%s", (unsigned long long)o->min, (unsigned long long)o->max, suffix);
}

static void report_stderr(void *ctx, const char *msg) {
  fprintf(stderr, "npool: %s%s\n", ctx ? (const char *)ctx : "", msg);
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

/* Copies [b, e) without surrounding blanks into buf (n bytes); 0 if it does not fit. */
static int copy_trimmed(const char *b, const char *e, char *buf, size_t n) {
  while (b < e && is_space(*b)) b++;
  while (e > b && is_space(e[-1])) e--;
  size_t len = (size_t)(e - b), keep = len < n ? len : n - 1;
  memcpy(buf, b, keep);
  buf[keep] = '\0';
  return len < n;
}

#define ITEM_MAX 128

/* One "key:value" item, [b, e) of the string. */
static int apply_item(np_config *cfg, const char *b, const char *e, void (*report)(void *, const char *),
                      void *ctx) {
  char item[ITEM_MAX], key[ITEM_MAX], value[ITEM_MAX], msg[512];
  copy_trimmed(b, e, item, sizeof item);
  if (item[0] == '\0') return NP_OK; /* empty item: ",," or a trailing comma */
  const char *colon = memchr(b, ':', (size_t)(e - b));
  if (colon == NULL) {
    snprintf(msg, sizeof msg, "\"%s\" is not key:value; ignored", item);
    report(ctx, msg);
    return NP_ERR_CONFIG_VALUE;
  }
  int key_fits = copy_trimmed(b, colon, key, sizeof key);
  int value_fits = copy_trimmed(colon + 1, e, value, sizeof value);
  const np_option *o = key_fits ? np_option_find(key) : NULL;
  if (o == NULL) {
    int len = snprintf(msg, sizeof msg, "unknown key \"%s\" ignored (keys:", key);
    for (unsigned i = 0; i < np_option_count && len > 0 && (size_t)len < sizeof msg; i++)
      len += snprintf(msg + len, sizeof msg - (size_t)len, " %s", np_options[i].name);
    if (len > 0 && (size_t)len < sizeof msg) snprintf(msg + len, sizeof msg - (size_t)len, ")");
    report(ctx, msg);
    return NP_ERR_CONFIG_KEY;
  }
  if (!value_fits || np_config_set(cfg, key, value) != NP_OK) {
    char range[96], kept[32];
    format_range(o, range, sizeof range);
    format_value(o, np_option_get(cfg, o), kept, sizeof kept);
    snprintf(msg, sizeof msg, "bad value \"%s%s\" for %s (%s); keeping %s", value, value_fits ? "" : "...",
             o->name, range, kept);
    report(ctx, msg);
    return NP_ERR_CONFIG_VALUE;
  }
  return NP_OK;
}

int np_config_from_string(np_config *cfg, const char *conf, void (*report)(void *ctx, const char *msg),
                          void *ctx) {
  if (cfg == NULL) return NP_ERR_NULL_ARGUMENT;
  if (report == NULL) {
    report = report_stderr;
    ctx = NULL;
  }
  int first = NP_OK;
  for (const char *p = conf; p && *p;) {
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    int rc = apply_item(cfg, p, end, report, ctx);
    if (first == NP_OK) first = rc;
    p = *end ? end + 1 : end;
  }
  return first;
}

np_config np_config_from_env(void) {
  np_config c = np_config_default();
  np_config_from_string(&c, secure_getenv("NPOOL_CONF"), report_stderr, (void *)"NPOOL_CONF: ");
  return c;
}
