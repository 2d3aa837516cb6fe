/*
 * A pooled buffer from the default allocator: write an int and a string,
 * read them back, print them, release the buffer, and see a use after
 * release refused.
 *
 *   bazel run //examples:hello_buffer
 */
#include <stdio.h>
#include <string.h>

#include "npool_buf.h"

int main(void) {
  np_buf *b = np_buf_alloc(np_default_allocator(), 16, NP_BUF_DEFAULT_MAX_CAPACITY);
  if (b == NULL) {
    perror("np_buf_alloc");
    return 1;
  }

  /* Write: an int, then a string with its length in front (big-endian). */
  const char *text = "hello, pooled buffers";
  uint32_t text_len = (uint32_t)strlen(text);
  int rc = np_buf_write_u32(b, 42);
  if (rc == NP_OK) rc = np_buf_write_u32(b, text_len);
  if (rc == NP_OK) rc = np_buf_write_bytes(b, text, text_len); /* grows past 16 */
  if (rc != NP_OK) {
    fprintf(stderr, "write: %s\n", np_strerror(rc));
    return 1;
  }
  size_t readable, capacity;
  np_buf_readable_bytes(b, &readable);
  np_buf_capacity(b, &capacity);
  printf("wrote %zu bytes (capacity %zu)\n", readable, capacity);

  /* Read them back in the same order. */
  uint32_t number, len;
  char str[64];
  rc = np_buf_read_u32(b, &number);
  if (rc == NP_OK) rc = np_buf_read_u32(b, &len);
  if (rc == NP_OK && len >= sizeof str) rc = NP_ERR_INDEX;
  if (rc == NP_OK) rc = np_buf_read_bytes(b, str, len);
  if (rc != NP_OK) {
    fprintf(stderr, "read: %s\n", np_strerror(rc));
    return 1;
  }
  str[len] = '\0';
  printf("int: %u\n", number);
  printf("string: %s\n", str);

  /* Reading past what was written is refused, and changes nothing. */
  rc = np_buf_read_u32(b, &number);
  printf("one more read: %s\n", np_strerror(rc));

  /* Release: the count goes from 1 to 0 and the memory back to the pool. */
  rc = np_buf_release(b);
  printf("release: %s\n", np_strerror(rc));
  rc = np_buf_write_u32(b, 7);
  printf("write after release: %s\n", np_strerror(rc));
  return 0;
}
