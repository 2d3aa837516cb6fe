/*
 * A multi-threaded C program that uses the C library's allocation functions
 * the way real programs do, and checks every byte it gets: random sizes from
 * 0 to 1 MiB plus a few huge ones, every allocation function (malloc, calloc,
 * realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc, malloc_usable_size), blocks freed by other threads, threads that
 * start and exit all the time, and fork() while the others allocate (the
 * child allocates too, then exits).
 *
 * Built twice: as a plain program (malloc_stress), which
 * malloc_preload_test.sh runs under LD_PRELOAD=libnpool_malloc.so, and with
 * NP_STRESS_DIRECT (malloc_stress_test_<strategy>), which calls npool_*
 * directly, so that ASan, UBSan and TSan see npool's malloc code too.
 *
 * Prints "malloc_stress: ok, npool: yes|no" (whether the blocks are npool's),
 * exits 1 with a message on the first wrong byte or failed call.
 *   --foreign   also free (and realloc) pointers npool did not hand out: glibc's
 *               own malloc's, a stack address, a pointer inside a block
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef NP_STRESS_DIRECT
#include "npool_malloc.h"
#define malloc npool_malloc
#define free npool_free
#define calloc npool_calloc
#define realloc npool_realloc
#define reallocarray npool_reallocarray
#define posix_memalign npool_posix_memalign
#define aligned_alloc npool_aligned_alloc
#define memalign npool_memalign
#define valloc npool_valloc
#define pvalloc npool_pvalloc
#define malloc_usable_size npool_malloc_usable_size
#endif

#define THREADS 4
#define ROUNDS 3
#define OPS 20000
#define SLOTS 512

static void fail(const char *what, size_t n) {
  fprintf(stderr, "malloc_stress: FAILED: %s (%zu)\n", what, n);
  exit(1);
}

static uint64_t next_rand(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1Dull;
}

static size_t random_size(uint64_t *s) {
  uint64_t r = next_rand(s) % 1000;
  if (r < 700) return next_rand(s) % 512;           /* small */
  if (r < 950) return next_rand(s) % (32 << 10);    /* up to 32 KiB */
  if (r < 998) return next_rand(s) % (1 << 20);     /* up to 1 MiB */
  return (5u << 20) + next_rand(s) % (3u << 20);    /* huge: 5-8 MiB */
}

typedef struct block {
  unsigned char *p;
  size_t size;
  unsigned char tag;
} block;

static void fill(block *b) {
  /* first and last 64 bytes and every 4 KiB: enough to catch overlaps */
  for (size_t i = 0; i < b->size; i += (i < 64 || i + 64 >= b->size) ? 1 : 4096) b->p[i] = b->tag;
}

static void check(const block *b, const char *where) {
  for (size_t i = 0; i < b->size; i += (i < 64 || i + 64 >= b->size) ? 1 : 4096)
    if (b->p[i] != b->tag) fail(where, i);
}

/* A mailbox per thread: blocks that another thread must check and free. */
static pthread_mutex_t mailbox_lock = PTHREAD_MUTEX_INITIALIZER;
static block mailbox[THREADS][64];
static int mailbox_count[THREADS];

static void one_block(uint64_t *s, block *b) {
  size_t size = random_size(s);
  size_t align = (size_t)1 << (3 + next_rand(s) % 10); /* 8 B .. 4 KiB */
  void *p = NULL;
  switch (next_rand(s) % 8) {
    case 0: {
      p = calloc(1, size);
      for (size_t i = 0; p && i < size; i += 512)
        if (((unsigned char *)p)[i] != 0) fail("calloc not zeroed", i);
      break;
    }
    case 1:
      if (posix_memalign(&p, align, size) != 0) fail("posix_memalign", size);
      if ((uintptr_t)p % align) fail("posix_memalign alignment", align);
      break;
    case 2:
      p = aligned_alloc(align, size);
      if (p && (uintptr_t)p % align) fail("aligned_alloc alignment", align);
      break;
    case 3:
      p = memalign(align, size);
      if (p && (uintptr_t)p % align) fail("memalign alignment", align);
      break;
    case 4:
      p = next_rand(s) % 2 ? valloc(size) : pvalloc(size);
      if (p && (uintptr_t)p % 4096) fail("valloc alignment", size);
      break;
    default:
      p = malloc(size);
  }
  if (p == NULL) fail("allocation returned NULL", size);
  if (malloc_usable_size(p) < size) fail("usable size below the request", size);
  b->p = p;
  b->size = size;
  b->tag = (unsigned char)(1 + next_rand(s) % 255);
  fill(b);
}

static void *worker(void *arg) {
  int me = (int)(intptr_t)arg;
  uint64_t seed = 0x9E3779B97F4A7C15ull * (uint64_t)(me + 1);
  block slots[SLOTS];
  memset(slots, 0, sizeof slots);
  for (int op = 0; op < OPS; op++) {
    block *b = &slots[next_rand(&seed) % SLOTS];
    if (b->p) {
      check(b, "block changed while live");
      uint64_t what = next_rand(&seed) % 10;
      if (what == 0) { /* grow or shrink, keeping the contents */
        size_t size = random_size(&seed);
        unsigned char *q = next_rand(&seed) % 2 ? realloc(b->p, size) : reallocarray(b->p, 1, size);
        if (q == NULL && size) fail("realloc", size);
        if (size == 0) { b->p = NULL; continue; } /* realloc(p, 0) freed it */
        size_t keep = size < b->size ? size : b->size;
        b->p = q;
        for (size_t i = 0; i < keep && i < 64; i++)
          if (q[i] != b->tag) fail("realloc lost the contents", i);
        b->size = size;
        fill(b);
        continue;
      }
      if (what == 1) { /* to another thread, which checks and frees it */
        int to = (me + 1) % THREADS;
        pthread_mutex_lock(&mailbox_lock);
        if (mailbox_count[to] < 64) {
          mailbox[to][mailbox_count[to]++] = *b;
          b->p = NULL;
        }
        pthread_mutex_unlock(&mailbox_lock);
        if (b->p == NULL) continue;
      }
      free(b->p);
      b->p = NULL;
    } else {
      one_block(&seed, b);
    }
    if (op % 256 == 0) { /* what others sent */
      block got[64];
      pthread_mutex_lock(&mailbox_lock);
      int n = mailbox_count[me];
      memcpy(got, mailbox[me], (size_t)n * sizeof got[0]);
      mailbox_count[me] = 0;
      pthread_mutex_unlock(&mailbox_lock);
      for (int i = 0; i < n; i++) {
        check(&got[i], "block from another thread");
        free(got[i].p);
      }
    }
  }
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].p) {
      check(&slots[i], "block at the end");
      free(slots[i].p);
    }
  return NULL;
}

/* fork() while the workers run: the child must be able to allocate. */
static void fork_once(void) {
  pid_t pid = fork();
  if (pid < 0) fail("fork", (size_t)errno);
  if (pid == 0) {
    uint64_t seed = 42;
    for (int i = 0; i < 2000; i++) {
      block b;
      one_block(&seed, &b);
      check(&b, "child block");
      free(b.p);
    }
    _exit(0);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("fork child failed", (size_t)status);
}

/* Pointers that are not npool's: free and realloc must leave them alone. */
static void foreign_pointers(void) {
  void *(*libc_malloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "__libc_malloc");
  void (*libc_free)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "__libc_free");
  if (libc_malloc && libc_free) {
    char *theirs = libc_malloc(100);
    strcpy(theirs, "glibc's block");
    void *volatile alias = theirs; /* hides the "use after free" below from gcc: it is not one */
    free(alias);                    /* not npool's: left alone */
    errno = 0;
    if (realloc(alias, 200) != NULL || errno != EINVAL) fail("realloc of glibc's block", 0);
    if (strcmp(theirs, "glibc's block") != 0) fail("glibc's block changed", 0);
    libc_free(theirs);
  }
  int on_stack = 1;
  free(&on_stack);
  char *mine = malloc(64);
  strcpy(mine, "npool's block");
  free(mine + 16); /* inside a block */
  if (strcmp(mine, "npool's block") != 0) fail("interior free changed the block", 0);
  free(mine);
  char *again = malloc(64), *other = malloc(64);
  if (again == other) fail("a block handed out twice", 0);
  free(again);
  free(other);
  printf("malloc_stress: foreign pointers left alone\n");
}

int main(int argc, char **argv) {
  for (int round = 0; round < ROUNDS; round++) { /* new threads each round: thread exit */
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
      if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0) fail("pthread_create", i);
    fork_once();
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) /* what was sent after its owner finished */
      for (int k = 0; k < mailbox_count[i]; k++) {
        check(&mailbox[i][k], "block left in a mailbox");
        free(mailbox[i][k].p);
      }
    memset(mailbox_count, 0, sizeof mailbox_count);
  }
  volatile size_t too_much = SIZE_MAX; /* volatile: gcc warns about constant ones */
  errno = 0;
  if (malloc(too_much) != NULL || errno != ENOMEM) fail("malloc(SIZE_MAX)", 0);
  if (calloc(too_much / 2, 3) != NULL) fail("calloc overflow", 0);
  if (argc > 1 && strcmp(argv[1], "--foreign") == 0) foreign_pointers();
  /* Whose blocks these are: npool's usable size of a block npool made. */
  void *probe = malloc(100);
  size_t (*np_usable)(void *, const void *) = (size_t (*)(void *, const void *))dlsym(RTLD_DEFAULT, "np_usable_size");
  void *(*np_default)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "np_default_allocator");
  int npool = np_usable && np_default && np_usable(np_default(), probe) >= 100;
  free(probe);
  printf("malloc_stress: ok, npool: %s\n", npool ? "yes" : "no");
  return 0;
}
