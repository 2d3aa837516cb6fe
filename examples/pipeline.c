/*
 * Handing pooled buffers from one thread to another: a producer allocates
 * buffers and writes messages into them, a consumer reads, prints and
 * releases them. The release on the consumer's thread sends each buffer's
 * memory back to the producer's thread cache, where the producer's next
 * allocation finds it.
 *
 *   bazel run //examples:pipeline
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "npool_buf.h"

#define MESSAGES 5

/* A one-slot mailbox: the producer puts a buffer (NULL: the end), the
 * consumer takes it. The mutex also publishes the buffer's bytes. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static np_buf *slot;
static int slot_full;

static void put(np_buf *b) {
  pthread_mutex_lock(&lock);
  while (slot_full) pthread_cond_wait(&changed, &lock);
  slot = b;
  slot_full = 1;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
}

static np_buf *take(void) {
  pthread_mutex_lock(&lock);
  while (!slot_full) pthread_cond_wait(&changed, &lock);
  np_buf *b = slot;
  slot_full = 0;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
  return b;
}

static void *producer(void *arg) {
  static const char *const words[MESSAGES] = {"alpha", "beta", "gamma", "delta", "epsilon"};
  int *failed = arg;
  for (uint32_t i = 0; i < MESSAGES; i++) {
    np_buf *b = np_buf_alloc(np_default_allocator(), 32, 1024);
    if (b == NULL) {
      perror("np_buf_alloc");
      *failed = 1;
      break;
    }
    /* A message: sequence number, then a length-prefixed word. */
    uint16_t len = (uint16_t)strlen(words[i]);
    int rc = np_buf_write_u32(b, i);
    if (rc == NP_OK) rc = np_buf_write_u16(b, len);
    if (rc == NP_OK) rc = np_buf_write_bytes(b, words[i], len);
    if (rc != NP_OK) {
      fprintf(stderr, "producer: %s\n", np_strerror(rc));
      *failed = 1;
    }
    put(b); /* the consumer owns the reference from here */
  }
  put(NULL);
  return NULL;
}

static void *consumer(void *arg) {
  int *failed = arg;
  int released = 0;
  for (np_buf *b; (b = take()) != NULL;) {
    uint32_t seq;
    uint16_t len;
    char word[32];
    int rc = np_buf_read_u32(b, &seq);
    if (rc == NP_OK) rc = np_buf_read_u16(b, &len);
    if (rc == NP_OK && len >= sizeof word) rc = NP_ERR_INDEX;
    if (rc == NP_OK) rc = np_buf_read_bytes(b, word, len);
    if (rc != NP_OK) {
      fprintf(stderr, "consumer: %s\n", np_strerror(rc));
      *failed = 1;
    } else {
      word[len] = '\0';
      printf("consumer: message %u: %s\n", seq, word);
    }
    if (np_buf_release(b) == NP_OK) released++; /* allocated on the other thread */
  }
  printf("consumer: released %d buffers\n", released);
  return NULL;
}

int main(void) {
  int producer_failed = 0, consumer_failed = 0;
  pthread_t p, c;
  pthread_create(&c, NULL, consumer, &consumer_failed);
  pthread_create(&p, NULL, producer, &producer_failed);
  pthread_join(p, NULL);
  pthread_join(c, NULL);

  /* Every buffer was released, and both threads' caches emptied at their
   * exit: nothing of the default allocator is in use. */
  np_stats stats;
  if (np_allocator_stats(np_default_allocator(), &stats) == NP_OK)
    printf("blocks in use: %llu\n",
           (unsigned long long)(stats.small.active + stats.normal.active + stats.huge.active));
  return producer_failed || consumer_failed;
}
