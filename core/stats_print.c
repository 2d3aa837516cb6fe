/*
 * np_stats_print: everything np_allocator_stats gives, and each arena's own
 * counters (np_allocator_arena_stats), as text for people or as one JSON
 * object for programs. Text mode shows only the small classes that have
 * subpages and only the arenas that were ever used; JSON shows every small
 * class, and each arena's classes that have subpages.
 *
 * Text, abridged:
 *
 *   npool stats: strategy mutex, caches per-thread
 *   allocator  4 arenas, page 8192 B, chunk 4194304 B, 68 size classes (39 small)
 *   ...
 *   kind         allocations  deallocations        active      active bytes
 *   small                 10              4             6               384
 *   ...
 *   list     usage %    chunks      free bytes  usage % of each chunk
 *   qInit      0..25         1         4169728  1
 *
 * JSON: the np_stats field names as keys; "lists" and "small_class" arrays;
 * "arena", one object per arena.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "npool.h"

typedef struct writer {
  FILE *f;
  int failed;
} writer;

static void put(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(writer *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (vfprintf(w->f, fmt, ap) < 0) w->failed = 1;
  va_end(ap);
}

typedef unsigned long long ull;

static uint64_t list_chunks(const np_stats *s) {
  uint64_t n = 0;
  for (int i = 0; i < NP_CHUNK_LISTS; i++) n += s->lists[i].chunks;
  return n;
}

static bool arena_idle(const np_stats *s) {
  return s->thread_caches == 0 && s->mapped_bytes == 0 && s->chunk_allocations == 0 &&
         s->small.allocations == 0 && s->normal.allocations == 0 && s->huge.allocations == 0;
}

/* ---- Text ------------------------------------------------------------------------ */

static void text_kind(writer *w, const char *name, const np_size_kind_stats *k) {
  put(w, "%-8s %16llu %14llu %13llu %17llu\n", name, (ull)k->allocations, (ull)k->deallocations,
      (ull)k->active, (ull)k->active_bytes);
}

static void text(np_allocator *a, writer *w) {
  np_stats s, as;
  if (np_allocator_stats(a, &s) != NP_OK) return;
  put(w, "npool stats: strategy %s, caches %s\n", s.strategy, s.cache_mode);
  if (s.per_cpu_unavailable[0]) put(w, "           per-CPU caches unavailable: %s\n", s.per_cpu_unavailable);
  put(w, "allocator  %u arenas, page %zu B, chunk %zu B, %u size classes (%u small)\n", s.arenas, s.page_size,
      s.chunk_size, s.size_classes, s.small_classes);
  put(w, "caches     %llu thread caches; %u entries per small class, %u per normal class up to %zu B; "
         "%llu B cached\n",
      (ull)s.thread_caches, s.small_cache_size, s.normal_cache_size, s.max_cached_buffer_capacity,
      (ull)s.cached_bytes);
  put(w, "memory     %llu B mapped; chunks %llu allocated, %llu deallocated; %llu invalid frees\n",
      (ull)s.mapped_bytes, (ull)s.chunk_allocations, (ull)s.chunk_deallocations, (ull)s.invalid_frees);
  put(w, "returning  %llu B retained, %llu B dirty, %llu B reused; %llu B purged in %llu purges\n",
      (ull)s.retained_bytes, (ull)s.dirty_bytes, (ull)s.reused_bytes, (ull)s.purged_bytes, (ull)s.purges);
  put(w, "where      cached %llu B: %llu thread, %llu remote, %llu per-CPU, %llu transfer; free %llu B in "
         "subpages, %llu B of pages resident, %llu B purged; %llu B past reused huge blocks; %llu B metadata\n",
      (ull)s.cached_bytes, (ull)s.thread_cached_bytes, (ull)s.remote_cached_bytes, (ull)s.cpu_cached_bytes,
      (ull)s.transfer_cached_bytes, (ull)s.subpage_free_bytes, (ull)s.chunk_free_dirty_bytes,
      (ull)s.chunk_free_purged_bytes, (ull)s.huge_tail_bytes, (ull)s.metadata_bytes);

  put(w, "\nkind         allocations  deallocations        active      active bytes\n");
  text_kind(w, "small", &s.small);
  text_kind(w, "normal", &s.normal);
  text_kind(w, "huge", &s.huge);

  put(w, "\nlist     usage %%    chunks      free bytes  usage %% of each chunk\n");
  for (int i = 0; i < NP_CHUNK_LISTS; i++) {
    const np_chunk_list_stats *l = &s.lists[i];
    put(w, "%-6s  %3d..%-3d %9llu %15llu", l->name, l->min_usage, l->max_usage, (ull)l->chunks,
        (ull)l->free_bytes);
    uint64_t shown = l->chunks < NP_STATS_MAX_CHUNKS ? l->chunks : NP_STATS_MAX_CHUNKS;
    for (uint64_t c = 0; c < shown; c++) put(w, " %u", l->usage[c]);
    if (shown) put(w, " ");
    if (l->chunks > shown) put(w, " (+%llu more)", (ull)(l->chunks - shown));
    put(w, "\n");
  }

  unsigned with_subpages = 0;
  for (unsigned i = 0; i < s.small_classes; i++) with_subpages += s.small_class[i].subpages != 0;
  if (with_subpages == 0) {
    put(w, "\nsmall classes: none has subpages\n");
  } else {
    put(w, "\nsmall classes with subpages\n");
    put(w, "class  elem size  run pages  elems/run   subpages    elements  free elements\n");
    for (unsigned i = 0; i < s.small_classes; i++) {
      const np_small_class_stats *c = &s.small_class[i];
      if (c->subpages == 0) continue;
      put(w, "%5u %10u %10u %10u %10llu %11llu %14llu\n", i, c->elem_size, c->run_pages, c->elems_per_run,
          (ull)c->subpages, (ull)c->elements, (ull)c->free_elements);
    }
  }

  put(w, "\narena  threads  small active  normal active  huge active  chunks  chunk allocs  "
         "chunk deallocs   mapped bytes\n");
  unsigned idle = 0;
  for (unsigned i = 0; i < s.arenas; i++) {
    if (np_allocator_arena_stats(a, i, &as) != NP_OK) continue;
    if (arena_idle(&as)) {
      idle++;
      continue;
    }
    put(w, "%5u %8llu %13llu %14llu %12llu %7llu %13llu %15llu %14llu\n", i, (ull)as.thread_caches,
        (ull)as.small.active, (ull)as.normal.active, (ull)as.huge.active, (ull)list_chunks(&as),
        (ull)as.chunk_allocations, (ull)as.chunk_deallocations, (ull)as.mapped_bytes);
  }
  if (idle) put(w, "(%u arenas never used, not shown)\n", idle);
  if (s.cached_bytes) put(w, "(an arena counts the blocks sitting in caches as active)\n");
}

/* ---- JSON ------------------------------------------------------------------------ */

static void json_string(writer *w, const char *str) {
  put(w, "\"");
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
    if (*p == '"' || *p == '\\') put(w, "\\%c", *p);
    else if (*p < 0x20) put(w, "\\u%04x", *p);
    else put(w, "%c", *p);
  }
  put(w, "\"");
}

static void json_kind(writer *w, const char *name, const np_size_kind_stats *k) {
  put(w, "\"%s\": {\"allocations\": %llu, \"deallocations\": %llu, \"active\": %llu, \"active_bytes\": %llu}",
      name, (ull)k->allocations, (ull)k->deallocations, (ull)k->active, (ull)k->active_bytes);
}

/* The counters an arena and the whole allocator both have. */
static void json_counters(writer *w, const np_stats *s, const char *indent) {
  put(w, "%s", indent);
  json_kind(w, "small", &s->small);
  put(w, ",\n%s", indent);
  json_kind(w, "normal", &s->normal);
  put(w, ",\n%s", indent);
  json_kind(w, "huge", &s->huge);
  put(w, ",\n%s\"thread_caches\": %llu, \"chunk_allocations\": %llu, \"chunk_deallocations\": %llu, "
         "\"mapped_bytes\": %llu,\n",
      indent, (ull)s->thread_caches, (ull)s->chunk_allocations, (ull)s->chunk_deallocations,
      (ull)s->mapped_bytes);
  put(w, "%s\"retained_bytes\": %llu, \"dirty_bytes\": %llu, \"reused_bytes\": %llu, \"purged_bytes\": %llu, "
         "\"purges\": %llu,\n",
      indent, (ull)s->retained_bytes, (ull)s->dirty_bytes, (ull)s->reused_bytes, (ull)s->purged_bytes,
      (ull)s->purges);
  put(w, "%s\"lists\": [", indent);
  for (int i = 0; i < NP_CHUNK_LISTS; i++) {
    const np_chunk_list_stats *l = &s->lists[i];
    put(w, "%s\n%s  {\"name\": ", i ? "," : "", indent);
    json_string(w, l->name);
    put(w, ", \"min_usage\": %d, \"max_usage\": %d, \"chunks\": %llu, \"free_bytes\": %llu, \"usage\": [",
        l->min_usage, l->max_usage, (ull)l->chunks, (ull)l->free_bytes);
    uint64_t shown = l->chunks < NP_STATS_MAX_CHUNKS ? l->chunks : NP_STATS_MAX_CHUNKS;
    for (uint64_t c = 0; c < shown; c++) put(w, "%s%u", c ? ", " : "", l->usage[c]);
    put(w, "]}");
  }
  put(w, "\n%s]", indent);
}

static void json_small_classes(writer *w, const np_stats *s, int only_used, const char *indent) {
  put(w, "%s\"small_class\": [", indent);
  int first = 1;
  for (unsigned i = 0; i < s->small_classes; i++) {
    const np_small_class_stats *c = &s->small_class[i];
    if (only_used && c->subpages == 0) continue;
    put(w, "%s\n%s  {\"index\": %u, \"elem_size\": %u, \"run_pages\": %u, \"elems_per_run\": %u, "
           "\"subpages\": %llu, \"elements\": %llu, \"free_elements\": %llu}",
        first ? "" : ",", indent, i, c->elem_size, c->run_pages, c->elems_per_run, (ull)c->subpages,
        (ull)c->elements, (ull)c->free_elements);
    first = 0;
  }
  put(w, "%s%s]", first ? "" : "\n", first ? "" : indent);
}

static void json(np_allocator *a, writer *w) {
  np_stats s, as;
  if (np_allocator_stats(a, &s) != NP_OK) return;
  put(w, "{\n  \"strategy\": ");
  json_string(w, s.strategy);
  put(w, ", \"cache_mode\": ");
  json_string(w, s.cache_mode);
  put(w, ", \"per_cpu_unavailable\": ");
  json_string(w, s.per_cpu_unavailable);
  put(w, ",\n  \"page_size\": %zu, \"chunk_size\": %zu, \"arenas\": %u, \"size_classes\": %u, "
         "\"small_classes\": %u,\n",
      s.page_size, s.chunk_size, s.arenas, s.size_classes, s.small_classes);
  put(w, "  \"small_cache_size\": %u, \"normal_cache_size\": %u, \"max_cached_buffer_capacity\": %zu, "
         "\"cached_bytes\": %llu, \"invalid_frees\": %llu,\n",
      s.small_cache_size, s.normal_cache_size, s.max_cached_buffer_capacity, (ull)s.cached_bytes,
      (ull)s.invalid_frees);
  put(w, "  \"thread_cached_bytes\": %llu, \"remote_cached_bytes\": %llu, \"cpu_cached_bytes\": %llu, "
         "\"transfer_cached_bytes\": %llu,\n  \"subpage_free_bytes\": %llu, \"chunk_free_dirty_bytes\": %llu, "
         "\"chunk_free_purged_bytes\": %llu, \"huge_tail_bytes\": %llu, \"metadata_bytes\": %llu,\n",
      (ull)s.thread_cached_bytes, (ull)s.remote_cached_bytes, (ull)s.cpu_cached_bytes,
      (ull)s.transfer_cached_bytes, (ull)s.subpage_free_bytes, (ull)s.chunk_free_dirty_bytes,
      (ull)s.chunk_free_purged_bytes, (ull)s.huge_tail_bytes, (ull)s.metadata_bytes);
  json_counters(w, &s, "  ");
  put(w, ",\n");
  json_small_classes(w, &s, 0, "  ");
  put(w, ",\n  \"arena\": [");
  for (unsigned i = 0; i < s.arenas; i++) {
    if (np_allocator_arena_stats(a, i, &as) != NP_OK) continue;
    put(w, "%s\n    {\"index\": %u,\n", i ? "," : "", i);
    json_counters(w, &as, "     ");
    put(w, ",\n");
    json_small_classes(w, &as, 1, "     ");
    put(w, "}");
  }
  put(w, "\n  ]\n}\n");
}

int np_stats_print(np_allocator *a, FILE *out, int as_json) {
  if (a == NULL || out == NULL) return NP_ERR_NULL_ARGUMENT;
  writer w = {out, 0};
  if (as_json) json(a, &w);
  else text(a, &w);
  if (fflush(out) != 0 || ferror(out)) w.failed = 1;
  return w.failed ? NP_ERR_OUTPUT : NP_OK;
}
