/*
 * A program built against an installed npool with pkg-config only
 * (//:install_test):
 *   cc example.c $(pkg-config --cflags --libs npool)
 * Allocates and frees on its own allocator and the default one, fills and
 * reads a pooled buffer, checks the stats, prints "example.c: ok ..." and
 * exits 0; any failed check prints what and exits 1.
 */
#include <npool.h>
#include <npool_buf.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "example.c:%d: check failed: %s\n", __LINE__, #cond); \
      return 1;                                                           \
    }                                                                     \
  } while (0)

int main(void) {
  np_config cfg = np_config_default();
  CHECK(np_config_set(&cfg, "arenas", "2") == NP_OK);
  np_allocator *a = NULL;
  CHECK(np_allocator_create(&cfg, &a) == NP_OK && a != NULL);

  /* Small, normal and huge blocks, written through and freed. */
  static const size_t sizes[] = {1, 64, 500, 4096, 40000, 1 << 20, 5 << 20};
  void *p[sizeof sizes / sizeof *sizes];
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    p[i] = np_alloc(a, sizes[i]);
    CHECK(p[i] != NULL);
    CHECK(np_usable_size(a, p[i]) >= sizes[i]);
    memset(p[i], (int)i, sizes[i]);
  }
  np_stats st;
  CHECK(np_allocator_stats(a, &st) == NP_OK);
  CHECK(st.small.active + st.normal.active + st.huge.active == sizeof sizes / sizeof *sizes);
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    CHECK(((unsigned char *)p[i])[sizes[i] - 1] == (unsigned char)i);
    CHECK(np_free(a, p[i]) == NP_OK);
  }
  np_thread_cache_flush(a);
  CHECK(np_allocator_stats(a, &st) == NP_OK);
  CHECK(st.small.active + st.normal.active + st.huge.active == 0);
  int x;
  CHECK(np_free(a, &x) == NP_ERR_FOREIGN_POINTER);
  CHECK(strlen(np_strerror(NP_ERR_FOREIGN_POINTER)) > 0);
  np_allocator_destroy(a);

  /* A pooled buffer on the default allocator: grows, reads back, released. */
  np_buf *b = np_buf_alloc(np_default_allocator(), 16, NP_BUF_DEFAULT_MAX_CAPACITY);
  CHECK(b != NULL);
  for (uint32_t i = 0; i < 1000; i++) CHECK(np_buf_write_u32(b, i * 7u) == NP_OK);
  size_t readable = 0;
  CHECK(np_buf_readable_bytes(b, &readable) == NP_OK && readable == 4000);
  for (uint32_t i = 0; i < 1000; i++) {
    uint32_t v = 0;
    CHECK(np_buf_read_u32(b, &v) == NP_OK && v == i * 7u);
  }
  uint8_t extra;
  CHECK(np_buf_read_u8(b, &extra) == NP_ERR_INDEX);
  CHECK(np_buf_release(b) == NP_OK);
  CHECK(np_buf_write_u32(b, 1) == NP_ERR_REFCNT);

  printf("example.c: ok, strategy %s\n", np_strategy_name());
  return 0;
}
