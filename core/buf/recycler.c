/*
 * The recycler of buffer objects (Netty's Recycler): per-thread free lists
 * with a shared depot behind them, over objects that are never freed.
 *
 *   thread A's list (LIFO, up to LOCAL_MAX)      the depot (mutex)
 *   head -> o7 -> o3 -> o9 -> ... ──spill──>      batch -> batch -> ...
 *        <──────────── refill (one batch) ────────  (each a chain of objects)
 *   empty list and empty depot: a new object from np_alloc of the private
 *   object allocator
 *
 * - put (a buffer was released, on whatever thread): push on the calling
 *   thread's list. When the list reaches LOCAL_MAX, its older half goes to
 *   the depot as one batch, so a thread that only releases (the consumer of a
 *   pipeline) feeds the threads that only allocate.
 * - get: pop the calling thread's list (the most recently released object
 *   first: allocating right after a release returns the same object), else
 *   take a batch from the depot, else a new object.
 * - thread exit: the thread's list goes to the depot as one batch.
 *
 * Objects are type-stable: they come from np_alloc of an allocator that is
 * never destroyed and are never freed, so the liveness check on a stale
 * np_buf pointer (buffer_internal.h) always reads an np_buf. The memory kept
 * is bounded by the most buffers and views live at once, plus up to LOCAL_MAX
 * free objects per thread. (An object released on a thread after that
 * thread's exit handler ran, by a later thread-exit handler, waits in the dead
 * thread's list for a further destructor pass: at worst it is never reused.)
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "buffer_internal.h"

#define LOCAL_MAX 1024
#define LOCAL_KEEP (LOCAL_MAX / 2) /* what a spill leaves on the thread */

typedef struct recycler {
  np_buf *head;
  size_t count;
  int exit_armed; /* the thread-exit handler will run */
} recycler;

static NP_BUF_TLS recycler tls_recycler;

static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static np_buf *depot; /* batches linked by batch_next */

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static np_allocator *object_alloc; /* __atomic (np_private_allocator) */

static void thread_exit(void *unused);

/* fork(): no other thread inside the depot while the process forks. */
static void depot_prefork(void) { pthread_mutex_lock(&depot_lock); }
static void depot_postfork(void) { pthread_mutex_unlock(&depot_lock); }

static void setup(void) {
  pthread_key_create(&exit_key, thread_exit);
  pthread_atfork(depot_prefork, depot_postfork, depot_postfork);
}

np_allocator *np_recycler_allocator(void) {
  pthread_once(&setup_once, setup);
  /* Objects are never freed: the lists above are their cache. */
  return np_private_allocator(&object_alloc);
}

/* Hands the chain head (len objects, linked by next) to the depot. */
static void depot_push(np_buf *head, size_t len) {
  head->batch_len = len;
  pthread_mutex_lock(&depot_lock);
  head->batch_next = depot;
  depot = head;
  pthread_mutex_unlock(&depot_lock);
}

static np_buf *depot_pop(size_t *len) {
  pthread_mutex_lock(&depot_lock);
  np_buf *batch = depot;
  if (batch) depot = batch->batch_next;
  pthread_mutex_unlock(&depot_lock);
  if (batch) *len = batch->batch_len;
  return batch;
}

static void thread_exit(void *unused) {
  (void)unused;
  recycler *r = &tls_recycler;
  if (r->head) depot_push(r->head, r->count);
  r->head = NULL;
  r->count = 0;
  r->exit_armed = 0; /* a later put re-arms it for the next destructor pass */
}

np_buf *np_recycler_get(void) {
  recycler *r = &tls_recycler;
  if (r->head == NULL) r->head = depot_pop(&r->count);
  np_buf *b = r->head;
  if (b) {
    r->head = b->next;
    r->count--;
    b->next = NULL;
    return b;
  }
  np_allocator *a = np_recycler_allocator(); /* errno ENOMEM when NULL */
  if (a == NULL) return NULL;
  b = np_alloc(a, sizeof(np_buf)); /* errno ENOMEM when NULL */
  if (b) memset(b, 0, sizeof *b);  /* gen 0: even, free */
  return b;
}

void np_recycler_put(np_buf *b) {
  recycler *r = &tls_recycler;
  if (!r->exit_armed) {
    pthread_once(&setup_once, setup);
    pthread_setspecific(exit_key, (void *)1);
    r->exit_armed = 1;
  }
  b->next = r->head;
  r->head = b;
  if (++r->count < LOCAL_MAX) return;
  /* Spill the older half: walk past the LOCAL_KEEP most recent. */
  np_buf *last_kept = r->head;
  for (size_t i = 1; i < LOCAL_KEEP; i++) last_kept = last_kept->next;
  np_buf *spill = last_kept->next;
  last_kept->next = NULL;
  depot_push(spill, r->count - LOCAL_KEEP);
  r->count = LOCAL_KEEP;
}
