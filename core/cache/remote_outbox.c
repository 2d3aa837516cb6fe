/*
 * The outbox: a thread's frees of blocks that other threads' caches own,
 * batched per owner class (NP_REMOTE_HANDOVER_BATCH > 1: every strategy's
 * thread caches). Netty's design takes the owner queue's lock for every such
 * free; here the freeing thread collects up to NP_REMOTE_HANDOVER_BATCH blocks
 * for one (owner, class) in one of NP_OUTBOX_SLOTS slots (fewer for classes
 * whose arena refill is smaller: refill_count) and hands them over
 * with one np_remote_push_chain: one critical section (mutex) or one CAS (ck,
 * snmalloc's message passing) per batch.
 *
 *   slot = outbox[hash(owner id, class)]
 *   a block for another (owner, class) there: that batch goes first
 *   the block goes in front of the slot's chain (its first word links)
 *   np_outbox_batch(class) blocks: the batch goes
 *
 * A block whose owner is dead goes to the arena at once; a batch whose owner
 * died meanwhile, or what of it does not fit in the owner's list, goes to the
 * arena when it is sent. Blocks in an outbox are claimed (a second free of one is
 * refused) and counted as the freeing thread's remote_out, so the stats see
 * them cached, as blocks on a remote list. Nothing waits longer than the
 * freeing thread's next trim, flush or exit, which send everything; a fork
 * child drops the outboxes of threads that did not come along (their blocks
 * are lost to it, as those threads' stacks are).
 */
#include "core/cache/cache_internal.h"

static void send(np_caches *caches, np_tcache *mine, np_outbox_slot *s) {
  if (s->n == 0) return;
  void *rest = np_tcache_hand_over(caches, mine, s->owner, s->idx, s->first, s->n);
  if (rest) np_tcache_give_back_list(mine, s->idx, rest); /* (the chain ends in NULL) */
  s->n = 0;
  s->first = NULL;
}

bool np_outbox_add(np_caches *caches, np_tcache *mine, np_tcache *owner, unsigned idx, void *ptr) {
  if (!atomic_load_explicit(&owner->alive, memory_order_relaxed)) return 0;
  np_outbox_slot *s = &mine->outbox[np_outbox_slot_of((unsigned)owner->id, idx)];
  if (s->n && (s->owner != owner || s->idx != idx)) send(caches, mine, s);
  *(void **)ptr = s->first; /* np_remote's link: the first word */
  s->first = ptr;
  s->owner = owner;
  s->idx = idx;
  NP_STORE(&mine->classes[idx].remote_out, mine->classes[idx].remote_out + 1);
  if (++s->n >= np_outbox_batch(caches, idx)) send(caches, mine, s);
  return 1;
}

void np_outbox_send_all(np_caches *caches, np_tcache *mine) {
  for (unsigned i = 0; i < NP_OUTBOX_SLOTS; i++) send(caches, mine, &mine->outbox[i]);
}

void np_outbox_drop(np_tcache *mine) {
  for (unsigned i = 0; i < NP_OUTBOX_SLOTS; i++) {
    np_outbox_slot *s = &mine->outbox[i];
    if (s->n) NP_STORE(&mine->classes[s->idx].flushed, mine->classes[s->idx].flushed + s->n);
    s->n = 0;
    s->first = NULL;
  }
}
